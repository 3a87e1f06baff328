"""Every upstream fault of issue 6, end to end: the `openai` SDK → our /v1 (uvicorn) → adapter → fake upstream.

For each fault, for both vendors' adapters: the documented status and OpenAI
error body (SPEC §6 categories), the number of upstream hits (the SDK's
`max_retries` and nothing of ours), how long the answer took (the provider's
deadline, never an SDK default of 600 s or an upstream's `Retry-After: 3600`),
no planted key in the body, and exactly one request-log row.
(Adapter-level checks of the same faults: tests/providers/adapters/test_clients.py.)
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
import pytest

from chat import request_log
from chat.models import RequestLog
from providers import services
from tests.fake_upstream import behaviour as fb
from tests.reliability.conftest import ANTHROPIC_SECRET, OPENAI_SECRET, ciphertexts, leaked

pytestmark = pytest.mark.django_db(transaction=True)

HI = [{"role": "user", "content": "hi"}]
VENDORS = ["openai", "anthropic"]
SECRET = {"openai": OPENAI_SECRET, "anthropic": ANTHROPIC_SECRET}


@dataclass
class Fault:
    behaviour: fb.Behaviour
    status: int
    error_type: str
    category: str
    hits: int
    #: The answer comes back within this many seconds (the provider's timeout is 5 s unless `timeout`).
    within: float = 2.0
    at_least: float = 0.0
    timeout: float = 5
    max_retries: int = 2
    headers: dict[str, str] = field(default_factory=dict)
    words: str = ""


FAULTS = {
    # The upstream asks for an hour: answered at once with its Retry-After, no retry, no parked worker.
    "429-retry-after-3600": Fault(fb.error(429, retry_after=3600), 429, "rate_limit_error", "rate_limit", hits=1,
                                  headers={"retry-after": "3600"}),
    # 2 s fits in the 3 s deadline once: one honoured wait, then the next would outlive it → the 429 at ~2 s.
    "429-retry-after-2": Fault(fb.error(429, retry_after=2), 429, "rate_limit_error", "rate_limit", hits=2,
                               timeout=3, at_least=1.9, within=2.9, headers={"retry-after": "2"}),
    "500": Fault(fb.error(500), 502, "api_error", "upstream_unavailable", hits=3),
    "502": Fault(fb.error(502), 502, "api_error", "upstream_unavailable", hits=3),
    "503": Fault(fb.error(503), 502, "api_error", "upstream_unavailable", hits=3),
    "529": Fault(fb.overloaded(), 502, "api_error", "upstream_unavailable", hits=3),
    "400": Fault(fb.error(400, "Bad field"), 400, "invalid_request_error", "invalid_request", hits=1),
    "401": Fault(fb.error(401, "Incorrect API key"), 401, "authentication_error", "authentication", hits=1),
    "403": Fault(fb.error(403, "Not allowed"), 403, "permission_error", "permission", hits=1),
    "404": Fault(fb.error(404, "No such model"), 404, "not_found_error", "not_found", hits=1),
    # Accept and never answer: a 504 at the configured 1 s timeout, not the SDK's 600 s, and no retry after it.
    "never-answers": Fault(fb.hang(), 504, "timeout_error", "timeout", hits=1, timeout=1, at_least=0.95,
                           within=1.9, words="1 s"),
    "html-200": Fault(fb.raw("<html><body>Gateway maintenance</body></html>"), 502, "api_error",
                      "upstream_unavailable", hits=1),
    "truncated-json-200": Fault(fb.raw('{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"ind',
                                       content_type="application/json"), 502, "api_error",
                                "upstream_unavailable", hits=1),
    "redirect-to-another-host": Fault(fb.redirect(), 502, "api_error", "upstream_unavailable", hits=1,
                                      words="redirect"),
}  # fmt: skip


def _rows() -> int:
    request_log.flush()
    return RequestLog.objects.count()


def _key_sent(request: Any) -> str:
    return request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")


def _call(client: openai.OpenAI, model: str, **fields: Any) -> tuple[openai.APIStatusError, float]:
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=model, messages=HI, **fields)
    return caught.value, time.monotonic() - started


def _assert_clean_error(error: openai.APIStatusError, status: int, error_type: str) -> None:
    assert error.status_code == status
    body = error.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == error_type
    assert body["error"]["message"]
    assert not leaked(error.response.text, *ciphertexts()), "a key or its ciphertext is in the error body"
    assert error.response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("name", list(FAULTS))
def test_upstream_fault_end_to_end(openai_client, planted, fake_upstream, vendor, name):
    fault = FAULTS[name]
    model = planted[vendor]
    services.provider_update(provider=model.provider, timeout_seconds=fault.timeout, max_retries=fault.max_retries)
    fake_upstream.set_behaviour(model.model_id, fault.behaviour)
    before = _rows()

    error, elapsed = _call(openai_client, model.qualified_id)

    _assert_clean_error(error, fault.status, fault.error_type)
    assert fault.words in error.body["message"]
    for header, value in fault.headers.items():
        assert error.response.headers[header] == value
    assert fault.at_least <= elapsed < fault.within, f"answered after {elapsed:.2f}s"
    assert fake_upstream.hit_count(model=model.model_id) == fault.hits
    # The key went to the configured host only (a followed redirect would reach `localhost`).
    assert {r.host.split(":")[0] for r in fake_upstream.requests} == {"127.0.0.1"}
    assert {_key_sent(r) for r in fake_upstream.requests} == {SECRET[vendor]}
    assert _rows() == before + 1
    row = RequestLog.objects.order_by("-id").first()
    assert (row.status_code, row.error_category, row.model_name) == (fault.status, fault.category, model.qualified_id)
    assert not leaked(row.error_message)


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("max_retries", [0, 1, 4])
def test_retryable_errors_are_retried_exactly_max_retries_times(openai_client, planted, fake_upstream, vendor,
                                                                max_retries):  # fmt: skip
    model = planted[vendor]
    services.provider_update(provider=model.provider, max_retries=max_retries)
    fake_upstream.set_behaviour(model.model_id, fb.error(503))
    error, _ = _call(openai_client, model.qualified_id)
    _assert_clean_error(error, 502, "api_error")
    assert fake_upstream.hit_count(model=model.model_id) == 1 + max_retries


#: A long enough answer that both vendors' streams have sent text when cut after 4 frames.
WORDS = "one two three four five six seven"


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("vendor", VENDORS)
def test_connection_refused(openai_client, planted, vendor):
    model = planted[vendor]
    suffix = "/v1" if vendor == "openai" else ""
    services.provider_update(provider=model.provider, base_url=f"http://127.0.0.1:{_closed_port()}{suffix}")
    before = _rows()
    error, elapsed = _call(openai_client, model.qualified_id)
    _assert_clean_error(error, 502, "api_connection_error")
    assert elapsed < 5  # the SDK's two retries back off for ~1.5 s at most; the deadline is 5 s
    assert _rows() == before + 1
    assert RequestLog.objects.order_by("-id").first().error_category == "connection"


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("stream_error", [False, True], ids=["connection-cut", "error-event"])
def test_stream_cut_midway(gateway, chat_key, planted, fake_upstream, vendor, stream_error):
    model = planted[vendor]
    fake_upstream.enqueue(fb.cut(after=4, stream_error=stream_error, text=WORDS))
    before = _rows()
    response = httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": model.qualified_id, "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {chat_key}"},
        timeout=10,
    )
    assert response.status_code == 200  # the stream had started: the failure is in the stream
    frames = [frame.removeprefix("data: ") for frame in response.text.split("\n\n") if frame]
    assert "[DONE]" not in frames
    *chunks, last = (json.loads(frame) for frame in frames)
    assert chunks and all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert set(last) == {"error"} and set(last["error"]) == {"message", "type", "param", "code"}
    assert not leaked(response.text, *ciphertexts())
    assert fake_upstream.hit_count(model=model.model_id) == 1  # a started stream is never replayed
    assert _rows() == before + 1
    row = RequestLog.objects.order_by("-id").first()
    assert row.status_code == 502 and row.error_category in ("connection", "upstream_unavailable")
    assert row.stream is True


@pytest.mark.parametrize("vendor", VENDORS)
def test_stream_cut_midway_through_the_sdk(openai_client, planted, fake_upstream, vendor):
    model = planted[vendor]
    fake_upstream.enqueue(fb.cut(after=4, text=WORDS))
    stream = openai_client.chat.completions.create(model=model.qualified_id, messages=HI, stream=True)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert received
    assert caught.value.body["type"] in ("api_error", "api_connection_error")
    assert not leaked(json.dumps(caught.value.body))
