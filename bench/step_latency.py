"""One optimisation step, measured: ModelDesk (one uvicorn worker) vs the fast upstream alone, with wrk.

What the "second round" table of bench/README.md was measured with: the fake
upstream and one worker on a scratch SQLite database (var/bench/step.sqlite3,
locmem cache, production settings), then rounds of wrk — the upstream alone for
3 s, then ModelDesk for 5 s — each printing p50/p99, requests per second, the
worker's CPU time per request (all its threads: the request-log writer too) and
the added p50. Run it on each commit to compare (`git checkout X && python
bench/step_latency.py`); needs wrk (`apt-get install wrk`).

    python bench/step_latency.py [--rounds 3] [--concurrency 1] [--stream] [--model echo/echo]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import config as bench_config
from bench.servers import ROOT, VAR, fake_upstream, install_cleanup, stop_all
from bench.stack import manage, product_env, uvicorn_server


def wrk(url: str, body_file: Path, key: str, seconds: int, concurrency: int) -> dict:
    env = {**os.environ, "WRK_BODY_FILE": str(body_file), "WRK_AUTH": key}
    script = str(ROOT / "bench" / "wrk" / "post.lua")
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "-s", script, url]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    return json.loads(out.split("WRKJSON ", 1)[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--model", default="fast/bench-model", help="e.g. echo/echo: no upstream call at all")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    install_cleanup()
    try:
        upstream = fake_upstream("step-upstream").start()
        env = product_env(bench_config.load(), f"sqlite:///{VAR}/step.sqlite3")
        env["CACHE_URL"] = "locmem://"
        manage(env, "migrate", "--noinput")
        key_file = VAR / "step.key"
        manage(env, "chat", "--key-file", str(key_file), "--upstream", f"fast={upstream.base}/v1",
               module="bench.setup_data")  # fmt: skip
        echo = (
            "from providers import services\nfrom providers.models import Provider\n"
            "if not Provider.objects.filter(slug='echo').exists():\n"
            "    p = services.provider_create(name='echo', slug='echo', kind='echo')\n"
            "    services.model_create(provider=p, model_id='echo', name='echo')\n"
        )
        manage(env, "shell", "-c", echo)
        key = key_file.read_text().strip()
        ours = uvicorn_server("step-modeldesk", env, workers=1).start()
        body = {"model": args.model, "messages": [{"role": "user", "content": "Say hello"}]}
        if args.stream:
            body["stream"] = True
        body_file = VAR / "step-body.json"
        body_file.write_text(json.dumps(body))
        url = f"{ours.base}/v1/chat/completions"
        wrk(url, body_file, key, 2, args.concurrency)  # warm-up
        for number in range(args.rounds):
            alone = wrk(f"{upstream.base}/v1/chat/completions", body_file, "", 3, args.concurrency)
            before = ours.cpu_seconds()
            seconds = 5
            result = wrk(url, body_file, key, seconds, args.concurrency)
            cpu = (ours.cpu_seconds() - before) / max(result["requests"], 1) * 1000
            errors = sum(result["errors"].values())
            up50, p50, p99 = (alone["latency_us"]["p50"], result["latency_us"]["p50"], result["latency_us"]["p99"])
            print(
                f"round {number}: upstream p50 {up50 / 1000:.3f} ms; ModelDesk p50 {p50 / 1000:.3f} ms, "
                f"p99 {p99 / 1000:.2f} ms, {result['requests'] / seconds:.0f} req/s, CPU {cpu:.3f} ms/req, "
                f"{errors} errors; added p50 {(p50 - up50) / 1000:.3f} ms",
                flush=True,
            )
            time.sleep(0.5)
    finally:
        stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
