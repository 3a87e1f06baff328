"""chat/request_log.py and chat.RequestLog: one row per request, with category, tokens, cost, timing."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx2
import openai
import pytest

from chat import request_log
from chat.models import RequestLog
from providers import services
from providers.adapters.base import Usage
from tests import factories
from tests.fake_upstream import behaviour as fb

pytestmark = pytest.mark.django_db(transaction=True)

HI = [{"role": "user", "content": "hello world"}]


def _rows() -> list[RequestLog]:
    request_log.flush()
    return list(RequestLog.objects.order_by("id"))


def _last_row(seconds: float = 5) -> RequestLog:
    """The newest row, waiting for it: the server writes it once it has seen the client leave."""
    deadline = time.monotonic() + seconds
    while not _rows() and time.monotonic() < deadline:
        time.sleep(0.05)
    return _rows()[-1]


def test_one_row_per_request_with_tokens_and_cost(openai_client, echo_model, chat_key):
    openai_client.chat.completions.create(model="echo/echo", messages=HI)
    list(
        openai_client.chat.completions.create(
            model="echo/echo", messages=HI, stream=True, stream_options={"include_usage": True}
        )
    )
    rows = _rows()
    assert len(rows) == 2
    plain, streamed = rows
    assert (plain.stream, streamed.stream) == (False, True)
    for row in rows:
        assert row.status_code == 200 and row.error_category == ""
        assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (2, 3, 5)
        # 2 × 1.50 + 3 × 6 per million tokens
        assert row.cost == Decimal("0.000021")
        assert (row.provider_id, row.provider_slug) == (echo_model.provider_id, "echo")
        assert (row.model_id, row.model_name) == (echo_model.id, "echo/echo")
        assert row.api_key.prefix == chat_key.split("_")[1]
        assert row.user_id == row.api_key.user_id
        assert row.finish_reason == "stop"
        assert 0 < row.latency_ms < 10_000
        assert row.request_id.startswith("chatcmpl-")
        assert row.request_content is None and row.response_content == ""
    assert plain.ttft_ms is None
    assert 0 < streamed.ttft_ms <= streamed.latency_ms


def test_usage_is_logged_for_streams_even_when_the_client_did_not_ask(openai_client, openai_model, fake_upstream):
    fake_upstream.enqueue(fb.answer("a b c", usage=(11, 3)))
    list(openai_client.chat.completions.create(model="fake-openai/mini", messages=HI, stream=True))
    row = _rows()[-1]
    assert (row.prompt_tokens, row.completion_tokens) == (11, 3)
    assert row.cost == (11 * Decimal("0.15") + 3 * Decimal("0.60")) / 1_000_000


def test_errors_are_logged_with_their_category(openai_client, openai_model, fake_upstream):
    fake_upstream.enqueue(fb.error(429, retry_after=5))
    with pytest.raises(openai.RateLimitError):
        openai_client.chat.completions.create(model="fake-openai/mini", messages=HI)
    with pytest.raises(openai.NotFoundError):
        openai_client.chat.completions.create(model="fake-openai/unknown", messages=HI)
    limited, unknown = _rows()
    assert (limited.status_code, limited.error_category, limited.model_name) == (
        429,
        "rate_limit",
        "fake-openai/gpt-4o-mini",
    )
    assert limited.cost is None and limited.prompt_tokens is None
    assert (unknown.status_code, unknown.error_category) == (404, "not_found")
    assert (unknown.model_id, unknown.model_name) == (None, "fake-openai/unknown")


def test_unauthenticated_requests_are_not_logged(gateway, echo_model):
    httpx2.post(f"{gateway.url}/v1/chat/completions", json={"model": "echo/echo", "messages": HI})
    assert _rows() == []


def test_content_only_with_log_chat_content(openai_client, echo_model, settings):
    settings.LOG_CHAT_CONTENT = True
    openai_client.chat.completions.create(model="echo/echo", messages=HI)
    list(openai_client.chat.completions.create(model="echo/echo", messages=HI, stream=True))
    for row in _rows():
        assert row.request_content == HI
        assert row.response_content == "Echo: hello world"


def test_deleting_the_provider_keeps_the_history(openai_client, echo_model):
    openai_client.chat.completions.create(model="echo/echo", messages=HI)
    request_log.flush()
    services.provider_delete(provider=echo_model.provider, force=True)
    row = RequestLog.objects.get()
    assert (row.provider_id, row.model_id, row.provider_slug, row.model_name) == (None, None, "echo", "echo/echo")


def test_client_that_leaves_mid_stream_cancels_the_upstream(gateway, chat_key, openai_model, fake_upstream):
    fake_upstream.enqueue(fb.answer(" ".join(["word"] * 50), chunk_delay=0.1))
    with httpx2.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "fake-openai/mini", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {chat_key}"},
    ) as response:
        for chunk in response.iter_bytes():
            if b"word" in chunk:
                break
    assert fake_upstream.last_request.wait_disconnected(timeout=5)
    row = _last_row()
    assert (row.status_code, row.error_category) == (499, "client_closed")
    assert row.latency_ms < 4000


def test_client_that_gives_up_on_a_slow_answer_cancels_the_upstream(gateway, chat_key, openai_model, fake_upstream):
    """Not streamed: the client's timeout closes its connection; the endpoint stops the upstream call."""
    fake_upstream.enqueue(fb.slow(5))
    with pytest.raises(httpx2.TimeoutException):
        httpx2.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "fake-openai/mini", "messages": HI},
            headers={"Authorization": f"Bearer {chat_key}"},
            timeout=0.5,
        )
    assert fake_upstream.last_request.wait_disconnected(timeout=3)
    row = _last_row()
    assert (row.status_code, row.error_category) == (499, "client_closed")
    assert row.latency_ms < 3000


def test_writer_survives_a_failing_write(caplog):
    def broken() -> None:
        raise RuntimeError("disk full")

    request_log.submit(broken)
    request_log.flush()
    assert "Writing the request log failed" in caplog.text


def test_the_writer_keeps_its_connection_from_row_to_row(echo_model):
    from django.db import connections

    seen = []
    for number in range(3):
        request_log.record(_values(request_id=f"kept-{number}"))
        request_log.submit(lambda: seen.append(connections["default"].connection))
        request_log.flush()
    assert seen[0] is not None
    assert seen[0] is seen[1] is seen[2]  # not reopened for each row (SQLite's CONN_MAX_AGE is 0)
    assert [row.request_id for row in _rows()] == ["kept-0", "kept-1", "kept-2"]


def test_a_dropped_connection_is_reopened_without_losing_the_row(echo_model):
    from django.db import connections

    request_log.record(_values(request_id="before"))
    request_log.flush()
    # What a database restart does to the writer's kept connection: closed under Django's feet.
    request_log.submit(lambda: connections["default"].connection.close())
    request_log.flush()
    request_log.record(_values(request_id="after"))
    assert [row.request_id for row in _rows()] == ["before", "after"]


def test_cost_needs_a_price():
    model = factories.make_model(input_price_per_mtok=None, output_price_per_mtok=None)
    from providers.snapshot import get_snapshot

    info = get_snapshot().models[model.id]
    assert request_log.cost_of(info, Usage(prompt_tokens=10, completion_tokens=10)) is None
    assert request_log.cost_of(None, Usage(prompt_tokens=10)) is None


def test_key_use_is_recorded_off_the_request_path(openai_client, echo_model, chat_key):
    from access.models import ApiKey

    openai_client.chat.completions.create(model="echo/echo", messages=HI)
    request_log.flush()
    assert ApiKey.objects.get(prefix=chat_key.split("_")[1]).last_used_at is not None


def _values(**fields):
    return {"status_code": 200, "latency_ms": 1.0, "model_name": "echo/echo", **fields}


def test_a_burst_is_written_in_batches_and_completely(echo_model):
    for number in range(450):
        request_log.record(_values(request_id=f"chatcmpl-{number}"))
    rows = _rows()
    assert len(rows) == 450
    assert [row.request_id for row in rows] == [f"chatcmpl-{number}" for number in range(450)]


def test_a_row_whose_links_vanished_is_kept_without_them(echo_model):
    request_log.record(_values(request_id="good", model_id=echo_model.id, provider_id=echo_model.provider_id))
    request_log.record(_values(request_id="orphan", model_id=echo_model.id + 1000, provider_id=echo_model.provider_id))
    good, orphan = _rows()
    assert (good.request_id, good.model_id) == ("good", echo_model.id)
    assert (orphan.request_id, orphan.model_id, orphan.provider_id, orphan.model_name) == (
        "orphan",
        None,
        None,
        "echo/echo",
    )
