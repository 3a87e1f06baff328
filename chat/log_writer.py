"""The request log's writer: one thread that inserts queued rows in batches and waits out database outages.

`chat/request_log.py` hands rows over (`record`); this module queues them (each
normalised first, `chat/log_rows.py`) and writes them off the request's path.

The writer is one thread: rows are written in order, one connection is used, and
SQLite sees one writer. It writes in batches: once a row is waiting it lingers up
to `LINGER_SECONDS` (or until `BATCH_SIZE` rows wait) and then writes them all in
one multi-row INSERT and one commit. One INSERT and commit per request cost as
much CPU as serving the request itself (py-spy, bench/README.md); batched, the
cost per row is a few per cent of that. `flush()` cuts the linger short.

When the database cannot be reached (down, restarting, locked), the writer keeps
the batch and retries it with a capped exponential backoff, reconnecting each
time, while new rows wait in memory, up to `REQUEST_LOG_QUEUE_MAX`; past that,
new rows are dropped and counted (ADR 0009: no spill to disk). One line says the
outage began, one that the queue is full (if it fills), and one that writing
resumed, with how many rows were dropped; `stats()` has the counters. At exit
during an outage, the writer retries for `REQUEST_LOG_SHUTDOWN_SECONDS` and then
says how many rows it gives up. The writer keeps its connection from row to row
(reopening it per row was ~20 % of a worker's CPU on SQLite, whose CONN_MAX_AGE is
0, and the last connection to close a WAL database checkpoints it): it closes it
after a failed write, when it is unusable, or when a positive `CONN_MAX_AGE` has
passed. Tests that read rows must use `transaction=True` (the writer cannot see,
and must not wait for, a test's open transaction).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections

from chat import log_rows
from chat.log_rows import normalise

logger = logging.getLogger("chat.request_log")

_lock = threading.Lock()
#: Wakes a lingering writer: a full batch is waiting, or someone flushes.
_wake = threading.Condition(_lock)
#: Work for the writer thread (functions to run, each with the event set when it is done), and
#: the events not set yet (what `flush()` waits for). The thread starts with the first work.
_tasks: deque[tuple[Callable[..., Any], tuple, dict, threading.Event]] = deque()
_has_work = threading.Condition(_lock)
_pending: set[threading.Event] = set()
_thread: threading.Thread | None = None
#: Set by the exit hook: when an exiting process stops retrying an unavailable database (monotonic).
_exit_deadline: float | None = None
#: Rows waiting for the writer, whether a drain is scheduled or running, and flushes in progress.
_rows: deque[log_rows.Row] = deque()
_draining = False
_hurry = 0
#: Rows written per INSERT at most.
BATCH_SIZE = 200
#: How long the first waiting row waits for others before the batch is written (seconds).
LINGER_SECONDS = 0.1
#: The first retry after a failed write is at once (a kept connection the server dropped), then
#: after this many seconds, doubling up to REQUEST_LOG_RETRY_MAX_SECONDS.
FIRST_BACKOFF_SECONDS = 0.1


class _Counters:
    """What `stats()` reports, and the state of the current outage or full queue (guarded by `_lock`)."""

    def __init__(self) -> None:
        self.written = 0
        self.refused = 0
        self.dropped = 0
        self.outages = 0
        #: Since when the database has been unavailable (monotonic), with the rows dropped meanwhile.
        self.outage_since: float | None = None
        self.full = False
        self.dropped_now = 0


_counters = _Counters()


def stats() -> dict[str, int]:
    """The writer's counters since the process started: rows written, refused by the database (bad data),
    dropped (queue full), outages seen, and rows waiting now."""
    with _lock:
        c = _counters
        return {"written": c.written, "refused": c.refused, "dropped": c.dropped, "outages": c.outages,
                "queued": len(_rows)}  # fmt: skip


def submit(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Run `function` on the writer thread; failures are logged, never raised to a request."""
    done = threading.Event()
    with _lock:
        _tasks.append((function, args, kwargs, done))
        _pending.add(done)
        _start_thread()
        _has_work.notify()


def _start_thread() -> None:
    """Start the writer thread (with `_lock` held) unless it runs.

    A daemon thread, not a `ThreadPoolExecutor`: the executor's worker is joined at exit
    *before* `atexit` hooks run, so a writer waiting out a database outage would keep an
    exiting process alive for ever. Here `_at_exit` flushes, and bounds how long it waits.
    """
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    _thread = threading.Thread(target=_work, name="chat-request-log", daemon=True)
    _thread.start()


def _work() -> None:
    while True:
        with _lock:
            while not _tasks:
                _has_work.wait()
            function, args, kwargs, done = _tasks.popleft()
        try:
            _run(function, args, kwargs)
        finally:
            with _lock:
                _pending.discard(done)
            done.set()


def _at_exit() -> None:
    """At interpreter exit: write what waits, retrying an unavailable database for REQUEST_LOG_SHUTDOWN_SECONDS."""
    global _exit_deadline
    grace = settings.REQUEST_LOG_SHUTDOWN_SECONDS
    with _lock:
        _exit_deadline = time.monotonic() + grace
    flush(timeout=grace + 10)


atexit.register(_at_exit)


def _after_fork_in_child() -> None:
    """A forked child has no writer thread and must not write its parent's rows a second time."""
    global _lock, _wake, _has_work, _thread, _draining, _hurry
    _lock = threading.Lock()
    _wake, _has_work = threading.Condition(_lock), threading.Condition(_lock)
    _tasks.clear()
    _pending.clear()
    _rows.clear()
    _thread, _draining, _hurry = None, False, 0


os.register_at_fork(after_in_child=_after_fork_in_child)


def _run(function: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    try:
        _tidy_connections()
        function(*args, **kwargs)
    except Exception:
        logger.exception("Writing the request log failed")
        # A failed write may leave a broken connection or a half-done transaction: start afresh.
        _close_connections()


def _tidy_connections() -> None:
    """Close the writer's connections that are unusable or older than a positive `CONN_MAX_AGE`.

    Unlike `close_old_connections()` (what a request does), a `CONN_MAX_AGE` of 0 does not
    close the connection after each write: the writer is one long-lived thread, not a request.
    """
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        expired = bool(conn.settings_dict.get("CONN_MAX_AGE")) and conn.close_at is not None and now >= conn.close_at
        if expired or (conn.errors_occurred and not conn.is_usable()):
            _close(conn)


def _close_connections() -> None:
    for conn in connections.all(initialized_only=True):
        _close(conn)


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:
        # Closing a connection the server already dropped can fail; it is gone either way.
        logger.debug("Closing the request log's connection failed", exc_info=True)


def flush(timeout: float = 10.0) -> None:
    """Wait until every row submitted so far is written (or `timeout` passes); the writer stops lingering."""
    global _hurry
    with _lock:
        pending = list(_pending)
        if not pending:
            return
        _hurry += 1
        _wake.notify_all()
    deadline = time.monotonic() + timeout
    try:
        for done in pending:
            if not done.wait(max(0.0, deadline - time.monotonic())):
                break
    finally:
        with _lock:
            _hurry -= 1


async def aflush(timeout: float = 10.0) -> None:
    await asyncio.to_thread(flush, timeout)


def close_connections() -> None:
    """Close the writer thread's database connections (test teardown, before dropping a database)."""
    flush()
    submit(connections.close_all)
    flush()


def record(values: dict[str, Any]) -> None:
    """Queue one row (normalised here, on the caller's thread); the writer thread inserts it with the others."""
    global _draining
    row = normalise(values)
    limit = settings.REQUEST_LOG_QUEUE_MAX
    with _lock:
        if len(_rows) >= limit:
            _counters.dropped += 1
            _counters.dropped_now += 1
            if not _counters.full:
                _counters.full = True
                logger.error(
                    "request log: queue full (%d rows): new rows are dropped until the database catches up.", limit
                )
            return
        _rows.append(row)
        if _draining:
            if len(_rows) >= BATCH_SIZE:
                _wake.notify_all()
            return
        _draining = True
    submit(_drain)


def _drain() -> None:
    """Write waiting rows, batch after batch, until none is left (lingering for a batch to fill first)."""
    global _draining
    linger_until = time.monotonic() + LINGER_SECONDS
    while True:
        with _lock:
            while len(_rows) < BATCH_SIZE and not _hurry and (left := linger_until - time.monotonic()) > 0:
                _wake.wait(left)
            batch = [_rows.popleft() for _ in range(min(BATCH_SIZE, len(_rows)))]
            if not batch:
                _draining = False
                if _counters.full and _counters.outage_since is None:
                    _caught_up()
                return
        _write_until_done(batch)


def _write_until_done(batch: list[log_rows.Row]) -> None:
    """Write `batch`, waiting out an unavailable database: retried with a capped backoff, reconnecting each time."""
    delay = 0.0
    while True:
        try:
            refused = log_rows.write(batch)
        except log_rows.Unavailable as exc:
            batch = exc.rows
            # The connection may be broken (a restart, a failover): the next attempt opens a new one.
            _close_connections()
            if delay:
                _outage_began(exc.reason, len(batch))
            if _exit_deadline is not None and time.monotonic() >= _exit_deadline:
                _give_up_at_exit(len(batch))
                return
            time.sleep(delay)
            delay = min(max(delay * 2, FIRST_BACKOFF_SECONDS), settings.REQUEST_LOG_RETRY_MAX_SECONDS)
            continue
        except Exception:
            # Not a database answer (a bug): the batch is lost, said once, and the writer goes on.
            logger.exception("request log: writing %d row(s) failed", len(batch))
            _close_connections()
            return
        with _lock:
            _counters.written += len(batch) - refused
            _counters.refused += refused
            if _counters.outage_since is not None:
                _resumed()
        return


def _outage_began(reason: str, in_hand: int) -> None:
    with _lock:
        if _counters.outage_since is not None:
            return
        _counters.outage_since = time.monotonic()
        _counters.outages += 1
        waiting = len(_rows) + in_hand
    logger.error(
        "request log: the database is unavailable (%s); keeping up to %d rows in memory and retrying (%d waiting).",
        reason,
        settings.REQUEST_LOG_QUEUE_MAX,
        waiting,
    )


def _resumed() -> None:
    """Called with `_lock` held, after the first write that succeeded since the outage began."""
    c = _counters
    logger.warning(
        "request log: writing resumed after %.1f s unavailable; %d row(s) waiting, %d row(s) dropped.",
        time.monotonic() - (c.outage_since or 0),
        len(_rows),
        c.dropped_now,
    )
    c.outage_since, c.full, c.dropped_now = None, False, 0


def _caught_up() -> None:
    """Called with `_lock` held: the queue was full without an outage (a slow database) and is empty again."""
    c = _counters
    logger.warning("request log: caught up; %d row(s) dropped while the queue was full.", c.dropped_now)
    c.full, c.dropped_now = False, 0


def _give_up_at_exit(in_hand: int) -> None:
    with _lock:
        lost = in_hand + len(_rows)
        _rows.clear()
        _counters.dropped += lost
    logger.error(
        "request log: exiting while the database is unavailable: %d row(s) dropped after %s s of retries.",
        lost,
        settings.REQUEST_LOG_SHUTDOWN_SECONDS,
    )
