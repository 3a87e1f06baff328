"""Recording chat requests without slowing them or losing them: one row per request, written off its path.

An `Exchange` follows one request (timing, model, usage, outcome) and, when the
answer is complete — before the last byte of a stream goes out — hands its row
to the writer thread (`chat/log_writer.py`). The view never waits for the
database, and the writer's own connection never shares a transaction with a
request. `flush()` waits for every row handed over so far (tests, and commands
before they exit).

Every value is normalised to what its column holds before the row is queued
(`chat/log_rows.py`), and a batch the database refuses is retried row by row, so
one client's or upstream's bad value costs at most its own row, which is logged.
While the database is unavailable the writer keeps rows in a bounded queue and
retries (ADR 0009). Tests that read rows must use `transaction=True` (the writer
cannot see, and must not wait for, a test's open transaction).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from chat.log_rows import normalise
from chat.log_writer import aflush, close_connections, flush, record, stats, submit
from providers.adapters.base import Usage

if TYPE_CHECKING:
    from chat.errors import ErrorInfo
    from providers.snapshot import ModelInfo

__all__ = [
    "Exchange",
    "aflush",
    "close_connections",
    "cost_of",
    "flush",
    "normalise",
    "record",
    "stats",
    "submit",
]

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
            "model_name": self.model_name,
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
