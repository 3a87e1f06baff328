"""A PostgreSQL outage under load loses no request-log row (issue 14, item 7).

A gateway process (`uvicorn`, production settings) writes its log to a PostgreSQL
server this test starts itself (tests/reliability/temp_postgres.py), never the
shared one. Under a bounded load (the official `openai` SDK, a few threads, a fixed
rate, a fixed time), the server is stopped for a few seconds and started again;
then every answered request must have its row (matched by the completion id the
client received). With a queue bound too small for the outage, the rows past it
are dropped and said so: one line and a count, and rows + dropped = answered.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from django.conf import settings

from tests.reliability.temp_postgres import TempPostgres, unavailable_reason
from tests.reliability.test_several_processes import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "modeldesk_outage"
HI = [{"role": "user", "content": "hello world"}]
#: The load: requests per second in all, over how many seconds, and when the server is down.
RATE, THREADS, SECONDS = 60, 4, 9.0
OUTAGE_AT, OUTAGE_SECONDS = 2.0, 4.0

pytestmark = pytest.mark.skipif(bool(unavailable_reason()), reason=unavailable_reason() or "")


def _env(postgres: TempPostgres, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(ROOT / "var")),
        "DJANGO_SETTINGS_MODULE": "configsite.settings",
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": postgres.url(DATABASE),
        # The gateway's own memory: warm requests need neither the database nor a shared cache.
        "CACHE_URL": "locmem://",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


SEED = """
from tests import factories
provider = factories.make_provider(name="Echo", slug="echo", kind="echo", api_key="")
factories.make_model(provider, model_id="echo")
print(factories.make_api_key(scopes=("chat",))[1])
"""


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[TempPostgres, str]]:
    """The private server, migrated, with an echo model and a chat key (whose raw value comes along)."""
    server = TempPostgres()
    try:
        server.start()
        server.create_database(DATABASE)
        env = _env(server)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        seeded = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True
        )
        yield server, seeded.stdout.decode().strip().splitlines()[-1]
    finally:
        server.destroy()


def _load(gateway: ServerProcess, key: str, postgres: TempPostgres) -> tuple[list[str], int]:
    """The bounded load with an outage in its middle: the ids of the answered requests, and the failures."""
    answered: list[str] = []
    failures = [0]
    start = time.monotonic()

    def client_loop(offset: float) -> None:
        client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=10)
        interval = THREADS / RATE
        next_at = start + offset
        while (now := time.monotonic()) < start + SECONDS:
            if now < next_at:
                time.sleep(next_at - now)
            next_at += interval
            try:
                answered.append(client.chat.completions.create(model="echo/echo", messages=HI).id)
            except openai.APIError:
                failures[0] += 1
        client.close()

    threads = [threading.Thread(target=client_loop, args=(n / RATE,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    time.sleep(OUTAGE_AT)
    postgres.stop()
    time.sleep(OUTAGE_SECONDS)
    postgres.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 30)
    return answered, failures[0]


def _logged_ids(postgres: TempPostgres, ids: list[str], settle: float = 30) -> set[str]:
    """The answered ids that have a row, once the gateway has caught up (or `settle` seconds passed)."""
    import psycopg

    deadline = time.monotonic() + settle
    found: set[str] = set()
    while time.monotonic() < deadline:
        with psycopg.connect(postgres.url(DATABASE)) as connection:
            rows = connection.execute(
                "SELECT request_id FROM chat_requestlog WHERE request_id = ANY(%s)", (ids,)
            ).fetchall()
        found = {row[0] for row in rows}
        if len(found) == len(ids):
            break
        time.sleep(0.5)
    return found


def _run(postgres: TempPostgres, key: str, **env: str) -> tuple[list[str], int, set[str], str]:
    gateway = ServerProcess(_env(postgres, **env))
    try:
        gateway.wait_ready()
        answered, failures = _load(gateway, key, postgres)
        logged = _logged_ids(postgres, answered, settle=30 if not env else 5)
    finally:
        gateway.stop()
        output = gateway.process.stdout.read().decode("utf-8", "replace")
    print(f"answered {len(answered)}, failed {failures}, rows {len(logged)} (lost {len(answered) - len(logged)})")
    print("\n".join(line for line in output.splitlines() if "request log:" in line))
    return answered, failures, logged, output


def test_an_outage_loses_no_row(postgres):
    server, key = postgres
    answered, failures, logged, output = _run(server, key)
    assert failures == 0
    assert len(answered) >= RATE * SECONDS * 0.6
    assert len(logged) == len(answered), f"{len(answered) - len(logged)} of {len(answered)} rows lost\n{output[-3000:]}"
    # One line when the outage began and one when writing resumed: not one per row or batch.
    assert len(re.findall(r"request log: the database is unavailable", output)) == 1, output[-3000:]
    assert re.findall(r"request log: writing resumed .*?(\d+) row\(s\) dropped", output) == ["0"], output[-3000:]


def test_past_the_queue_bound_rows_are_dropped_counted_and_said_once(postgres):
    server, key = postgres
    answered, failures, logged, output = _run(server, key, REQUEST_LOG_QUEUE_MAX="50")
    assert failures == 0
    full_lines = re.findall(r"request log: queue full \((\d+) rows\)", output)
    assert full_lines == ["50"], output[-3000:]
    [resumed] = re.findall(r"request log: writing resumed .*?(\d+) row\(s\) dropped", output)
    assert int(resumed) > 0
    assert len(logged) + int(resumed) == len(answered), output[-3000:]
