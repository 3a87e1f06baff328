"""chat/log_writer.py: a database that cannot be written is waited out, within a bound (issue 14, item 7).

Real databases only: the test's SQLite file locked by another connection (the
writer's inserts fail with "database is locked" until it is released), and, in a
process of its own, a PostgreSQL address where nothing listens. The PostgreSQL
outage under load is tests/reliability/test_request_log_outage.py.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection, connections

from chat import request_log
from chat.models import RequestLog

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def _values(request_id: str) -> dict:
    return {"status_code": 200, "latency_ms": 1.0, "model_name": "echo/echo", "request_id": request_id}


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if text in record.getMessage()]


@contextmanager
def _locked_sqlite(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The test database locked by another connection; the writer gives up each try after 0.1 s."""
    if connection.vendor != "sqlite":
        pytest.skip("locks the SQLite test database file; this run uses " + connection.vendor)
    settings_dict = connections["default"].settings_dict
    options = settings_dict.setdefault("OPTIONS", {})
    busy_timeout = options.get("timeout")
    options["timeout"] = 0.1
    request_log.submit(connections.close_all)  # the writer reconnects with the short busy timeout
    request_log.flush()
    locker = sqlite3.connect(settings_dict["NAME"], timeout=5, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        options["timeout"] = busy_timeout
    _wait_for(lambda: _messages(caplog, "writing resumed"), "the writer to resume")
    request_log.submit(connections.close_all)


def _wait_for(condition, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)


def test_a_locked_database_is_waited_out_without_losing_a_row(echo_model, settings, caplog):
    caplog.set_level(logging.INFO, logger="chat.request_log")
    settings.REQUEST_LOG_RETRY_MAX_SECONDS = 0.2
    with _locked_sqlite(caplog):
        for number in range(5):
            request_log.record(_values(f"early-{number}"))
        _wait_for(lambda: _messages(caplog, "database is unavailable"), "the outage line")
        for number in range(300):  # more than a batch, while the first batch waits
            request_log.record(_values(f"late-{number}"))
        time.sleep(1)  # several retries, each failing
    request_log.flush()
    ids = list(RequestLog.objects.order_by("id").values_list("request_id", flat=True))
    assert ids == [f"early-{n}" for n in range(5)] + [f"late-{n}" for n in range(300)]
    [outage] = _messages(caplog, "database is unavailable")
    assert "OperationalError: database is locked" in outage
    [resumed] = _messages(caplog, "writing resumed")
    assert resumed.endswith("0 row(s) dropped.")


def test_past_the_bound_new_rows_are_dropped_counted_and_said_once(echo_model, settings, caplog):
    caplog.set_level(logging.INFO, logger="chat.request_log")
    settings.REQUEST_LOG_RETRY_MAX_SECONDS = 0.2
    settings.REQUEST_LOG_QUEUE_MAX = 15
    dropped_before = request_log.stats()["dropped"]
    with _locked_sqlite(caplog):
        for number in range(5):
            request_log.record(_values(f"early-{number}"))
        _wait_for(lambda: _messages(caplog, "database is unavailable"), "the outage line")
        for number in range(25):
            request_log.record(_values(f"late-{number}"))
        assert request_log.stats()["queued"] == 15
    request_log.flush()
    ids = list(RequestLog.objects.order_by("id").values_list("request_id", flat=True))
    assert ids == [f"early-{n}" for n in range(5)] + [f"late-{n}" for n in range(15)]
    assert request_log.stats()["dropped"] - dropped_before == 10
    assert _messages(caplog, "queue full") == [
        "request log: queue full (15 rows): new rows are dropped until the database catches up."
    ]
    [resumed] = _messages(caplog, "writing resumed")
    assert resumed.endswith("10 row(s) dropped.")


EXITING = """
import django
django.setup()
from chat import request_log
request_log.record({"status_code": 200, "latency_ms": 1.0, "request_id": "never-written"})
"""


def test_a_process_exiting_during_an_outage_gives_up_after_its_grace_and_says_so():
    """Unreachable PostgreSQL (a port where nothing listens): the row cannot be written, the process
    still exits — after REQUEST_LOG_SHUTDOWN_SECONDS of retries, not never — and says what it lost."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/nowhere",
        "CACHE_URL": "locmem://",
        "REQUEST_LOG_SHUTDOWN_SECONDS": "1",
        "REQUEST_LOG_RETRY_MAX_SECONDS": "0.2",
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", EXITING], cwd=ROOT, env=env, capture_output=True, timeout=60, check=False
    )
    elapsed = time.monotonic() - started
    output = result.stderr.decode()
    assert result.returncode == 0, output[-2000:]
    assert output.count("request log: the database is unavailable") == 1, output[-2000:]
    assert "exiting while the database is unavailable: 1 row(s) dropped" in output, output[-2000:]
    assert elapsed < 30
