"""Profile the /v1/chat/completions hot path in-process: the ASGI app called directly, no HTTP server.

Starts a fake upstream, prepares the benchmark database (as `make bench` does),
imports `configsite.asgi.application` with production settings, and drives it
with synthetic ASGI messages: sequential requests, so the per-request time is the
app's own cost plus one round trip to the upstream. Prints the mean time per
request and writes a pyinstrument profile (text and HTML) to var/bench/.

    python bench/profile_hotpath.py [--requests 3000] [--stream] [--no-profile]

For the whole server (uvicorn's HTTP parsing included), use py-spy on a worker:
    py-spy record --pid <uvicorn worker pid> --duration 20 --rate 250 -o var/bench/pyspy.svg
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import config as bench_config
from bench import experiments
from bench.experiments import NAMES
from bench.servers import VAR, install_cleanup, stop_all
from bench.stack import UPSTREAM_MODEL, Stack


def scope(path: str, body: bytes, key: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {key}".encode()),
            (b"user-agent", b"bench"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(app, path: str, body: bytes, key: str) -> tuple[int, bytes]:
    sent = False
    forever = asyncio.get_running_loop().create_future()
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await forever  # the client never disconnects; Django cancels this listener

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope(path, body, key), receive, send)
    return status, b"".join(chunks)


CPU: dict[str, float] = {}


async def drive(app, body: bytes, key: str, n: int) -> list[float]:
    """n sequential requests; their wall times (returned) and the process's CPU time per request (CPU)."""
    times = []
    cpu0 = time.process_time()
    for _ in range(n):
        t0 = time.perf_counter()
        status, answer = await call(app, "/v1/chat/completions", body, key)
        times.append(time.perf_counter() - t0)
        if status != 200:
            raise SystemExit(f"status {status}: {answer[:300]!r}")
    CPU["per_request_ms"] = (time.process_time() - cpu0) / n * 1000
    return times


async def upstream_only(url: str, body: bytes, n: int) -> list[float]:
    """The same requests straight to the upstream with the openai SDK's HTTP client, for the difference."""
    import httpx2

    times = []
    cpu0 = time.process_time()
    async with httpx2.AsyncClient() as client:
        for _ in range(n):
            t0 = time.perf_counter()
            resp = await client.post(url, content=body, headers={"content-type": "application/json"})
            await resp.aread()
            times.append(time.perf_counter() - t0)
    CPU["upstream_only_ms"] = (time.process_time() - cpu0) / n * 1000
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--experiment",
        action="append",
        default=[],
        help=f"apply a candidate optimisation in this process only (bench/experiments.py): {', '.join(NAMES)}",
    )
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="cProfile on CPU time (time.process_time) instead of pyinstrument: robust on a busy machine",
    )
    args = parser.parse_args()
    install_cleanup()
    cfg = bench_config.load()
    stack = Stack(cfg)
    try:
        stack.start_upstreams()
        env = stack.prepare_chat_db()
        os.environ.update(env)
        import django

        django.setup()
        experiments.apply(args.experiment)
        from configsite.asgi import application

        payload = {
            "model": f"bench-fast/{UPSTREAM_MODEL}",
            "messages": [{"role": "user", "content": "Say hello in five words."}],
            "max_tokens": 32,
        }
        if args.stream:
            payload["stream"] = True
        body = json.dumps(payload).encode()
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run

        async def session() -> dict:
            await drive(application, body, stack.key, 200)  # warm: snapshot, key, SDK client, connections
            base = await upstream_only(f"{stack.upstreams['bench-fast'].base}/v1/chat/completions", body, 500)
            plain = await drive(application, body, stack.key, args.requests)
            cpu = CPU["per_request_ms"]
            profiler = None
            if args.cprofile:
                import cProfile

                profiler = cProfile.Profile(time.process_time)
                profiler.enable()
                await drive(application, body, stack.key, args.requests)
                profiler.disable()
            elif not args.no_profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0002, async_mode="enabled")
                profiler.start()
                await drive(application, body, stack.key, args.requests)
                profiler.stop()
            return {"base": base, "plain": plain, "profiler": profiler, "cpu": cpu}

        out = runner(session())
        med_app = statistics.median(out["plain"]) * 1000
        med_base = statistics.median(out["base"]) * 1000
        print(f"in-process app, {args.requests} sequential requests (stream={args.stream}):")
        print(f"  median {med_app:.3f} ms, mean {statistics.mean(out['plain']) * 1000:.3f} ms per request")
        print(f"  upstream alone through httpx2: median {med_base:.3f} ms, CPU {CPU['upstream_only_ms']:.3f} ms")
        print(f"  app's own median cost ≈ {med_app - med_base:.3f} ms")
        print(f"  CPU time of the process per request: {out['cpu']:.3f} ms (robust on a busy machine)")
        if args.cprofile:
            import io
            import pstats

            name = "cprofile-stream" if args.stream else "cprofile"
            out["profiler"].dump_stats(str(VAR / f"{name}.prof"))
            buf = io.StringIO()
            stats = pstats.Stats(out["profiler"], stream=buf).sort_stats("cumulative")
            stats.print_stats(60)
            stats.sort_stats("tottime").print_stats(40)
            (VAR / f"{name}.txt").write_text(buf.getvalue())
            print(buf.getvalue()[:20000])
            print(f"CPU-time profile written to {VAR / name}.txt and .prof")
        elif out["profiler"] is not None:
            name = "profile-stream" if args.stream else "profile"
            text = out["profiler"].output_text(unicode=True, color=False, show_all=False)
            (VAR / f"{name}.txt").write_text(text)
            (VAR / f"{name}.html").write_text(out["profiler"].output_html())
            print(text[:12000])
            print(f"profile written to {VAR / name}.txt and .html")
    finally:
        try:
            from chat import request_log

            request_log.flush()
        except Exception as exc:  # the profile is already printed; report why the flush failed
            print(f"request log flush: {exc}", file=sys.stderr)
        stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
