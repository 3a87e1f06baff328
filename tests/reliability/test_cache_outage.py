"""A Redis that hangs (SIGSTOP) must not freeze the gateway (issue 14, item 6).

The test starts its OWN `redis-server` on a free port (never the shared one) and a
gateway process (uvicorn) with CACHE_URL at it, sends a bounded load through the
`openai` SDK, stops Redis for longer than the outage grace, and checks: `/healthz`
stays fast; requests are answered from the last snapshot and the keys the process
knows within the grace, and with 503 + Retry-After past it; the log has one line for
the outage and one for the recovery (no traceback); after SIGCONT all is served again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest
from django.conf import settings
from django.db import connection

from tests import factories
from tests.reliability.test_several_processes import ServerProcess

pytestmark = pytest.mark.django_db(transaction=True)
GRACE_SECONDS = 3
FREEZE_SECONDS = 6
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def own_redis() -> Iterator[tuple[subprocess.Popen, int]]:
    """A redis-server of this test's own, on a free port; resumed and stopped at the end whatever happens."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: the cache-outage test needs its own Redis to stop")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield process, port
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"  # the test database file (tests/settings.py), committed to
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def gateway_on_own_redis(own_redis) -> Iterator[tuple[ServerProcess, subprocess.Popen]]:
    process, port = own_redis
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(settings.BASE_DIR / "var")),
        "DJANGO_SETTINGS_MODULE": "configsite.settings",
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": _database_url(),
        "CACHE_URL": f"redis://127.0.0.1:{port}/0",
        "CACHE_OUTAGE_GRACE_SECONDS": str(GRACE_SECONDS),
    }
    server = ServerProcess(env)
    try:
        server.wait_ready()
        yield server, process
    finally:
        server.stop()


async def _load(url: str, key: str, redis: subprocess.Popen) -> dict:
    """Four clients in closed loops, /healthz every 50 ms; Redis stopped from 1 s to 1 s + FREEZE_SECONDS."""
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)
    answers: list[tuple[float, int, str | None]] = []  # (seconds since the freeze, status, Retry-After)
    health: list[float] = []
    frozen_at = 0.0
    done = asyncio.Event()

    async def ask() -> None:
        while not done.is_set():
            began = time.monotonic()
            try:
                await client.chat.completions.create(model="echo/echo", messages=HI)
                status, retry_after = 200, None
            except openai.APIStatusError as exc:
                status, retry_after = exc.status_code, exc.response.headers.get("retry-after")
            if frozen_at:
                answers.append((began - frozen_at, status, retry_after))

    async def probe(http: httpx2.AsyncClient) -> None:
        while not done.is_set():
            began = time.monotonic()
            assert (await http.get(f"{url}/healthz")).status_code == 200
            if frozen_at and began - frozen_at < FREEZE_SECONDS:
                health.append(time.monotonic() - began)
            await asyncio.sleep(0.05)

    async with httpx2.AsyncClient(timeout=30) as http:
        tasks = [asyncio.create_task(ask()) for _ in range(4)] + [asyncio.create_task(probe(http))]
        await asyncio.sleep(1)
        os.kill(redis.pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        await asyncio.sleep(2)
        began = time.monotonic()
        not_ready = await http.get(f"{url}/readyz")
        readyz_seconds = time.monotonic() - began
        await asyncio.sleep(FREEZE_SECONDS - (time.monotonic() - frozen_at))
        os.kill(redis.pid, signal.SIGCONT)
        await asyncio.sleep(2)
        ready = (await http.get(f"{url}/readyz")).json()
        done.set()
        await asyncio.gather(*tasks)
    await client.close()
    return {
        "answers": answers,
        "health": health,
        "ready_after": ready,
        "not_ready": (not_ready.status_code, not_ready.json(), readyz_seconds),
    }


def test_a_hung_redis_does_not_freeze_the_gateway(gateway_on_own_redis, echo_model):
    server, redis = gateway_on_own_redis
    _, key = factories.make_api_key(scopes=("chat",))
    openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0).chat.completions.create(
        model="echo/echo", messages=HI
    )  # the gateway now holds the snapshot and knows the key

    result = asyncio.run(_load(server.url, key, redis))
    server.stop()
    log = server.process.stdout.read().decode(errors="replace")

    answers, health = result["answers"], result["health"]
    print(f"/healthz during the freeze: max {max(health) * 1000:.1f} ms over {len(health)} probes")
    assert health and max(health) < 0.5, max(health)
    # The first requests wait one bounded cache timeout (0.5 s), then the breaker answers at once.
    within = [status for at, status, _ in answers if at < GRACE_SECONDS]
    assert len(within) > 20 and set(within) == {200}, within
    beyond = [(status, retry) for at, status, retry in answers if GRACE_SECONDS + 1 < at < FREEZE_SECONDS]
    assert beyond and set(beyond) == {(503, "5")}, set(beyond)
    after = [status for at, status, _ in answers if at > FREEZE_SECONDS + 1.5]
    assert after and set(after) == {200}, after
    status, body, seconds = result["not_ready"]
    assert status == 503 and body["checks"]["cache"].startswith("error: unavailable"), body
    assert seconds < 0.5, seconds  # the breaker knows: no wait on the hung cache
    assert result["ready_after"]["status"] == "ok"
    print(f"during the freeze: {sum(1 for s in within if s == 200)} answered within the grace, "
          f"{len(beyond)} refused with 503 past it")  # fmt: skip
    assert log.count("Cache unreachable") == 1, log[-3000:]
    assert log.count("Cache reachable again") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
