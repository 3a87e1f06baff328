"""Upstream errors → our categories and statuses (SPEC §6), for both SDKs, over HTTP.

Each row: what the fake upstream answers → the category → the status our /v1 answers.
"""

from __future__ import annotations

import socket

import anthropic
import httpx2
import openai
import pytest

from providers.adapters import errors
from providers.adapters.anthropic_sdk import AnthropicAdapter
from providers.adapters.errors import error_from_response, map_provider_error, scrub
from providers.adapters.openai_sdk import OpenAIAdapter
from tests.fake_upstream import behaviour as fb
from tests.providers.adapters.support import ANTHROPIC_KEY, OPENAI_KEY, ask, provider_info, run

TABLE = [
    # (upstream answer, category, our status)
    (fb.error(400), "invalid_request", 400),
    (fb.context_length_error(), "context_length", 400),
    (fb.error(401), "authentication", 401),
    (fb.error(403), "permission", 403),
    (fb.error(404), "not_found", 404),
    (fb.error(408), "timeout", 504),
    (fb.error(413), "context_length", 400),
    (fb.error(422), "invalid_request", 400),
    (fb.error(429, retry_after="7"), "rate_limit", 429),
    (fb.error(500), "upstream_unavailable", 502),
    (fb.error(502), "upstream_unavailable", 502),
    (fb.error(503), "upstream_unavailable", 502),
    (fb.overloaded(), "upstream_unavailable", 502),
    (fb.redirect(), "upstream_unavailable", 502),
]


def _adapter(vendor: str, fake_upstream, **fields):
    if vendor == "openai":
        return OpenAIAdapter(provider_info(kind="openai", base_url=fake_upstream.url + "/v1", **fields))
    return AnthropicAdapter(provider_info(kind="anthropic", base_url=fake_upstream.url, key=ANTHROPIC_KEY, **fields))


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
@pytest.mark.parametrize(("behaviour", "category", "status"), TABLE, ids=lambda v: getattr(v, "status", v))
def test_upstream_status_to_category_and_status(fake_upstream, vendor, behaviour, category, status):
    fake_upstream.set_behaviour("m", behaviour)
    with pytest.raises(errors.ProviderError) as caught:
        run(_adapter(vendor, fake_upstream, max_retries=0).complete(ask("m")))
    error = caught.value
    assert (error.category, error.status_code) == (category, status)
    assert errors.BY_CATEGORY[category] is type(error)
    assert error.provider == vendor
    assert error.as_openai()["error"]["message"] == error.message
    if behaviour.redirect_to is None:
        assert error.upstream_status == behaviour.status
        assert error.upstream_request_id.startswith("req_")
        # the upstream's own message is kept
        assert (behaviour.message or "") in error.message
    if category == "rate_limit":
        assert error.retry_after == "7"


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_a_key_echoed_by_the_upstream_is_never_passed_on(fake_upstream, vendor):
    key = OPENAI_KEY if vendor == "openai" else ANTHROPIC_KEY
    fake_upstream.enqueue(fb.error(401, f"Incorrect API key provided: {key}. Also sk-proj-leaked0123456789."))
    with pytest.raises(errors.AuthenticationError) as caught:
        run(_adapter(vendor, fake_upstream).complete(ask("m")))
    message = caught.value.message
    assert key not in message
    assert "sk-proj-leaked" not in message
    assert "Incorrect API key provided: [redacted]" in message


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_nobody_listening_is_a_connection_error(vendor):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}" + ("/v1" if vendor == "openai" else "")
    adapter_cls = OpenAIAdapter if vendor == "openai" else AnthropicAdapter
    adapter = adapter_cls(provider_info(kind=vendor, base_url=base, max_retries=0))
    with pytest.raises(errors.ConnectionError) as caught:
        run(adapter.complete(ask("m")))
    assert (caught.value.category, caught.value.status_code) == ("connection", 502)


def test_map_provider_error_dispatches_real_sdk_exceptions_and_scrubs_the_providers_key(fake_upstream):
    provider = provider_info(kind="openai", base_url=fake_upstream.url + "/v1", key=OPENAI_KEY)
    fake_upstream.enqueue(fb.error(403, f"key {OPENAI_KEY} may not use this model"))
    client = openai.OpenAI(base_url=provider.base_url, api_key=OPENAI_KEY, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as raised:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    mapped = map_provider_error(raised.value, provider=provider)
    assert isinstance(mapped, errors.PermissionDeniedError)
    assert OPENAI_KEY not in mapped.message and mapped.provider == "openai"

    fake_upstream.enqueue(fb.overloaded())
    client = anthropic.Anthropic(base_url=fake_upstream.url, api_key=ANTHROPIC_KEY, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as raised:
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    mapped = map_provider_error(raised.value, provider="anthropic")
    assert (mapped.category, mapped.upstream_status, mapped.provider) == ("upstream_unavailable", 529, "anthropic")


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (TimeoutError(), "timeout"),
        (httpx2.ReadTimeout("slow"), "timeout"),
        (httpx2.ConnectError("refused"), "connection"),
        (ValueError("Expecting value: line 1 column 1"), "upstream_unavailable"),
        (RuntimeError("boom"), "upstream_unavailable"),
        (errors.RateLimitError("kept as is"), "rate_limit"),
    ],
)
def test_map_provider_error_below_the_sdks(exc, category):
    assert map_provider_error(exc, provider="p").category == category


@pytest.mark.parametrize(
    ("body", "category"),
    [
        ({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "upstream_unavailable"),
        ({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}, "rate_limit"),
        ({"error": {"message": "prompt is too long", "type": "invalid_request_error"}}, "context_length"),
        ({"error": {"message": "bad", "type": "invalid_request_error"}}, "invalid_request"),
        ("not json at all", "upstream_unavailable"),
    ],
)
def test_errors_inside_a_stream_are_classified_by_their_body(body, category):
    assert error_from_response(None, None, body, provider="p").category == category


def test_retry_after_ms_is_passed_on_in_whole_seconds():
    error = error_from_response(429, {"retry-after-ms": "1500"}, b"{}", provider="p")
    assert error.retry_after == "2"


def test_scrub():
    assert scrub("key sk-abc123456789 and Bearer tok.en here", ["tok.en"]) == "key [redacted] and [redacted] here"
    assert scrub("nothing secret", ["sk-x"]) == "nothing secret"


# --- issue 14: what of an upstream's answer reaches a client ----------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, "7"),
        ({"retry-after": " 86400 "}, "86400"),
        ({"retry-after": "86401"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, "0"),
        ({"retry-after": "3\nX-Injected: 1"}, None),
        ({"retry-after": "1.5"}, None),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "٣"}, None),  # a digit to str.isdigit(), not to HTTP
        ({"retry-after": "9" * 100_000}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "nan"}, None),
        ({"retry-after-ms": "inf"}, None),
        ({"retry-after-ms": "1e300"}, None),
        ({"retry-after-ms": "250"}, "1"),
        ({}, None),
    ],
)
def test_retry_after_is_whole_bounded_seconds_or_nothing(headers, expected):
    assert errors.retry_after_value(headers) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<html><head><style>p{}</style><script>alert(1)</script></head><body><h1>Bad&nbsp;gateway</h1></body>",
         "Bad gateway"),
        ("line one\r\n\tline\x00two \x1b[31mred\x1b[0m", "line one line two red"),
        ("&lt;script&gt;alert(1)&lt;/script&gt; done", "alert(1) done"),
        ("a\u202eb\u200bc", "a b c"),
        ("x" * 1000, "x" * 199 + "…"),
    ],
    ids=["html", "controls-and-ansi", "escaped-markup", "bidi-and-zero-width", "long"],
)  # fmt: skip
def test_an_excerpt_is_short_printable_text(text, expected):
    assert errors.excerpt(text) == expected


def test_an_html_error_page_becomes_a_short_message_and_its_code_a_token():
    page = "<html><body><h1>Oops</h1>" + "<p>detail</p>" * 500 + "</body></html>"
    error = error_from_response(502, {"x-request-id": "req\r\n1"}, page.encode(), provider="p")
    assert error.message.startswith("Upstream provider 'p' answered 502: Oops detail detail")
    assert len(error.message) <= 240
    assert error.upstream_request_id == "req1"
    coded = error_from_response(400, {}, b'{"error": {"message": "m", "code": "bad code\\n<b>' + b"x" * 200 + b'"}}')
    assert coded.code is not None and len(coded.code) <= 64 and coded.code.startswith("badcodebx")
