"""Size limits on what an upstream sends, enforced while the body is read (issue 14, item 5).

Three limits per provider (`Provider.max_response_bytes`, `max_error_body_bytes`,
`max_sse_event_bytes`; empty: the `UPSTREAM_MAX_*` settings, 32 MB / 1 MB / 4 MB):

- a non-streamed answer body: past the limit, reading stops, the connection is
  dropped and the call fails with `ResponseTooLargeError` (a 502 naming the limit);
- an error answer (status >= 300): read up to the limit, then cut (the connection
  dropped); the call fails with the same 502, never with megabytes of error page;
- one server-sent event of a stream (bytes since the last blank line, so one
  endless line and an endless run of lines are both bounded): the stream fails
  with `ResponseTooLargeError`, which the chat layer sends as one error event.

`guard()` swaps a response's byte stream for a bounded one from the client's
response hook (clients.py), before anything reads the body, so it holds for our
transport and for `httpx2`'s own (used with a proxy) alike. We ask upstreams for
`Accept-Encoding: identity`; a compressed answer sent anyway is inflated here, in
bounded pieces, with the limits applied to the inflated bytes (a small gzip bomb
stays small), and an encoding we cannot bound (br, zstd) is refused.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
from django.conf import settings

from providers.adapters import errors

#: `response.extensions` key: the ResponseTooLargeError of an error body that was cut at its limit.
EXCEEDED = "modeldesk.limit_exceeded"
#: Largest piece inflated from a compressed body at once.
_INFLATE_PIECE = 64 * 1024
_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ResponseLimits:
    """Bytes one provider's answers may have: a body, an error body, one SSE event."""

    body: int
    error_body: int
    sse_event: int

    @classmethod
    def for_provider(cls, provider: Any) -> ResponseLimits:
        """The provider's own limits, each falling back to its `UPSTREAM_MAX_*` setting."""
        return cls(
            body=getattr(provider, "max_response_bytes", None) or settings.UPSTREAM_MAX_RESPONSE_BYTES,
            error_body=getattr(provider, "max_error_body_bytes", None) or settings.UPSTREAM_MAX_ERROR_BODY_BYTES,
            sse_event=getattr(provider, "max_sse_event_bytes", None) or settings.UPSTREAM_MAX_SSE_EVENT_BYTES,
        )


def size(n: int) -> str:
    """`33554432` → `32 MB` (binary units, as the settings are written)."""
    if n >= _MB and n % _MB == 0:
        return f"{n // _MB} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n} bytes"


def exceeded(response: httpx2.Response | None) -> errors.ProviderError | None:
    """The limit error recorded on a response whose error body was cut, if any."""
    return None if response is None else response.extensions.get(EXCEEDED)


def guard(response: httpx2.Response, limits: ResponseLimits, provider: str) -> None:
    """Bound the body of `response` by the provider's limits (call before anything reads it)."""
    if response.status_code >= 300:
        what, limit, setting = "error answer", limits.error_body, "max_error_body_bytes"
    elif response.headers.get("content-type", "").lower().startswith("text/event-stream"):
        what, limit, setting = "one server-sent event of the answer", limits.sse_event, "max_sse_event_bytes"
    else:
        what, limit, setting = "answer", limits.body, "max_response_bytes"
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflate = None
    if encoding not in ("", "identity"):
        if encoding not in ("gzip", "x-gzip", "deflate"):
            unsupported = errors.UpstreamUnavailableError(
                f"Upstream provider {provider!r} answered with Content-Encoding {encoding[:20]!r}, which ModelDesk "
                "did not ask for and does not inflate.",
                provider=provider,
                upstream_status=response.status_code,
            )
            response.stream = _Refused(response.stream, unsupported)
            return
        inflate = encoding
        del response.headers["content-encoding"]  # inflated here, bounded: httpx2 must not inflate it again
    response.stream = _Bounded(response, limit, (what, setting, provider), inflate=inflate)


class _Bounded(httpx2.AsyncByteStream):
    """The raw stream of a response, counted (and inflated) as it is read."""

    def __init__(
        self, response: httpx2.Response, limit: int, names: tuple[str, str, str], *, inflate: str | None
    ) -> None:
        self._response = response
        self._inner = response.stream
        self._limit = limit
        self._names = names  # what, setting, provider: the error is built only when the limit is passed
        self._cut = response.status_code >= 300
        self._events = names[1] == "max_sse_event_bytes"
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 32) if inflate else None  # gzip or zlib, detected
        self._raw_deflate = inflate == "deflate"
        self._seen = 0  # bytes of the body (or, for events, since the last event's end)
        self._tail = b""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        declared = self._response.headers.get("content-length", "")
        plain_body = not (self._cut or self._events or self._inflater)
        if plain_body and declared.isdigit() and int(declared) > self._limit:
            await self.aclose()
            raise self._too_large()  # known before reading a byte
        async for raw in self._inner:  # type: ignore[union-attr]
            for piece in self._inflate(raw):
                if self._events:
                    self._count_event_bytes(piece)
                else:
                    self._seen += len(piece)
                if self._seen > self._limit:
                    await self.aclose()  # drops the connection: the rest is never read
                    if not self._cut:
                        raise self._too_large()
                    keep = len(piece) - (self._seen - self._limit)
                    if keep > 0:
                        yield piece[:keep]
                    self._response.extensions[EXCEEDED] = self._too_large()
                    return
                yield piece

    def _too_large(self) -> errors.ResponseTooLargeError:
        what, setting, provider = self._names
        return errors.ResponseTooLargeError(
            f"The {what} of upstream provider {provider!r} exceeded ModelDesk's {size(self._limit)} limit "
            f"({setting}); reading stopped there.",
            provider=provider,
            upstream_status=self._response.status_code,
        )

    def _inflate(self, raw: bytes) -> list[bytes]:
        if self._inflater is None:
            return [raw]
        pieces = []
        try:
            data = self._inflater.decompress(raw, _INFLATE_PIECE)
            while data:
                pieces.append(data)
                if self._seen + sum(map(len, pieces)) > self._limit:
                    break  # enough to know the limit is passed: inflate no further
                data = self._inflater.decompress(self._inflater.unconsumed_tail, _INFLATE_PIECE)
        except zlib.error:
            if not self._raw_deflate or self._seen:
                raise httpx2.DecodingError("The upstream sent a body that does not inflate.") from None
            self._raw_deflate = False  # `deflate` sent without its zlib header, as some servers do
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflate(raw)
        return pieces

    def _count_event_bytes(self, piece: bytes) -> None:
        """Bytes since the end of the last event (a blank line: LF LF, CR CR or CRLF CRLF)."""
        data = self._tail + piece
        end = max(
            (at + len(blank) for blank in (b"\n\n", b"\r\r", b"\r\n\r\n") if (at := data.rfind(blank)) >= 0),
            default=-1,
        )
        if end >= 0:
            self._seen = len(data) - end
        else:
            self._seen += len(piece)
        self._tail = data[-3:]

    async def aclose(self) -> None:
        await self._inner.aclose()  # type: ignore[union-attr]


class _Refused(httpx2.AsyncByteStream):
    """A body that is not read at all: its first read raises `error`."""

    def __init__(self, inner: Any, error: errors.ProviderError) -> None:
        self._inner, self._error = inner, error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        await self.aclose()
        raise self._error
        yield b""  # pragma: no cover  (makes this an async generator)

    async def aclose(self) -> None:
        await self._inner.aclose()
