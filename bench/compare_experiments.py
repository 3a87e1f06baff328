"""Before/after on real servers: ModelDesk as is vs with bench/experiments.py patches, side by side.

One uvicorn server per variant (same workers, same upstream, same database),
alternating round by round: closed loop at concurrency 1 (latency) and 16
(throughput), non-streamed. Prints a Markdown table (medians, min–max).

    python bench/compare_experiments.py --variant none --variant no-request-log [--seconds 4 --rounds 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import config as bench_config
from bench import measure
from bench.results import alternate, with_spread
from bench.servers import install_cleanup, stop_all
from bench.stack import UPSTREAM_MODEL, Stack, uvicorn_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", required=True, help="comma list of experiments, or none")
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, action="append", help="default: 1 and 16")
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    install_cleanup()
    cfg = bench_config.load()
    stack = Stack(cfg)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    try:
        stack.start_upstreams()
        env = stack.prepare_chat_db()
        targets = []
        for i, variant in enumerate(args.variant):
            experiment = "" if variant == "none" else variant
            server = uvicorn_server(
                f"variant-{i}",
                {**env, "BENCH_EXPERIMENT": experiment},
                args.workers,
                "bench.experiment_asgi:application",
            ).start(timeout=300)
            targets.append(
                measure.Target(
                    variant,
                    f"{server.base}/v1/chat/completions",
                    f"bench-fast/{UPSTREAM_MODEL}",
                    stack.key,
                    server=server,
                )
            )
        for t in targets:  # warm-up
            measure.loadgen(t.url, body=t.body_file(args.stream), auth=t.auth, connections=4, requests=200, seconds=60)
        rows = [
            "| variant | c | req/s | p50 ms | p99 ms | server CPU ms/req | errors |",
            "|---|---|---|---|---|---|---|",
        ]
        for conns in args.concurrency or [1, 16]:
            log(f"c={conns}")
            results = alternate(
                targets,
                args.rounds,
                lambda t, c=conns: measure.closed(t, connections=c, seconds=args.seconds, stream=args.stream),
                log,
            )
            for name, res in results.items():
                rows.append(
                    f"| {name} | {conns} | {with_spread([r.get('rps') for r in res], 1)} | "
                    f"{with_spread([r.get('p50') for r in res], 3)} | {with_spread([r.get('p99') for r in res], 2)} | "
                    f"{with_spread([r.get('cpu_ms') for r in res], 3)} | "
                    f"{sum(int(r.get('errors') or 0) for r in res)} |"
                )
        print("\n".join(rows))
    finally:
        stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
