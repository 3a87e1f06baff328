"""Read-only figures for the admin: the index dashboard and the request log's per-model summary.

Selectors in the HackSoft sense: plain functions returning plain data, so the
admin templates only render. Provider state comes from the cached configuration
snapshot (no query when warm); request figures from `chat.RequestLog`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q, QuerySet, Sum
from django.utils import timezone

from chat.models import RequestLog
from providers.snapshot import get_snapshot

#: Periods offered by the summary view: query value → (label, length; None = everything).
PERIODS: dict[str, tuple[str, timedelta | None]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "all": ("All time", None),
}
DEFAULT_PERIOD = "24h"


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    id: int
    name: str
    slug: str
    kind: str
    image_url: str
    is_active: bool
    inactive_reason: str | None
    enabled_models: int


@dataclass(frozen=True, slots=True)
class DefaultModelStatus:
    """The stored default, and whether the gateway can serve it (provider active, model enabled)."""

    id: int
    qualified_id: str
    name: str
    servable: bool


@dataclass(frozen=True, slots=True)
class RequestStats:
    requests: int
    errors: int

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass(frozen=True, slots=True)
class Dashboard:
    providers: list[ProviderStatus]
    default_model: DefaultModelStatus | None
    last_24h: RequestStats
    active_count: int = field(init=False)
    inactive_count: int = field(init=False)

    def __post_init__(self) -> None:
        active = sum(1 for p in self.providers if p.is_active)
        object.__setattr__(self, "active_count", active)
        object.__setattr__(self, "inactive_count", len(self.providers) - active)


def provider_statuses() -> list[ProviderStatus]:
    """Every provider, active ones first, each with its inactive reason (SPEC §3) and enabled models."""
    snapshot = get_snapshot()
    enabled: dict[int, int] = {}
    for model in snapshot.models.values():
        if model.is_enabled:
            enabled[model.provider_id] = enabled.get(model.provider_id, 0) + 1
    statuses = [
        ProviderStatus(
            id=p.id,
            name=p.name,
            slug=p.slug,
            kind=p.kind,
            image_url=p.image_url,
            is_active=p.is_active,
            inactive_reason=p.inactive_reason,
            enabled_models=enabled.get(p.id, 0),
        )
        for p in snapshot.providers.values()
    ]
    return sorted(statuses, key=lambda s: (not s.is_active, s.name.lower(), s.id))


def default_model_status() -> DefaultModelStatus | None:
    snapshot = get_snapshot()
    model = snapshot.models.get(snapshot.default_model_id) if snapshot.default_model_id else None
    if model is None:
        return None
    return DefaultModelStatus(
        id=model.id,
        qualified_id=model.qualified_id,
        name=model.name or model.model_id,
        servable=snapshot.default_model is not None,
    )


class Median(Aggregate):
    """PostgreSQL's exact median; SQLite has no percentile function (see `_medians`)."""

    function = "percentile_cont"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _period_start(period: str) -> datetime | None:
    length = PERIODS[period][1]
    return timezone.now() - length if length is not None else None


def _rows(since: datetime | None) -> QuerySet[RequestLog]:
    rows = RequestLog.objects.all()
    return rows.filter(created_at__gte=since) if since is not None else rows


ERRORS = ~Q(error_category="")


def request_stats(*, since: timedelta = timedelta(hours=24)) -> RequestStats:
    """Requests and errors in the last `since`, in one query."""
    figures = _rows(timezone.now() - since).aggregate(requests=Count("id"), errors=Count("id", filter=ERRORS))
    return RequestStats(requests=figures["requests"], errors=figures["errors"])


def dashboard() -> Dashboard:
    """Everything the admin index block shows."""
    return Dashboard(providers=provider_statuses(), default_model=default_model_status(), last_24h=request_stats())


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """One row of the request log summary: a model (as logged) over a period."""

    model_name: str
    provider_slug: str
    requests: int
    errors: int
    median_latency_ms: float | None
    median_ttft_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _medians(rows: QuerySet[RequestLog], column: str) -> dict[tuple[str, str], float | None]:
    """Per-model medians computed in Python (SQLite): one ordered pass over one column."""
    values: dict[tuple[str, str], list[float]] = {}
    for model_name, provider_slug, value in rows.filter(**{f"{column}__isnull": False}).values_list(
        "model_name", "provider_slug", column
    ):
        values.setdefault((model_name, provider_slug), []).append(value)
    return {key: median(found) for key, found in values.items()}


def request_log_summary(*, period: str = DEFAULT_PERIOD) -> list[ModelSummary]:
    """Per-model figures over `period` (a key of PERIODS): busiest model first.

    One grouped query; on SQLite, two more for the medians.
    """
    if period not in PERIODS:
        raise ValueError(f"Unknown period {period!r}; known: {', '.join(PERIODS)}.")
    rows = _rows(_period_start(period))
    aggregates: dict[str, Any] = {
        "requests": Count("id"),
        "errors": Count("id", filter=ERRORS),
        "prompt": Sum("prompt_tokens"),
        "completion": Sum("completion_tokens"),
        "cost_sum": Sum("cost"),
    }
    on_postgres = connection.vendor == "postgresql"
    if on_postgres:
        aggregates.update(latency=Median("latency_ms"), ttft=Median("ttft_ms"))
    grouped = rows.values("model_name", "provider_slug").annotate(**aggregates).order_by("-requests", "model_name")
    if not on_postgres:
        latency, ttft = _medians(rows, "latency_ms"), _medians(rows, "ttft_ms")
    summary = []
    for row in grouped:
        key = (row["model_name"], row["provider_slug"])
        summary.append(
            ModelSummary(
                model_name=row["model_name"] or "(unknown model)",
                provider_slug=row["provider_slug"],
                requests=row["requests"],
                errors=row["errors"],
                median_latency_ms=row["latency"] if on_postgres else latency.get(key),
                median_ttft_ms=row["ttft"] if on_postgres else ttft.get(key),
                prompt_tokens=row["prompt"] or 0,
                completion_tokens=row["completion"] or 0,
                cost=row["cost_sum"],
            )
        )
    return summary
