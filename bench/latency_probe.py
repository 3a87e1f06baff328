"""What the gateway adds: /v1/chat/completions through ModelDesk vs. the same upstream called directly.

Starts, as subprocesses on 127.0.0.1, the fast fake upstream (bench/fake_upstream.py)
and one uvicorn worker serving `configsite.asgi:application` on a scratch SQLite
database (var/bench/probe/), with an openai_compatible provider pointing at the
upstream. Then, from this process, over one keep-alive connection each:

- non-streamed: N requests alternating direct / through the gateway; the added
  latency is the median of the per-pair differences (and the two medians);
- streamed: N requests each way; time to the first `data:` event (TTFB).

With `--compare-middleware` a second gateway serves `configsite.asgi:django_application`
(every request through the full middleware stack) for comparison.

Usage: python bench/latency_probe.py [--requests 200] [--compare-middleware]
Prints one JSON document (milliseconds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.servers import VAR, Server, free_port, install_cleanup, stop_all  # noqa: E402

PROBE = VAR / "probe"
ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "latency-probe-secret-key-0123456789abcdef0123456789",
    "FIELD_ENCRYPTION_KEYS": "bW9kZWxkZXNrLXRlc3Qta2V5LTAwMDAwMDAwMDAwMDA=",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DATABASE_URL": f"sqlite:///{PROBE / 'db.sqlite3'}",
    "CACHE_URL": "locmem://",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "configsite.settings",
}


def _prepare(upstream: str) -> str:
    shutil.rmtree(PROBE, ignore_errors=True)
    PROBE.mkdir(parents=True)
    env = {**os.environ, **ENV}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    key_file = PROBE / "key"
    subprocess.run(
        [sys.executable, "-m", "bench.setup_data", "chat", "--upstream", f"probe={upstream}/v1",
         "--model-id", "probe-model", "--key-file", str(key_file)],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return key_file.read_text().strip()


def _gateway(name: str, app: str) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
           "--no-access-log", "--log-level", "warning"]  # fmt: skip
    return Server(name, cmd, port, env=ENV, ready_path="/healthz").start()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": _ms(statistics.median(ordered)),
        "p90": _ms(ordered[int(len(ordered) * 0.9) - 1]),
        "min": _ms(ordered[0]),
    }


def _timed(client: httpx2.Client, url: str, body: dict, headers: dict) -> float:
    started = time.perf_counter()
    response = client.post(url, json=body, headers=headers)
    response.raise_for_status()
    response.read()
    return time.perf_counter() - started


def _ttfb(client: httpx2.Client, url: str, body: dict, headers: dict) -> float:
    started = time.perf_counter()
    with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        first = None
        for chunk in response.iter_bytes():
            if first is None and b"data:" in chunk:
                first = time.perf_counter() - started
        if first is None:
            raise RuntimeError("no data: event received")
        return first


def probe(n: int, compare_middleware: bool) -> dict:
    install_cleanup()
    upstream_port = free_port()
    upstream = Server(
        "probe-upstream",
        [sys.executable, "bench/fake_upstream.py", "--port", str(upstream_port), "--chunks", "10"],
        upstream_port,
        ready_path="/__stats",
    ).start()
    key = _prepare(upstream.base)
    gateways = {"fast_path": _gateway("probe-gateway", "configsite.asgi:application")}
    if compare_middleware:
        gateways["full_middleware"] = _gateway("probe-gateway-mw", "configsite.asgi:django_application")
    body = {"model": "probe/probe-model", "messages": [{"role": "user", "content": "Say hello."}]}
    direct_body = {**body, "model": "probe-model"}
    direct_url = f"{upstream.base}/v1/chat/completions"
    auth = {"Authorization": f"Bearer {key}"}
    upstream_auth = {"Authorization": "Bearer sk-bench-upstream-key"}
    results: dict = {"requests": n}
    with httpx2.Client(timeout=30) as direct_client:
        for name, gateway in gateways.items():
            url = f"{gateway.base}/v1/chat/completions"
            with httpx2.Client(timeout=30) as client:
                for _ in range(20):  # warm: key cache, snapshot, SDK client, connections
                    _timed(client, url, body, auth)
                    _timed(direct_client, direct_url, direct_body, upstream_auth)
                direct, through = [], []
                for _ in range(n):
                    direct.append(_timed(direct_client, direct_url, direct_body, upstream_auth))
                    through.append(_timed(client, url, body, auth))
                stream_body = {**body, "stream": True}
                direct_ttfb = [_ttfb(direct_client, direct_url, {**direct_body, "stream": True}, upstream_auth)
                               for _ in range(n)]  # fmt: skip
                gateway_ttfb = [_ttfb(client, url, stream_body, auth) for _ in range(n)]
            results[name] = {
                "non_streamed": {
                    "direct": _summary(direct),
                    "through_gateway": _summary(through),
                    "added_median_of_pairs": _ms(statistics.median(map(float.__sub__, through, direct))),
                },
                "streamed_ttfb": {"direct": _summary(direct_ttfb), "through_gateway": _summary(gateway_ttfb)},
            }
    stop_all()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--compare-middleware", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.requests, args.compare_middleware), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
