"""Hostile upstreams of issue 14, end to end: the `openai` SDK → our /v1 (uvicorn) → adapter → fake upstream.

- item 5: a huge answer, a huge error page and an endless SSE line end in a 502 naming
  the limit, after reading about the limit (the fake upstream counts what it got out),
  with the process's memory bounded (its RSS sampled while the call runs);
- item 14: a stream that trickles empty chunks is ended at `stream_timeout_seconds`
  with one timeout error event, and the upstream call is cancelled;
- item 15: a request that finds the provider's pool full is our 503, not an upstream 504;
- item 16: an upstream's `Retry-After` is passed on only as valid, bounded whole seconds;
- item 10: an upstream's error page reaches the client only as a short, sanitised excerpt.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.utils import formatdate

import httpx2
import openai
import pytest

from chat import request_log
from chat.models import RequestLog
from providers import services
from tests.fake_upstream import behaviour as fb
from tests.fake_upstream.raw import RawUpstream
from tests.reliability.conftest import ciphertexts, leaked

pytestmark = pytest.mark.django_db(transaction=True)

HI = [{"role": "user", "content": "hi"}]
VENDORS = ["openai", "anthropic"]
MB = 1024 * 1024
#: What the kernel's socket buffers and uvicorn may hold beyond what the gateway read.
IN_FLIGHT = 16 * MB


def _last_row() -> RequestLog:
    request_log.flush()
    return RequestLog.objects.order_by("-id").first()


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


@contextmanager
def _peak_rss() -> Iterator[dict[str, int]]:
    """The process's RSS growth at its peak while the block runs (sampled every 5 ms)."""
    figures = {"base": _rss(), "peak": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            figures["peak"] = max(figures["peak"], _rss())
            done.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield figures
    finally:
        done.set()
        sampler.join()
        figures["growth"] = max(0, figures["peak"] - figures["base"])


def _stream_error(client: openai.OpenAI, model: str) -> tuple[openai.APIError, int, float]:
    """Read a stream to its error event: (the SDK's error, chunks before it, seconds it took)."""
    started = time.monotonic()
    chunks = 0
    stream = client.chat.completions.create(model=model, messages=HI, stream=True)
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            chunks += 1
            assert time.monotonic() - started < 15, "the stream was never ended"
    return caught.value, chunks, time.monotonic() - started


# --- item 5: size limits ----------------------------------------------------------------------

#: name → (behaviour, streamed?, the limit's setting, the per-provider limit set for the test)
HOSTILE: dict[str, tuple[fb.Behaviour, bool, str, int]] = {
    "body-content-length": (fb.huge_body(256 * MB), False, "max_response_bytes", MB),
    "body-chunked": (fb.huge_body(256 * MB, chunked=True), False, "max_response_bytes", MB),
    "error-page": (fb.huge_body(256 * MB, status=500), False, "max_error_body_bytes", 64 * 1024),
    "error-page-chunked": (fb.huge_body(256 * MB, status=503, chunked=True), False, "max_error_body_bytes", 64 * 1024),
    "endless-sse-line": (fb.endless_sse_line(256 * MB), True, "max_sse_event_bytes", 256 * 1024),
}


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_huge_answer_is_a_502_naming_the_limit(openai_client, planted, fake_upstream, vendor, name):
    behaviour, streamed, setting, limit = HOSTILE[name]
    model = planted[vendor]
    services.provider_update(provider=model.provider, **{setting: limit})
    fake_upstream.enqueue(behaviour, times=3)

    if streamed:
        error, _, _ = _stream_error(openai_client, model.qualified_id)
        body = error.body
    else:
        with pytest.raises(openai.APIStatusError) as caught:
            openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
        error = caught.value
        assert error.status_code == 502
        body = error.response.json()["error"]
    assert body["code"] == "upstream_response_too_large"
    assert body["type"] == "api_error"
    size = f"{limit // MB} MB" if limit >= MB else f"{limit // 1024} KB"
    assert f"exceeded ModelDesk's {size} limit ({setting})" in body["message"]
    assert model.provider.slug in body["message"]
    assert not leaked(json.dumps(body), *ciphertexts())
    hits = fake_upstream.requests_for(model=model.model_id)
    # Read up to the limit, then the connection was dropped: never the 256 MB. (The anthropic SDK
    # retries a body that failed while it was read, as a connection error: each attempt is bounded.)
    assert hits and all(hit.bytes_sent < limit + IN_FLIGHT for hit in hits), [h.bytes_sent for h in hits]
    assert len(hits) == (3 if vendor == "anthropic" and name.startswith("body") else 1)
    row = _last_row()
    assert (row.status_code, row.error_category) == (502, "upstream_unavailable")
    assert "exceeded ModelDesk's" in row.error_message


#: The issue's own figures: a 1 GB answer, a 300 MB error page, a 1 GB SSE line, under the default limits.
ISSUE_FIGURES = {
    "1GB-answer": (fb.huge_body(1024 * MB), False),
    "300MB-error-page": (fb.huge_body(300 * MB, status=500), False),
    "1GB-sse-line": (fb.endless_sse_line(1024 * MB), True),
}


@pytest.mark.parametrize("name", list(ISSUE_FIGURES))
def test_memory_stays_bounded_under_the_default_limits(openai_client, planted, fake_upstream, name, capsys):
    behaviour, streamed = ISSUE_FIGURES[name]
    model = planted["openai"]
    fake_upstream.enqueue(behaviour)
    started = time.monotonic()
    with _peak_rss() as rss:
        if streamed:
            error, _, _ = _stream_error(openai_client, model.qualified_id)
            message = error.body["message"]
        else:
            with pytest.raises(openai.APIStatusError) as caught:
                openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
            assert caught.value.status_code == 502
            message = caught.value.response.json()["error"]["message"]
    elapsed = time.monotonic() - started
    sent = fake_upstream.requests_for(model=model.model_id)[0].bytes_sent
    with capsys.disabled():
        print(f"\n[{name}] RSS growth {rss['growth'] / MB:.0f} MB, upstream sent {sent / MB:.0f} MB, {elapsed:.2f} s")
    assert "exceeded ModelDesk's" in message
    limit = {"1GB-answer": 32 * MB, "300MB-error-page": MB, "1GB-sse-line": 4 * MB}[name]
    assert sent < limit + IN_FLIGHT
    assert rss["growth"] < 160 * MB  # before the limits: +3.1 GB, +1.1 GB, +1.9 GB


# --- item 14: the stream's total deadline -------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_trickling_stream_is_ended_at_its_total_limit(openai_client, planted, fake_upstream, vendor):
    model = planted[vendor]
    services.provider_update(provider=model.provider, timeout_seconds=5, stream_timeout_seconds=2)
    fake_upstream.enqueue(fb.trickle(0.2))

    error, chunks, elapsed = _stream_error(openai_client, model.qualified_id)

    assert 1.8 <= elapsed < 4, f"held {elapsed:.2f} s"
    assert chunks >= 1  # it had started: the end is one error event, not a status
    assert error.body["type"] == "timeout_error" and error.body["code"] == "timeout"
    assert "total limit of 2 s (stream_timeout_seconds)" in error.body["message"]
    upstream_call = fake_upstream.requests_for(model=model.model_id)[0]
    assert upstream_call.wait_disconnected(2), "the upstream call was not cancelled"
    assert upstream_call.frames_sent >= 5
    row = _last_row()
    assert (row.status_code, row.error_category, row.stream) == (504, "timeout", True)


# --- item 15: a full pool is ours ---------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_full_pool_is_our_503_not_an_upstream_timeout(gateway, chat_key, openai_client, planted, fake_upstream,
                                                        vendor):  # fmt: skip
    model = planted[vendor]
    services.provider_update(provider=model.provider, timeout_seconds=1, max_connections=1, max_retries=0)
    fake_upstream.enqueue(fb.answer("one two three", chunk_delay=0.3))  # a slow stream holds the one connection
    holder = httpx2.Client(timeout=10)
    with holder.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": model.qualified_id, "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {chat_key}"},
    ) as held:
        assert held.status_code == 200
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as caught:
            openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
        elapsed = time.monotonic() - started
        held.read()
    holder.close()

    error = caught.value
    assert error.status_code == 503
    body = error.response.json()["error"]
    assert body["code"] == "connection_pool_full"
    assert f"ModelDesk's connection pool for provider '{model.provider.slug}' is full" in body["message"]
    assert "upstream" not in body["message"].split(":")[0]
    assert error.response.headers["retry-after"] == "1"
    assert elapsed < 3
    assert fake_upstream.hit_count(model=model.model_id) == 1  # the second request never reached it
    request_log.flush()
    rows = sorted(RequestLog.objects.values_list("status_code", "error_category"))
    assert rows == [(200, ""), (503, "capacity")]  # the held stream, then the refused request


# --- item 16: Retry-After -----------------------------------------------------------------------


def _in(seconds: int) -> str:
    return formatdate(time.time() + seconds, usegmt=True)


RETRY_AFTER: dict[str, tuple[Callable[[], str], str | None]] = {
    "seconds": (lambda: "120", "120"),
    "http-date": (lambda: _in(300), "300"),
    "past-date": (lambda: "Wed, 21 Oct 2015 07:28:00 GMT", "0"),
    "one-day": (lambda: "86400", "86400"),
    "over-a-day": (lambda: "86401", None),
    "fraction": (lambda: "1.5", None),
    "exponent": (lambda: "1e9", None),
    "negative": (lambda: "-5", None),
    "words": (lambda: "soon, maybe", None),
    "100KB": (lambda: "9" * 100_000, None),
}


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("name", list(RETRY_AFTER))
def test_retry_after_is_passed_on_only_as_bounded_whole_seconds(openai_client, planted, fake_upstream, vendor, name):
    value, expected = RETRY_AFTER[name]
    model = planted[vendor]
    services.provider_update(provider=model.provider, max_retries=0)
    fake_upstream.enqueue(fb.error(429, retry_after=value()))
    with pytest.raises(openai.RateLimitError) as caught:
        openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
    got = caught.value.response.headers.get("retry-after")
    if expected is not None and name == "http-date":
        assert got is not None and 295 <= int(got) <= 300
    else:
        assert got == expected


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_retry_after_with_a_bare_lf_is_not_an_empty_reply(openai_client, planted, vendor):
    model = planted[vendor]
    body = b'{"error": {"message": "slow down", "type": "rate_limit_error"}}'
    answer = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 3\nX-Injected: 1\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))  # fmt: skip
    with RawUpstream(answer) as raw:
        suffix = "/v1" if vendor == "openai" else ""
        services.provider_update(provider=model.provider, base_url=raw.url + suffix, max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
    error = caught.value
    assert error.status_code == 502  # the head is refused as malformed: nothing of it reaches the client
    assert set(error.response.json()["error"]) == {"message", "type", "param", "code"}
    assert "retry-after" not in error.response.headers
    assert "X-Injected" not in error.response.text


# --- item 10: error pages are excerpts ----------------------------------------------------------

PAGE = (
    "<!DOCTYPE html><html><head><title>Internal</title><style>body{color:red}</style>"
    "<script>var token='sk-internal-0123456789';</script></head><body>\x00\x1b[31m"
    "<h1>503   Service\tUnavailable</h1>\r\n<p>Backend <b>billing-db-7.internal</b> is down.</p>"
    + "<p>"
    + "stack frame line " * 400
    + "</p></body></html>"
)


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_upstream_error_page_reaches_the_client_as_a_short_clean_excerpt(openai_client, planted, fake_upstream,
                                                                            vendor):  # fmt: skip
    model = planted[vendor]
    services.provider_update(provider=model.provider, max_retries=0)
    fake_upstream.enqueue(fb.raw(PAGE, status=500))
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
    message = caught.value.response.json()["error"]["message"]
    upstream_part = message.split(": ", 1)[1]
    assert len(upstream_part) <= 200
    assert upstream_part.startswith("503 Service Unavailable Backend billing-db-7.internal is down.")
    for bad in ("<", ">", "\x00", "\x1b", "\t", "\r", "\n", "color:red", "sk-internal", "  "):
        assert bad not in message, bad
    assert _last_row().error_message == message


def test_the_connection_test_shows_an_excerpt_of_an_error_page(gateway, planted, fake_upstream):
    from tests import factories

    _, admin_key = factories.make_api_key(scopes=("admin",))
    model = planted["openai"]
    services.provider_update(provider=model.provider, max_retries=0)
    fake_upstream.enqueue(fb.raw(PAGE, status=500), endpoint="any", times=5)
    response = httpx2.post(
        f"{gateway.url}/api/config/providers/{model.provider.pk}/test/",
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    error = response.json()["error"]
    assert error and len(error) <= 300
    assert "<" not in error and "stack frame line stack frame line stack frame line" not in error[:120]


# --- item 9: what the operator's extra headers cannot do ------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{"X-Team": "blue\r\nX-Injected: 1"}, {"X-Team": "a\x01b"}, {"Bad Name": "x"}, {"Content-Length": "0"},
     {"Transfer-Encoding": "chunked"}, {"Host": "evil.example"}],
    ids=["crlf", "control", "name", "content-length", "transfer-encoding", "host"],
)  # fmt: skip
def test_extra_headers_that_would_break_the_request_are_refused_before_sending(openai_client, planted, fake_upstream,
                                                                               headers):  # fmt: skip
    from providers.models import Provider

    model = planted["openai"]
    # Written past the API's validation, as a row stored before it existed would be.
    Provider.objects.filter(pk=model.provider.pk).update(extra_headers=headers)
    services.provider_update(provider=Provider.objects.get(pk=model.provider.pk), max_retries=0)  # new version
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
    assert caught.value.status_code == 502
    assert caught.value.response.json()["error"]["code"] == "provider_misconfigured"
    assert fake_upstream.hit_count() == 0
