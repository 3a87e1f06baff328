"""Profile a real uvicorn worker under load with py-spy, and summarize where the time goes.

Starts a fake upstream and ModelDesk (uvicorn, one worker, production settings),
sends closed-loop traffic with bench/loadgen.py while `py-spy record` samples the
worker, then prints the functions with the largest inclusive and own share of
the samples (idle samples excluded), and writes the flame graph and raw stacks
to var/bench/.

    python bench/profile_server.py [--seconds 20] [--concurrency 4] [--stream]
    python bench/profile_server.py --summarize var/bench/pyspy.txt   # re-read a capture
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import config as bench_config
from bench import measure
from bench.servers import PYTHON, VAR, install_cleanup, stop_all
from bench.stack import UPSTREAM_MODEL, Stack, uvicorn_server


def summarize(raw: Path, top: int = 45) -> str:
    """Inclusive and self sample shares per function from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("site-packages/")[-1] + ")"
                  if " (" in f else f for f in stack.split(";")]  # fmt: skip
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples (active threads only)", "", "inclusive %  function"]
    lines += [f"{n / total * 100:10.1f}  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "own %       function"]
    lines += [f"{n / total * 100:10.1f}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--summarize", type=Path, help="only summarize an existing raw capture")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(args.summarize))
        return 0
    pyspy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    install_cleanup()
    cfg = bench_config.load()
    stack = Stack(cfg)
    name = "pyspy-stream" if args.stream else "pyspy"
    try:
        stack.start_upstreams()
        env = stack.prepare_chat_db()
        server = uvicorn_server("modeldesk-profile", env, 1).start()
        target = measure.Target(
            "modeldesk", f"{server.base}/v1/chat/completions", f"bench-fast/{UPSTREAM_MODEL}", stack.key
        )
        body = target.body_file(args.stream)
        measure.loadgen(target.url, body=body, auth=target.auth, connections=4, requests=300, seconds=60)
        worker = server.worker_pids()[-1]
        result: dict = {}
        load = threading.Thread(
            target=lambda: result.update(
                measure.loadgen(
                    target.url, body=body, auth=target.auth, connections=args.concurrency, seconds=args.seconds + 2
                )
            )
        )
        load.start()
        raw = VAR / f"{name}.txt"
        for fmt, out in (("raw", raw),):
            subprocess.run(
                [pyspy, "record", "--pid", str(worker), "--duration", str(int(args.seconds)), "--rate",
                 str(args.rate), "--format", fmt, "--output", str(out), "--nonblocking"],
                check=True, timeout=args.seconds + 60, capture_output=True,
            )  # fmt: skip
        load.join()
        print(
            f"load: {result.get('requests')} requests, {result.get('rps')} req/s, "
            f"p50 {result.get('p50')} ms, errors {result.get('errors')}"
        )
        text = summarize(raw)
        (VAR / f"{name}-summary.txt").write_text(text)
        print(text)
        print(f"raw stacks: {raw} (flame graph: py-spy record --format flamegraph)")
    finally:
        stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
