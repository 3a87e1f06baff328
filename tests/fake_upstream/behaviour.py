"""What the fake upstream does for one request: `Behaviour` and the small constructors tests use.

    from tests.fake_upstream import behaviour as fb

    fake_upstream.enqueue(fb.error(429, retry_after="3600"))
    fake_upstream.set_behaviour("gpt-4o", fb.answer("Hi", tool_calls=[fb.tool_call("get_weather", {"city": "Paris"})]))

A field left at its default means "as the fake model would answer by itself"
(see `server.py` for the default answers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass
class Behaviour:
    """One scripted response. Several fields combine (e.g. `chunk_delay` with `cut_after`)."""

    #: The answer's text (None: the default answer; "" : no text).
    text: str | None = None
    #: Tool calls to make: [{"name", "arguments": dict | str, "id": optional}].
    tool_calls: list[dict[str, Any]] | None = None
    #: A thinking block (Anthropic) / `reasoning_content` (OpenAI-compatible servers).
    thinking: str | None = None
    signature: str = "fake-signature-0123"
    #: (input tokens, output tokens); None: counted from the request and the answer.
    usage: tuple[int, int] | None = None
    #: The OpenAI `usage` object sent exactly as given (hostile values: negative, huge, floats, strings);
    #: overrides `usage` on the wire. OpenAI wire format only.
    usage_body: dict[str, Any] | None = None
    #: OpenAI vocabulary (stop, length, tool_calls, content_filter); Anthropic's is derived.
    finish_reason: str | None = None
    #: An HTTP error (>= 400) answered with the vendor's error body.
    status: int = 200
    message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    #: Retry-After (seconds) and retry-after-ms headers. When neither is set, retryable errors
    #: (429, 5xx) carry `retry-after-ms: <fast_retry_ms>` so the SDKs retry at once in tests.
    retry_after: str | None = None
    retry_after_ms: str | None = None
    fast_retry_ms: str | None = "1"
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before the response starts (a slow upstream).
    delay: float = 0.0
    #: Seconds to wait between streamed frames.
    chunk_delay: float = 0.0
    #: Seconds between a stream's headers (200) and its first frame (a model thinking before its first token).
    first_token_delay: float = 0.0
    #: Accept the request and never answer (until the client goes away).
    hang: bool = False
    #: Drop the connection after this many streamed frames (or mid-body when not streaming).
    cut_after: int | None = None
    #: With `cut_after`: send the vendor's in-stream error event instead of dropping the connection.
    stream_error: bool = False
    #: Answer this body as is (HTML, truncated JSON…), with `content_type` and `status`.
    raw_body: str | bytes | None = None
    content_type: str = "application/json"
    #: Answer a redirect to this URL ("" → the same path on `FakeUpstream.other_url`).
    redirect_to: str | None = None
    #: Hostile answers (hostile.py): a body of this many bytes with `status` (Content-Length unless `chunked`)...
    body_bytes: int | None = None
    chunked: bool = False
    #: ...a stream whose first line never ends (this many bytes)...
    sse_line_bytes: int | None = None
    #: ...a stream that sends an event with no text every `trickle` seconds, forever.
    trickle: float | None = None


def answer(
    text: str | None = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    thinking: str | None = None,
    **fields: Any,
) -> Behaviour:
    """A successful answer (streamed or not, as the request asks)."""
    return Behaviour(text=text, tool_calls=tool_calls, thinking=thinking, **fields)


def tool_call(name: str, arguments: dict[str, Any] | str, *, id: str | None = None) -> dict[str, Any]:  # noqa: A002
    return {"name": name, "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments), "id": id}


def error(
    status: int,
    message: str | None = None,
    *,
    type: str | None = None,  # noqa: A002  (the vendors' field name)
    code: str | None = None,
    retry_after: str | int | None = None,
    **fields: Any,
) -> Behaviour:
    """An HTTP error with the vendor's error body (type and code default per status)."""
    return Behaviour(
        status=status,
        message=message,
        error_type=type,
        error_code=code,
        retry_after=None if retry_after is None else str(retry_after),
        **fields,
    )


def context_length_error(**fields: Any) -> Behaviour:
    """The 400 each vendor answers when the prompt exceeds the context window."""
    return Behaviour(status=400, error_code="context_length_exceeded", message=None, **fields)


def overloaded(**fields: Any) -> Behaviour:
    """Anthropic's 529 overloaded_error."""
    return error(529, "Overloaded", type="overloaded_error", **fields)


def hostile_usage(usage_body: dict[str, Any], *, finish_reason: str | None = None, **fields: Any) -> Behaviour:
    """An answer whose `usage` object (and optionally `finish_reason`) is whatever an upstream may send."""
    return Behaviour(usage_body=usage_body, finish_reason=finish_reason, **fields)


def slow(delay: float, **fields: Any) -> Behaviour:
    return Behaviour(delay=delay, **fields)


def hang() -> Behaviour:
    return Behaviour(hang=True)


def raw(body: str | bytes, *, content_type: str = "text/html; charset=utf-8", status: int = 200) -> Behaviour:
    return Behaviour(raw_body=body, content_type=content_type, status=status)


def redirect(to: str = "", *, status: int = 307) -> Behaviour:
    return Behaviour(redirect_to=to, status=status)


def cut(after: int, *, stream_error: bool = False, **fields: Any) -> Behaviour:
    return Behaviour(cut_after=after, stream_error=stream_error, **fields)


def copy(behaviour: Behaviour, **changes: Any) -> Behaviour:
    return replace(behaviour, **changes)


def huge_body(size: int, *, status: int = 200, chunked: bool = False, **fields: Any) -> Behaviour:
    """A body of `size` bytes (JSON-looking for 200, an HTML page for an error status), sent piece by piece."""
    return Behaviour(body_bytes=size, status=status, chunked=chunked, **fields)


def endless_sse_line(size: int) -> Behaviour:
    """A 200 event stream whose first `data:` line runs `size` bytes without a newline."""
    return Behaviour(sse_line_bytes=size)


def trickle(every: float) -> Behaviour:
    """A 200 event stream that sends an event with no text every `every` seconds and never ends."""
    return Behaviour(trickle=every)
