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
error rather than a bare timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import functools
import logging
import os
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2

from providers import crypto
from providers.adapters import errors
from providers.adapters.transport import UpstreamTransport
from providers.snapshot import ProviderInfo

logger = logging.getLogger(__name__)

SDKClient = TypeVar("SDKClient")

#: Connections kept per provider client (the SDKs' defaults are 1000/100; a gateway needs fewer).
POOL_LIMITS = httpx2.Limits(max_connections=200, max_keepalive_connections=40, keepalive_expiry=30)
#: Connecting never needs longer than this, whatever the provider's timeout.
CONNECT_TIMEOUT = 10.0
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
    `httpx2`'s own transport handles.
    """
    return httpx2.AsyncClient(
        verify=_ssl_context(),
        timeout=timeout(provider),
        follow_redirects=False,
        limits=POOL_LIMITS,
        event_hooks={"request": [_on_request], "response": [_on_response]},
        transport=None if proxy_configured() else UpstreamTransport(ssl_context=_ssl_context(), limits=POOL_LIMITS),
    )


def proxy_configured() -> bool:
    """Whether `HTTP(S)_PROXY` or `ALL_PROXY` is set (in any case), as `httpx2` reads them."""
    return bool({"http", "https", "all"} & set(urllib.request.getproxies_environment()))


def extra_headers(provider: ProviderInfo) -> dict[str, str]:
    """The operator's extra headers, as strings (JSON may hold numbers)."""
    return {str(k): str(v) for k, v in (provider.extra_headers or {}).items()}


# --- the deadline ------------------------------------------------------------------


@dataclass(slots=True)
class _Call:
    provider: ProviderInfo
    ends_at: float  # time.monotonic()
    last_status: int | None = None
    last_headers: httpx2.Headers | None = None
    last_body: bytes = b""


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
        call.last_status = call.last_headers = None


async def _on_response(response: httpx2.Response) -> None:
    call = _call.get()
    if call is None or response.status_code < 400:
        return
    await response.aread()  # error bodies are small; the SDK reads the same cached bytes
    call.last_status, call.last_headers, call.last_body = response.status_code, response.headers, response.content
    wait = retry_after_seconds(response.headers)
    if wait is not None and wait >= call.ends_at - time.monotonic():
        # Waiting would outlive the deadline: let the SDK raise this error now.
        response.headers["x-should-retry"] = "false"


@contextlib.asynccontextmanager
async def deadline(provider: ProviderInfo, seconds: float | None = None) -> AsyncIterator[None]:
    """Bound everything inside by the provider's timeout (or `seconds`); expiry raises our TimeoutError.

    If the deadline fires while the SDK backs off to retry an upstream error
    response, that error is raised instead, mapped to its category.
    """
    limit = float(provider.timeout_seconds if seconds is None else seconds)
    call = _Call(provider=provider, ends_at=time.monotonic() + limit)
    token = _call.set(call)
    try:
        async with asyncio.timeout(limit):
            yield
    except TimeoutError:
        if call.last_status is not None and call.last_headers is not None:
            raise errors.error_from_response(
                call.last_status, call.last_headers, call.last_body, provider=provider.slug
            ) from None
        raise errors.TimeoutError(
            f"The upstream provider {provider.slug!r} did not answer within {limit:g} s (the provider's timeout).",
            provider=provider.slug,
        ) from None
    finally:
        _call.reset(token)


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
