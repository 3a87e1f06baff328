"""A Redis freeze under load, measured: what one uvicorn worker answers while its cache is stopped.

Starts its own `redis-server` on a free port (never the shared one), a scratch
SQLite database (var/bench/outage.sqlite3) with the local `echo` provider and a
key, and one uvicorn worker with CACHE_URL at that Redis. Then:

1. c=1 latency of `POST /v1/chat/completions` (echo: no upstream) over a warm cache;
2. a bounded load (`--clients` closed loops) while Redis is stopped (SIGSTOP) for
   `--freeze` seconds, `/healthz` probed every 100 ms: its latency, the answers
   (by status) during the freeze, and the log lines / tracebacks the worker wrote.

    python bench/cache_outage.py [--requests 2000] [--clients 8] [--freeze 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2

from bench import config as bench_config
from bench.servers import VAR, free_port, install_cleanup, stop_all
from bench.stack import manage, product_env, uvicorn_server

BODY = {"model": "echo/echo", "messages": [{"role": "user", "content": "Say hello"}]}
SETUP = (
    "from providers import services\nfrom providers.models import Provider\n"
    "if not Provider.objects.filter(slug='echo').exists():\n"
    "    p = services.provider_create(name='echo', slug='echo', kind='echo')\n"
    "    services.model_create(provider=p, model_id='echo', name='echo')\n"
)


def start_redis() -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def latency_c1(url: str, key: str, requests: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"}
    times = []
    with httpx2.Client(timeout=30) as client:
        for _ in range(200):
            client.post(url, json=BODY, headers=headers)
        for _ in range(requests):
            began = time.perf_counter()
            response = client.post(url, json=BODY, headers=headers)
            times.append(time.perf_counter() - began)
            assert response.status_code == 200, response.text
    times.sort()
    return {
        "p50_ms": statistics.median(times) * 1000,
        "p90_ms": times[int(len(times) * 0.9)] * 1000,
        "p99_ms": times[int(len(times) * 0.99)] * 1000,
    }


async def outage(base: str, key: str, redis: subprocess.Popen, clients: int, freeze: float) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    statuses: Counter[str] = Counter()
    health: list[float] = []
    window = {"start": 0.0, "end": 0.0}
    stop = asyncio.Event()

    async def client_loop(client: httpx2.AsyncClient) -> None:
        while not stop.is_set():
            began = time.monotonic()
            try:
                response = await client.post(f"{base}/v1/chat/completions", json=BODY, headers=headers)
                outcome = str(response.status_code)
            except httpx2.HTTPError as exc:
                outcome = type(exc).__name__
            if window["start"] and began >= window["start"] and began < window["end"]:
                statuses[outcome] += 1

    async def probe(client: httpx2.AsyncClient) -> None:
        while not stop.is_set():
            began = time.monotonic()
            if window["start"] and began < window["end"]:
                await client.get(f"{base}/healthz")
                health.append(time.monotonic() - began)
            await asyncio.sleep(0.1)

    async with httpx2.AsyncClient(timeout=60) as client, httpx2.AsyncClient(timeout=60) as prober:
        tasks = [asyncio.create_task(client_loop(client)) for _ in range(clients)]
        tasks.append(asyncio.create_task(probe(prober)))
        await asyncio.sleep(2)
        window["start"], window["end"] = time.monotonic(), time.monotonic() + freeze
        os.kill(redis.pid, signal.SIGSTOP)
        await asyncio.sleep(freeze)
        os.kill(redis.pid, signal.SIGCONT)
        await asyncio.sleep(3)
        stop.set()
        await asyncio.gather(*tasks)
        after = await client.post(f"{base}/v1/chat/completions", json=BODY, headers=headers)
    return {
        "answers_during_freeze": dict(statuses),
        "healthz_max_ms": max(health) * 1000 if health else None,
        "healthz_p50_ms": statistics.median(health) * 1000 if health else None,
        "healthz_probes": len(health),
        "status_after": after.status_code,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--freeze", type=float, default=5.0)
    args = parser.parse_args()
    install_cleanup()
    redis, port = start_redis()
    try:
        db = VAR / "outage.sqlite3"
        db.unlink(missing_ok=True)
        env = product_env(bench_config.load(), f"sqlite:///{db}")
        env["CACHE_URL"] = f"redis://127.0.0.1:{port}/0"
        manage(env, "migrate", "--noinput")
        key_file = VAR / "outage.key"
        key_file.unlink(missing_ok=True)
        manage(env, "chat", "--key-file", str(key_file), "--upstream", "unused=http://127.0.0.1:9/v1",
               module="bench.setup_data")  # fmt: skip
        manage(env, "shell", "-c", SETUP)
        key = key_file.read_text().strip()
        server = uvicorn_server("outage-modeldesk", env, workers=1)
        log_start = server.log_path.stat().st_size if server.log_path.exists() else 0
        server.start()
        print("c=1:", {k: round(v, 3) for k, v in latency_c1(f"{server.base}/v1/chat/completions", key,
                                                               args.requests).items()}, flush=True)  # fmt: skip
        print("freeze:", asyncio.run(outage(server.base, key, redis, args.clients, args.freeze)), flush=True)
        server.stop()
        log = server.log_path.read_bytes()[log_start:].decode(errors="replace")
        print("log lines:", log.count("\n"), "tracebacks:", log.count("Traceback"))
        print("first log lines:", log.splitlines()[:6])
    finally:
        stop_all()
        if redis.poll() is None:
            os.kill(redis.pid, signal.SIGCONT)
            redis.terminate()
            redis.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
