"""The one place upstream HTTP clients are built, and the deadline every upstream call runs under.

SPEC §6 "Upstream safety": an adapter never builds an `httpx2` client itself.
`http_client(provider)` gives one with redirects off (a redirect could carry the
key to another host) and per-operation timeouts at the provider's timeout;
`api_key(provider)` gives the key (`<SLUG>_API_KEY` first, else the stored
ciphertext, decrypted only here); `deadline(provider)` bounds a whole SDK call —
connection, every retry of the SDK's `max_retries` and every back-off or
`Retry-After` sleep — by the provider's `timeout_seconds`.

Why a response hook: the SDKs sleep for the upstream's `Retry-After` before
retrying (the anthropic SDK for any length, even 3600 s). When the wait would end
after the deadline, the hook marks the response `x-should-retry: false`, which
both SDKs obey, so the caller gets the upstream's own error (429 with its
`Retry-After`) at once instead of a timeout later. The hook also remembers the
last error response, so a deadline that fires during a back-off reports that
error rather than a bare timeout; and it bounds every body by the provider's size
limits before anything reads it (`limits.py`).

A stream has two clocks (`StreamDeadline`): each wait for the next event is
bounded by the provider's `timeout_seconds` (a long answer is not a slow one),
and the whole stream by its `stream_timeout_seconds` (an upstream trickling
empty chunks cannot hold a stream, a worker and a connection forever).

A request that finds every connection of the provider's pool busy
(`max_connections`, default `UPSTREAM_MAX_CONNECTIONS`) is ModelDesk's capacity
problem, not the upstream's: it fails with `PoolFullError` (503), whether the
pool's own wait or the deadline ran out first.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import functools
import logging
import os
import re
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
from django.conf import settings

from providers import crypto
from providers.adapters import errors, limits
from providers.adapters.transport import WAITING_FOR_POOL, UpstreamTransport
from providers.snapshot import ProviderInfo

logger = logging.getLogger(__name__)

SDKClient = TypeVar("SDKClient")

#: Idle connections kept per provider client at most (the SDKs' default is 100; a gateway needs fewer).
MAX_KEEPALIVE = 40
#: Connecting never needs longer than this, whatever the provider's timeout.
CONNECT_TIMEOUT = 10.0
#: A stream's total limit when the provider has none (`Provider.stream_timeout_seconds` defaults to it).
DEFAULT_STREAM_TIMEOUT = 600.0
#: Placeholder sent to keyless OpenAI-compatible servers (Ollama, LM Studio): the SDK requires a key.
NO_KEY_PLACEHOLDER = "no-key"  # noqa: S105  (not a secret)


def api_key(provider: ProviderInfo) -> str:
    """The provider's key at run time: `<SLUG>_API_KEY` from the environment, else the stored one.

    Raises ConfigurationError (nothing is sent) when the stored key cannot be decrypted.
    Returns "" when there is none.
    """
    from_env = os.environ.get(provider.env_key_name) if provider.env_key_name else None
    if from_env:
        return from_env
    if not provider.api_key_token:
        return ""
    try:
        return crypto.decrypt(provider.api_key_token)
    except crypto.DecryptionError:
        raise errors.ConfigurationError(
            f"The stored API key of provider {provider.slug!r} cannot be decrypted with FIELD_ENCRYPTION_KEYS "
            f"(the encryption key changed or is missing): restore the key in FIELD_ENCRYPTION_KEYS, enter the "
            f"API key again, or set {provider.env_key_name}. Nothing was sent upstream.",
            provider=provider.slug,
        ) from None


def required_api_key(provider: ProviderInfo) -> str:
    """Like `api_key()`, but a missing key is a ConfigurationError too."""
    key = api_key(provider)
    if not key:
        raise errors.ConfigurationError(
            f"Provider {provider.slug!r} has no API key: enter one in the admin or set {provider.env_key_name}. "
            "Nothing was sent upstream.",
            provider=provider.slug,
        )
    return key


def pool_limits(provider: ProviderInfo) -> httpx2.Limits:
    """The provider's connection pool: `max_connections` (else `UPSTREAM_MAX_CONNECTIONS`) per process."""
    size = getattr(provider, "max_connections", None) or settings.UPSTREAM_MAX_CONNECTIONS
    return httpx2.Limits(max_connections=size, max_keepalive_connections=min(size, MAX_KEEPALIVE), keepalive_expiry=30)


def timeout(provider: ProviderInfo) -> httpx2.Timeout:
    """Per-operation timeouts (connect, each read, each write, pool wait); `deadline()` bounds the sum."""
    seconds = float(provider.timeout_seconds)
    return httpx2.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT))


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~100 ms; one context serves every client (it is thread-safe).
    return httpx2.create_ssl_context()


def http_client(provider: ProviderInfo) -> httpx2.AsyncClient:
    """A new pooled async client for one provider: no redirects, the provider's timeouts, the deadline hook.

    Its transport is ours (`transport.py`: HTTP/1.1 keep-alive on asyncio streams, half the
    client-side CPU of `httpx2`'s default), unless the environment names a proxy, which only
    `httpx2`'s own transport handles. Either way the response hook bounds every body.
    """
    pool = pool_limits(provider)
    return httpx2.AsyncClient(
        verify=_ssl_context(),
        timeout=timeout(provider),
        follow_redirects=False,
        limits=pool,
        # Bodies are bounded as they arrive; a compressed one could only be bounded after inflating it.
        headers={"Accept-Encoding": "identity"},
        event_hooks={
            "request": [_on_request],
            "response": [_ResponseHook(provider.slug, limits.ResponseLimits.for_provider(provider))],
        },
        transport=None if proxy_configured() else UpstreamTransport(ssl_context=_ssl_context(), limits=pool),
    )


def proxy_configured() -> bool:
    """Whether `HTTP(S)_PROXY` or `ALL_PROXY` is set (in any case), as `httpx2` reads them."""
    return bool({"http", "https", "all"} & set(urllib.request.getproxies_environment()))


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: Headers ModelDesk sets itself: routing, framing, the connection, the key.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive",
                               "proxy-connection", "te", "trailer", "upgrade"})  # fmt: skip


def extra_headers(provider: ProviderInfo) -> dict[str, str]:
    """The operator's extra headers, as strings (JSON may hold numbers).

    Defence in depth behind the provider's validation: a name that is not a token,
    a value with CR/LF/NUL, or a framing/hop-by-hop header is refused before any
    client exists (`MisconfiguredProviderError`: nothing is sent).
    """
    headers = {str(k): str(v) for k, v in (provider.extra_headers or {}).items()}
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name) or _HEADER_VALUE_BAD.search(value) or name.lower() in _RESERVED_HEADERS:
            raise errors.MisconfiguredProviderError(
                f"Provider {provider.slug!r} has an extra header that cannot be sent "
                f"({errors.excerpt(name, 40)!r}: a framing or hop-by-hop header, a name that is not a token, or "
                "a value with a control character). Fix extra_headers; nothing was sent upstream.",
                provider=provider.slug,
            )
    return headers


# --- the deadline ------------------------------------------------------------------


@dataclass(slots=True)
class _Call:
    provider: ProviderInfo
    ends_at: float  # time.monotonic()
    last_status: int | None = None
    last_headers: httpx2.Headers | None = None
    last_body: bytes = b""
    last_response: httpx2.Response | None = None
    request: httpx2.Request | None = None


_call: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("upstream_call", default=None)


def retry_after_seconds(headers: httpx2.Headers | dict[str, str]) -> float | None:
    """The wait an upstream asks for: `retry-after-ms`, else `retry-after` (seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        with contextlib.suppress(ValueError):
            return float(value) / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else float(email.utils.mktime_tz(parsed) - time.time())


async def _on_request(request: httpx2.Request) -> None:
    call = _call.get()
    if call is not None:
        # A new attempt: if the deadline fires now, it is this attempt that timed out.
        call.last_status = call.last_headers = call.last_response = None
        call.request = request


class _ResponseHook:
    """Per client: bound the body by the provider's limits; remember error answers for the deadline."""

    __slots__ = ("limits", "provider")

    def __init__(self, provider: str, response_limits: limits.ResponseLimits) -> None:
        self.provider = provider
        self.limits = response_limits

    async def __call__(self, response: httpx2.Response) -> None:
        limits.guard(response, self.limits, self.provider)
        if response.status_code < 400:
            return
        await response.aread()  # at most the error-body limit; the SDK reads the same cached bytes
        if limits.exceeded(response) is not None:
            response.headers["x-should-retry"] = "false"  # a hostile error page is not asked for again
        call = _call.get()
        if call is None:
            return
        call.last_status, call.last_headers, call.last_body = response.status_code, response.headers, response.content
        call.last_response = response
        wait = retry_after_seconds(response.headers)
        if wait is not None and wait >= call.ends_at - time.monotonic():
            # Waiting would outlive the deadline: let the SDK raise this error now.
            response.headers["x-should-retry"] = "false"


@contextlib.asynccontextmanager
async def deadline(
    provider: ProviderInfo, seconds: float | None = None, *, expired: str | None = None
) -> AsyncIterator[None]:
    """Bound everything inside by the provider's timeout (or `seconds`); expiry raises our TimeoutError
    (with the message `expired`, when given).

    If the deadline fires while the SDK backs off to retry an upstream error
    response, that error is raised instead, mapped to its category; if it fires
    while the request waits for a connection of our own pool, `PoolFullError`.
    """
    limit = float(provider.timeout_seconds if seconds is None else seconds)
    call = _Call(provider=provider, ends_at=time.monotonic() + limit)
    token = _call.set(call)
    try:
        async with asyncio.timeout(limit):
            yield
    except TimeoutError:
        if call.request is not None and call.request.extensions.get(WAITING_FOR_POOL):
            raise errors.pool_full(provider.slug) from None
        if (too_large := limits.exceeded(call.last_response)) is not None:
            raise too_large from None
        if call.last_status is not None and call.last_headers is not None:
            raise errors.error_from_response(
                call.last_status, call.last_headers, call.last_body, provider=provider.slug
            ) from None
        raise errors.TimeoutError(
            expired
            or f"The upstream provider {provider.slug!r} did not answer within {limit:g} s (the provider's timeout).",
            provider=provider.slug,
        ) from None
    finally:
        _call.reset(token)


class StreamDeadline:
    """The two clocks of one stream: the provider's timeout per wait, `stream_timeout_seconds` in all.

    Adapters open the stream and await each event inside `step()`; a timer cannot
    span the stream's `yield`s (it would cancel whatever the consumer awaits), so
    each wait gets the smaller of the two remaining times instead.
    """

    __slots__ = ("ends_at", "provider", "total")

    def __init__(self, provider: ProviderInfo) -> None:
        self.provider = provider
        # getattr: a snapshot pickled by an older process lacks the field (its slot is unset).
        self.total = float(getattr(provider, "stream_timeout_seconds", None) or DEFAULT_STREAM_TIMEOUT)
        self.ends_at = time.monotonic() + self.total

    def step(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The deadline of the next wait (opening the stream, or its next event)."""
        provider = self.provider
        remaining = self.ends_at - time.monotonic()
        if remaining >= provider.timeout_seconds:
            return deadline(provider)
        expired = (
            f"The stream of upstream provider {provider.slug!r} ran past its total limit of {self.total:g} s "
            "(stream_timeout_seconds) and was ended."
        )
        if remaining <= 0:
            raise errors.TimeoutError(expired, provider=provider.slug)
        return deadline(provider, remaining, expired=expired)


# --- one client per provider and event loop -----------------------------------------


class ClientCache:
    """SDK clients of one adapter, one per running event loop.

    An httpx2 pool belongs to the loop that opened its connections: the ASGI server
    has one loop per process, but `asyncio.run()` (commands, tests) makes a new
    loop each time, and reusing a pool across loops fails. So the client is keyed
    by loop; a client whose loop is gone is dropped with it.
    """

    def __init__(self) -> None:
        self._clients: dict[int, tuple[asyncio.AbstractEventLoop, Any]] = {}

    def get(self, build: Callable[[], SDKClient]) -> SDKClient:
        """The running loop's client, built by `build()` on first use in that loop."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(id(loop))
        if entry is not None and entry[0] is loop:
            return entry[1]
        for key, (old_loop, _) in list(self._clients.items()):
            if old_loop.is_closed():
                del self._clients[key]
        client = build()
        self._clients[id(loop)] = (loop, client)
        return client

    async def aclose(self) -> None:
        """Close the pool of the current loop's client (others belong to other loops)."""
        loop = asyncio.get_running_loop()
        entry = self._clients.pop(id(loop), None)
        if entry is not None:
            await entry[1].close()
        self._clients.clear()
