"""Recording chat requests without slowing them: rows are written off the request's path.

An `Exchange` follows one request (timing, model, usage, outcome) and, when the
answer is complete — before the last byte of a stream goes out — hands its row
to a single writer thread. The view never waits for the database, and the
writer's own connection never shares a transaction with a request. `flush()`
waits for every row handed over so far (tests, and commands before they exit).

The writer is one thread: rows are written in order, one connection is used, and
SQLite sees one writer. It writes in batches: once a row is waiting it lingers up
to `LINGER_SECONDS` (or until `BATCH_SIZE` rows wait) and then writes them all in
one multi-row INSERT and one commit. One INSERT and commit per request cost as
much CPU as serving the request itself (py-spy, bench/README.md); batched, the
cost per row is a few per cent of that. `flush()` cuts the linger short. Past
`MAX_BACKLOG` waiting rows, new rows are dropped with a warning rather than
letting memory grow. The writer keeps its connection from row to row (reopening
it per row was ~20 % of a worker's CPU on SQLite, whose CONN_MAX_AGE is 0, and
the last connection to close a WAL database checkpoints it): it closes it after
a failed write, when it is unusable, or when a positive `CONN_MAX_AGE` has
passed; a dropped connection is reopened once for the batch that found it.
Tests that read rows must use `transaction=True` (the writer cannot see, and
must not wait for, a test's open transaction).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.utils import timezone

from providers.adapters.base import Usage

if TYPE_CHECKING:
    from chat.errors import ErrorInfo
    from providers.snapshot import ModelInfo

logger = logging.getLogger(__name__)

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-request-log")
_pending: set[Future] = set()
_lock = threading.Lock()
#: Wakes a lingering writer: a full batch is waiting, or someone flushes.
_wake = threading.Condition(_lock)
#: Rows waiting for the writer, whether a drain is scheduled or running, and flushes in progress.
_rows: list[dict[str, Any]] = []
_draining = False
_hurry = 0
_dropped = 0
#: Rows written per INSERT at most, and rows allowed to wait before new ones are dropped.
BATCH_SIZE = 200
MAX_BACKLOG = 20_000
#: How long the first waiting row waits for others before the batch is written (seconds).
LINGER_SECONDS = 0.1
MILLION = Decimal(1_000_000)
#: Longest error message kept in a row.
MAX_ERROR_MESSAGE = 2000


def cost_of(model: ModelInfo | None, usage: Usage | None) -> Decimal | None:
    """Cost from the model's prices per million tokens; None when no price is known."""
    if model is None or usage is None:
        return None
    input_price, output_price = model.input_price_per_mtok, model.output_price_per_mtok
    if input_price is None and output_price is None:
        return None
    cost = Decimal(usage.prompt_tokens) * Decimal(input_price or 0) + Decimal(usage.completion_tokens) * Decimal(
        output_price or 0
    )
    return cost / MILLION


def submit(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Run `function` on the writer thread; failures are logged, never raised to a request."""
    future = _executor.submit(_run, function, args, kwargs)
    with _lock:
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future) -> None:
    with _lock:
        _pending.discard(future)


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
    try:
        wait(pending, timeout=timeout)
    finally:
        with _lock:
            _hurry -= 1


async def aflush(timeout: float = 10.0) -> None:
    await asyncio.to_thread(flush, timeout)


def close_connections() -> None:
    """Close the writer thread's database connections (test teardown, before dropping a database)."""
    flush()
    _executor.submit(connections.close_all).result(timeout=10)


def record(values: dict[str, Any]) -> None:
    """Queue one row; the writer thread inserts it (with the others waiting, if any)."""
    global _draining, _dropped
    with _lock:
        if len(_rows) >= MAX_BACKLOG:
            _dropped += 1
            if _dropped % 1000 == 1:
                logger.warning("Request log backlog full (%d rows): %d row(s) dropped so far.", MAX_BACKLOG, _dropped)
            return
        _rows.append(values)
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
            batch = _rows[:BATCH_SIZE]
            del _rows[:BATCH_SIZE]
            if not batch:
                _draining = False
                return
        try:
            _write(batch)
        except Exception:
            logger.exception("Writing %d request log row(s) failed", len(batch))
            _close_connections()


def _write(batch: list[dict[str, Any]]) -> None:
    try:
        try:
            _insert(batch)
        except IntegrityError:
            raise
        except DatabaseError:
            # The kept connection was dropped (server restart, idle timeout): the batch was not
            # written (one transaction), so reconnect and write it once more.
            _close_connections()
            _insert(batch)
    except IntegrityError:
        for values in batch:
            try:
                _insert([values])
            except IntegrityError:
                # The provider, model or key was deleted while the request ran: keep the row, drop the links.
                values.update(provider_id=None, model_id=None, api_key_id=None, user_id=None)
                _insert([values])


def _insert(batch: list[dict[str, Any]]) -> None:
    """One multi-row INSERT in one transaction: each value prepared by its model field, as the ORM does.

    Not `bulk_create`: building a model instance per row (and reading back the new ids) cost
    ~0.25 ms a row, as much as a tenth of the request itself; this is a few hundredths of that.
    """
    from chat.models import RequestLog

    alias = router.db_for_write(RequestLog)
    connection = connections[alias]
    fields = [field for field in RequestLog._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    # Only the model's own table and column names, quoted by the backend; every value is a parameter.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(RequestLog._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
    )
    prepare = [(field.attname, field.get_default, field.get_db_prep_save) for field in fields]
    rows = [
        [to_db(values[name] if name in values else default(), connection) for name, default, to_db in prepare]
        for values in batch
    ]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


class Exchange:
    """One chat request, from arrival to its log row."""

    def __init__(
        self,
        *,
        source: str,
        api_key_id: int | None = None,
        user_id: int | None = None,
        started: float | None = None,
    ) -> None:
        self.started = started if started is not None else time.perf_counter()
        self.created_at = timezone.now()
        self.source = source
        self.api_key_id = api_key_id
        self.user_id = user_id
        self.request_id = ""
        self.stream = False
        self.model: ModelInfo | None = None
        self.model_name = ""
        self.provider_slug = ""
        self.first_token_at: float | None = None
        self.finished = False
        self.log_content = bool(getattr(settings, "LOG_CHAT_CONTENT", False))
        self.request_content: Any = None

    def asked(self, *, model_name: str | None, stream: bool, messages: Any = None) -> None:
        self.model_name = model_name or ""
        self.stream = stream
        if self.log_content:
            self.request_content = messages

    def resolved(self, model: ModelInfo, request_id: str) -> None:
        self.model = model
        self.model_name = model.qualified_id
        self.provider_slug = model.provider_slug
        self.request_id = request_id

    def first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_token_at is None else (self.first_token_at - self.started) * 1000

    def succeed(self, *, usage: Usage | None, finish_reason: str = "", answer: str = "") -> None:
        self._finish(status_code=200, usage=usage, finish_reason=finish_reason, answer=answer)

    def fail(self, info: ErrorInfo, *, usage: Usage | None = None, answer: str = "") -> None:
        self._finish(
            status_code=info.status_code,
            category=info.category,
            message=info.message,
            usage=usage,
            answer=answer,
        )

    def abandon(self, *, usage: Usage | None = None, answer: str = "") -> None:
        """The client went away before the end (499, as nginx logs it)."""
        self._finish(status_code=499, category="client_closed", message="The client closed the connection.",
                     usage=usage, answer=answer)  # fmt: skip

    def _finish(
        self,
        *,
        status_code: int,
        usage: Usage | None,
        category: str = "",
        message: str = "",
        finish_reason: str = "",
        answer: str = "",
    ) -> None:
        if self.finished:
            return
        self.finished = True
        model = self.model
        values = {
            "created_at": self.created_at,
            "request_id": self.request_id,
            "source": self.source,
            "provider_id": model.provider_id if model else None,
            "provider_slug": self.provider_slug,
            "model_id": model.id if model else None,
            "model_name": self.model_name[:300],
            "api_key_id": self.api_key_id,
            "user_id": self.user_id,
            "stream": self.stream,
            "status_code": status_code,
            "error_category": category,
            "error_message": message[:MAX_ERROR_MESSAGE],
            "finish_reason": finish_reason or "",
            "latency_ms": (time.perf_counter() - self.started) * 1000,
            "ttft_ms": self.ttft_ms,
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None,
            "total_tokens": usage.total_tokens if usage else None,
            "cost": cost_of(model, usage),
            "request_content": self.request_content if self.log_content else None,
            "response_content": answer if self.log_content else "",
        }
        record(values)
