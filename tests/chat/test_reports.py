"""chat/reports.py: the admin dashboard figures and the request log's per-model summary."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chat import reports
from chat.models import RequestLog
from providers import services
from tests import factories

pytestmark = pytest.mark.django_db


def log_row(model_name: str = "openai/gpt-4o-mini", *, age: timedelta = timedelta(minutes=5), **fields) -> RequestLog:
    """A request-log row as the gateway writes it (a success unless `error_category` is given)."""
    values = {
        "provider_slug": model_name.split("/")[0],
        "model_name": model_name,
        "status_code": 200,
        "latency_ms": 100.0,
        "created_at": timezone.now() - age,
    }
    values.update(fields)
    return RequestLog.objects.create(**values)


def test_provider_statuses_active_first_with_reasons(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    echo = factories.make_provider(name="Echo", slug="echo", kind="echo", api_key="")
    factories.make_model(echo, model_id="echo-1")
    factories.make_model(echo, model_id="echo-2", is_enabled=False)
    factories.make_provider(name="Anthropic", slug="anthropic", kind="anthropic", is_enabled=False)
    factories.make_provider(name="OpenAI", slug="openai", kind="openai", api_key="")

    statuses = reports.provider_statuses()

    assert [(s.name, s.is_active, s.inactive_reason, s.enabled_models) for s in statuses] == [
        ("Echo", True, None, 1),
        ("Anthropic", False, "disabled", 0),
        ("OpenAI", False, "no API key", 0),
    ]


def test_default_model_status():
    assert reports.default_model_status() is None
    provider = factories.make_provider(slug="acme", api_key="sk-test-12345678")
    model = factories.make_model(provider, model_id="m-1", name="Model One", is_default=True)

    status = reports.default_model_status()
    assert (status.id, status.qualified_id, status.name, status.servable) == (model.pk, "acme/m-1", "Model One", True)

    # Stored but not servable: the provider lost its key.
    services.provider_update(provider=provider, api_key="")
    assert reports.default_model_status().servable is False


def test_request_stats_count_the_last_24_hours():
    log_row()
    log_row(status_code=429, error_category="rate_limit")
    log_row(status_code=499, error_category="client_closed")
    log_row(age=timedelta(hours=25), error_category="timeout", status_code=504)

    stats = reports.request_stats()

    assert (stats.requests, stats.errors) == (3, 2)
    assert stats.error_rate == pytest.approx(2 / 3)
    assert reports.request_stats(since=timedelta(days=2)).requests == 4


def test_request_stats_of_an_empty_log():
    stats = reports.request_stats()
    assert (stats.requests, stats.errors, stats.error_rate) == (0, 0, None)


def test_dashboard_in_a_constant_number_of_queries(django_assert_max_num_queries):
    for n in range(5):
        provider = factories.make_provider(slug=f"p-{n}")
        factories.make_model(provider)
        log_row()
    with django_assert_max_num_queries(4):  # the snapshot (3, when cold) and the request figures
        board = reports.dashboard()
    assert (board.active_count, board.inactive_count, board.last_24h.requests) == (5, 0, 5)


def test_summary_per_model():
    for latency in (100.0, 300.0, 200.0):
        log_row("openai/gpt-4o-mini", latency_ms=latency, ttft_ms=latency / 4, prompt_tokens=10, completion_tokens=5)
    log_row("openai/gpt-4o-mini", status_code=429, error_category="rate_limit", latency_ms=50.0, cost=Decimal("0.5"))
    log_row(
        "anthropic/claude-sonnet-4-6",
        latency_ms=1000.0,
        prompt_tokens=7,
        completion_tokens=3,
        cost=Decimal("0.00123"),
    )
    log_row("anthropic/claude-sonnet-4-6", latency_ms=3000.0, prompt_tokens=1, completion_tokens=1)
    log_row("openai/gpt-4o-mini", age=timedelta(days=2), latency_ms=9999.0)

    rows = reports.request_log_summary(period="24h")

    assert [r.model_name for r in rows] == ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-6"]
    gpt, claude = rows
    assert (gpt.requests, gpt.errors, gpt.error_rate) == (4, 1, 0.25)
    assert gpt.median_latency_ms == pytest.approx(150.0)  # 50, 100, 200, 300
    assert gpt.median_ttft_ms == pytest.approx(50.0)  # 25, 50, 75
    assert (gpt.prompt_tokens, gpt.completion_tokens, gpt.total_tokens) == (30, 15, 45)
    assert gpt.cost == Decimal("0.5")
    assert gpt.provider_slug == "openai"
    assert (claude.requests, claude.errors, claude.median_latency_ms) == (2, 0, pytest.approx(2000.0))
    assert claude.median_ttft_ms is None
    assert claude.cost == Decimal("0.00123")

    everything = {r.model_name: r for r in reports.request_log_summary(period="all")}
    assert everything["openai/gpt-4o-mini"].requests == 5
    assert everything["openai/gpt-4o-mini"].median_latency_ms == pytest.approx(200.0)


def test_summary_of_an_empty_period_and_an_unknown_one():
    log_row(age=timedelta(days=3))
    assert reports.request_log_summary(period="24h") == []
    with pytest.raises(ValueError, match="Unknown period 'week'"):
        reports.request_log_summary(period="week")
