"""chat/request_log.py: values a client or an upstream controls cannot cost anyone's row (issue 14, item 3).

Bad values (NUL, a `finish_reason` longer than its column, negative and huge token
counts, NUL and lone surrogates in logged content) are sent among good requests,
through the live gateway with the official `openai` SDK and the fake upstream; every
request must have its row, its values normalised to what the columns hold. Each
batch of the writer holds good and bad rows together (the requests come faster than
its 100 ms linger), which is what used to lose the good ones too.
"""

from __future__ import annotations

import json
import logging
import timeit

import httpx2
import openai
import pytest

from chat import request_log
from chat.models import RequestLog
from tests.fake_upstream import behaviour as fb

pytestmark = pytest.mark.django_db(transaction=True)

HI = [{"role": "user", "content": "hello world"}]
INT_MAX = 2_147_483_647  # PositiveIntegerField's range on every backend Django supports (0 … 2**31 - 1)


def _rows() -> list[RequestLog]:
    request_log.flush()
    return list(RequestLog.objects.order_by("id"))


def _good(client: openai.OpenAI, count: int) -> None:
    for _ in range(count):
        client.chat.completions.create(model="fake-openai/mini", messages=HI)


def test_bad_values_among_good_requests_lose_no_row(openai_client, openai_model, fake_upstream, caplog):
    caplog.set_level(logging.WARNING, logger="chat.request_log")
    statuses = []

    def bad(behaviour: fb.Behaviour | None = None, *, model: str = "fake-openai/mini", stream: bool = False) -> None:
        if behaviour is not None:
            fake_upstream.enqueue(behaviour)
        try:
            if stream:
                list(openai_client.chat.completions.create(model=model, messages=HI, stream=True))
            else:
                openai_client.chat.completions.create(model=model, messages=HI)
            statuses.append(200)
        except openai.APIStatusError as exc:
            statuses.append(exc.status_code)

    _good(openai_client, 5)
    bad(model="fake-openai/mi\x00ni")  # the model string asked is copied into the row
    _good(openai_client, 5)
    bad(fb.answer("ok", finish_reason="x" * 100))
    bad(fb.hostile_usage({"prompt_tokens": -5, "completion_tokens": 10**20, "total_tokens": 1}))
    _good(openai_client, 5)
    bad(fb.hostile_usage({"prompt_tokens": 1e300, "completion_tokens": 2**31}, finish_reason="stop\x00" + "y" * 40))
    bad(fb.hostile_usage({"prompt_tokens": INT_MAX, "completion_tokens": INT_MAX}), stream=True)
    bad(fb.error(400, "bad\x00request"))
    _good(openai_client, 5)

    rows = _rows()
    assert len(rows) == 20 + len(statuses), f"{20 + len(statuses) - len(rows)} row(s) lost"
    by_request = rows[5], rows[11], rows[12], rows[18], rows[19], rows[20]
    nul_model, long_finish, negative, huge, stream, error = by_request
    assert nul_model.model_name == "fake-openai/mini" and nul_model.status_code == statuses[0]
    assert long_finish.finish_reason == "x" * 32
    assert (negative.prompt_tokens, negative.completion_tokens, negative.total_tokens) == (0, INT_MAX, INT_MAX)
    assert (huge.prompt_tokens, huge.completion_tokens) == (INT_MAX, INT_MAX)
    assert huge.finish_reason == ("stop" + "y" * 40)[:32]
    assert huge.cost is not None and huge.cost > 0  # the cost of clamped counts fits its column
    assert (stream.stream, stream.total_tokens) == (True, INT_MAX)
    assert error.status_code == 400 and "\x00" not in error.error_message
    good = [row for row in rows if row not in by_request]
    assert all(row.status_code == 200 and row.prompt_tokens == 2 for row in good)
    assert "dropped" not in caplog.text


def test_bad_content_is_logged_cleaned_with_log_chat_content(gateway, chat_key, openai_model, fake_upstream, settings):
    settings.LOG_CHAT_CONTENT = True
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=chat_key, max_retries=0, timeout=20)
    nul_messages = [{"role": "user", "content": "a\x00b"}, {"role": "user", "content": "k\x00", "name": "n\x00"}]
    _good(client, 3)
    fake_upstream.enqueue(fb.answer("bad\x00answer"))
    client.chat.completions.create(model="fake-openai/mini", messages=nul_messages)
    _good(client, 3)
    # A lone surrogate is valid JSON (an escape) but no UTF-8: the SDK cannot send it, so raw HTTP does.
    body = '{"model": "fake-openai/mini", "messages": [{"role": "user", "content": "x\\ud800y"}]}'
    response = httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        content=body.encode(),
        headers={"Authorization": f"Bearer {chat_key}", "Content-Type": "application/json"},
    )
    _good(client, 3)
    client.close()

    rows = _rows()
    assert len(rows) == 11, f"{11 - len(rows)} row(s) lost"
    nul, surrogate = rows[3], rows[7]
    assert nul.request_content == [{"role": "user", "content": "ab"}, {"role": "user", "content": "k", "name": "n"}]
    assert nul.response_content == "badanswer"
    assert surrogate.status_code == response.status_code
    assert "\ud800" not in json.dumps(surrogate.request_content, ensure_ascii=False, default=str).encode(
        "utf-8", "surrogatepass"
    ).decode("utf-8", "replace")


def test_a_truly_bad_row_is_the_only_one_lost_and_its_reason_is_logged(echo_model, caplog):
    """Normalisation cannot foresee everything: a row the database still refuses (here a value of a
    type no column takes, as a future bug might hand over) costs only itself, with one log line."""
    caplog.set_level(logging.WARNING, logger="chat.request_log")
    values = {"status_code": 200, "latency_ms": 1.0, "model_name": "echo/echo"}
    for number in range(5):
        request_log.record({**values, "request_id": f"good-{number}"})
    request_log.record({**values, "request_id": "bad", "request_content": {"not json": object()}})
    for number in range(5, 10):
        request_log.record({**values, "request_id": f"good-{number}"})
    assert [row.request_id for row in _rows()] == [f"good-{number}" for number in range(10)]
    [line] = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert "bad" in line.getMessage() and "TypeError" in line.getMessage()
    assert "object at 0x" not in line.getMessage()  # the reason, not the value


def test_normalising_a_row_is_cheap():
    """The normalisation runs on the request's thread: it must stay a few microseconds."""
    from django.utils import timezone

    row = {
        "created_at": timezone.now(),
        "request_id": "chatcmpl-0123456789abcdef",
        "source": "api",
        "provider_id": 1,
        "provider_slug": "openai",
        "model_id": 2,
        "model_name": "openai/gpt-4o-mini",
        "api_key_id": 3,
        "user_id": 4,
        "stream": True,
        "status_code": 200,
        "error_category": "",
        "error_message": "",
        "finish_reason": "stop",
        "latency_ms": 812.5,
        "ttft_ms": 120.25,
        "prompt_tokens": 12,
        "completion_tokens": 80,
        "total_tokens": 92,
        "cost": None,
        "request_content": None,
        "response_content": "",
    }
    runs = 20_000
    seconds = min(timeit.repeat(lambda: request_log.normalise(row), number=runs, repeat=3)) / runs
    print(f"normalise: {seconds * 1e6:.2f} µs per row")
    assert seconds < 50e-6
