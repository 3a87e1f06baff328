"""Who is calling `/v1/chat/completions` (SPEC §5): an API key with the `chat` scope, or a staff session.

A Bearer key is what every OpenAI SDK sends: it is checked against the cache's
entry for it, read with the configuration version in one round trip on
redis-py's asyncio client (configsite/cache_guard.py: the event loop never waits
on the cache, and a cache outage is served from what the process holds); only a
key the cache does not hold is looked up in the database, in a thread. A
staff session (the browser playground) is the slow path: the session is loaded
asynchronously and the CSRF token is checked here,
because the view itself is `csrf_exempt` (a Bearer request carries no cookie to
forge). Failures answer like OpenAI: 401 `invalid_api_key`, or 403.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from access.authentication import bearer_token
from access.selectors import LAST_USED_EVERY_SECONDS, KeyInfo, check_key, key_cache_key, lookup_key, recent_key
from access.services import api_key_record_use
from chat import request_log
from chat.errors import Forbidden, ServiceUnavailable, Unauthenticated
from configsite.cache_guard import CacheUnavailable, aget_many
from providers.snapshot import VERSION_KEY

SCOPE = "chat"
MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
INVALID_KEY = "Incorrect API key provided: the key is malformed, unknown, revoked or expired."


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller, as the request log records it."""

    user_id: int | None
    api_key: KeyInfo | None = None
    #: The configuration version read with the key (one cache round trip); None: not read yet.
    config_version: int | None = None

    @property
    def api_key_id(self) -> int | None:
        return self.api_key.id if self.api_key else None


async def authenticate(request: HttpRequest) -> Caller:
    """The caller, or `Unauthenticated` (401) / `Forbidden` (403)."""
    token = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
    if token is not None:
        return await key_caller(token)
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        raise Unauthenticated(MISSING_KEY)
    user = await _session_user(request)
    if not user.is_authenticated:
        raise Unauthenticated(MISSING_KEY)
    if not (user.is_active and user.is_staff):
        raise Forbidden("A staff session or an API key with the `chat` scope is needed.")
    _check_csrf(request)
    return Caller(user_id=user.pk)


async def key_caller(token: str) -> Caller:
    """The caller presenting API key `token` (from `Authorization: Bearer`), or 401/403.

    The key's cached lookup and the configuration version are read in one cache round
    trip (one MGET, on redis-py's asyncio client: the event loop never waits on it); the
    version goes on to `aget_snapshot()` with the caller. A key the cache does not hold is
    looked up in the database in a thread. While the cache is down, a key this process has
    seen is accepted for the outage's grace (`CACHE_OUTAGE_GRACE_SECONDS`); any other is
    `CacheUnavailable` (503 with Retry-After): it cannot be checked.
    """
    cache_key = key_cache_key(token) if token else None
    if cache_key is None:  # malformed: refused before the cache is asked
        raise Unauthenticated(INVALID_KEY)
    try:
        found = await aget_many([cache_key, VERSION_KEY])
    except CacheUnavailable:
        found = None
        try:
            info = recent_key(token)
        except CacheUnavailable:
            raise ServiceUnavailable from None
    else:
        cached = found.get(cache_key)
        info = check_key(token, cached) if cached is not None else await sync_to_async(lookup_key)(token)
    if info is None:
        raise Unauthenticated(INVALID_KEY)
    if not info.has_scope(SCOPE):
        raise Forbidden(f"This API key does not have the `{SCOPE}` scope.")
    _record_use(info)
    version = found.get(VERSION_KEY) if found is not None else None
    return Caller(user_id=info.user_id, api_key=info, config_version=version if isinstance(version, int) else None)


#: When this process last handed a key's use to the writer (by key prefix: ids can be reused).
_use_recorded_at: dict[str, float] = {}


def _record_use(info: KeyInfo) -> None:
    """Have `last_used_at` written off the request's path, at most once a minute per key and process.

    `api_key_record_use` already writes at most once a minute across processes (a cache flag);
    this spares the writer thread a job, and a cache round trip, on every other request.
    """
    now = time.monotonic()
    if now - _use_recorded_at.get(info.prefix, -LAST_USED_EVERY_SECONDS) < LAST_USED_EVERY_SECONDS:
        return
    if len(_use_recorded_at) > 10_000:
        _use_recorded_at.clear()  # bounded: a process serving that many keys just submits more often
    _use_recorded_at[info.prefix] = now
    request_log.submit(api_key_record_use, key=info)


async def _session_user(request: HttpRequest) -> Any:
    # Session callers are served through the full middleware stack (chat/endpoint.py), which
    # sets `auser`; only Bearer requests skip it.
    return await request.auser()


def _no_response(request: HttpRequest) -> None:
    return None


def _check_csrf(request: HttpRequest) -> None:
    """Session callers must send the CSRF token (the playground sends X-CSRFToken)."""
    check = CsrfViewMiddleware(_no_response)
    check.process_request(request)
    if check.process_view(request, None, (), {}) is not None:
        raise Forbidden("CSRF verification failed: send the X-CSRFToken header with a session.", code="csrf_failed")
