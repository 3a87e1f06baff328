"""Key lookup for every authenticated request, cached so a warm request makes no query.

`find_key` (sync) and `afind_key` (async, for the `/v1` views) return the same
`KeyInfo`: a small frozen value with what permissions need, including the owner's
`is_active` / `is_staff`, so no user query follows. Cached entries are dropped by
`forget_key` whenever a key or its owner changes (services and `access.signals`).

Every key found is also remembered in the process (`recent_key`, bounded): only
while the shared cache is down (configsite.cache_guard), and for at most
`CACHE_OUTAGE_GRACE_SECONDS`, is it used instead of the cache's entry — a key
revoked during an outage is refused once the cache is back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.utils import timezone

from access.keys import hashes_match, parse_prefix
from access.models import ApiKey
from configsite.cache_guard import CacheUnavailable, aget_many, guarded, outage

CACHE_KEY = "apikey:{prefix}"
#: How long a found key's row stays cached (changes drop it at once).
CACHE_TTL = 300
#: How long "no such prefix" stays cached: short, so random prefixes do not pile up.
MISSING_TTL = 30
#: `last_used_at` is written at most this often per key.
LAST_USED_EVERY_SECONDS = 60

_MISSING = "missing"
_FIELDS = (
    "id",
    "prefix",
    "key_hash",
    "user_id",
    "user__is_active",
    "user__is_staff",
    "scopes",
    "expires_at",
    "revoked_at",
)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a request needs to know about the key it presented (never the secret)."""

    id: int
    prefix: str
    key_hash: str
    user_id: int
    user_is_active: bool
    user_is_staff: bool
    scopes: frozenset[str]
    expires_at: datetime | None
    revoked_at: datetime | None

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.user_is_active and (self.expires_at is None or self.expires_at > now)

    def has_scope(self, scope: str) -> bool:
        """`admin` implies every scope."""
        return scope in self.scopes or "admin" in self.scopes


def _info(row: dict[str, Any] | None) -> KeyInfo | str:
    if row is None:
        return _MISSING
    return KeyInfo(
        id=row["id"],
        prefix=row["prefix"],
        key_hash=row["key_hash"],
        user_id=row["user_id"],
        user_is_active=row["user__is_active"],
        user_is_staff=row["user__is_staff"],
        scopes=frozenset(row["scopes"] or ()),
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


def _check(raw: str, info: KeyInfo | str) -> KeyInfo | None:
    if not isinstance(info, KeyInfo) or not hashes_match(raw, info.key_hash) or not info.is_usable():
        return None
    return info


def _ttl(info: KeyInfo | str) -> int:
    return CACHE_TTL if isinstance(info, KeyInfo) else MISSING_TTL


def key_cache_key(raw: str) -> str | None:
    """The cache key of `raw`'s lookup, or None when `raw` is not a well-formed key."""
    prefix = parse_prefix(raw)
    return None if prefix is None else CACHE_KEY.format(prefix=prefix)


#: Keys remembered for cache outages, by cache key; most recently used last.
_recent: OrderedDict[str, KeyInfo] = OrderedDict()
_recent_lock = threading.Lock()
RECENT_KEYS = 10_000


def _remember(cache_key: str, info: KeyInfo | str) -> None:
    with _recent_lock:
        if isinstance(info, KeyInfo):
            _recent[cache_key] = info
            _recent.move_to_end(cache_key)
            if len(_recent) > RECENT_KEYS:
                _recent.popitem(last=False)
        else:
            _recent.pop(cache_key, None)


def recent_key(raw: str) -> KeyInfo | None:
    """During a cache outage, within the grace: the usable key matching `raw` this process saw before.

    `CacheUnavailable` when the process has not seen it (or the grace is over): it cannot be checked.
    """
    cache_key = key_cache_key(raw)
    info = _recent.get(cache_key) if cache_key is not None else None
    if info is None or not outage.within_grace():
        raise CacheUnavailable
    return _check(raw, info)


def check_key(raw: str, cached: KeyInfo | str) -> KeyInfo | None:
    """`raw` checked against the cache's entry for it (read by the caller with other keys, in one round trip)."""
    cache_key = key_cache_key(raw)
    if cache_key is not None and (not isinstance(cached, KeyInfo) or _recent.get(cache_key) is not cached):
        _remember(cache_key, cached)
    return _check(raw, cached)


def lookup_key(raw: str) -> KeyInfo | None:
    """The key matching `raw` from the database (a cache miss): cached for the next requests. Sync (a thread)."""
    prefix = parse_prefix(raw)
    if prefix is None:
        return None
    cache_key = CACHE_KEY.format(prefix=prefix)
    info = _info(ApiKey.objects.filter(prefix=prefix).values(*_FIELDS).first())
    try:
        guarded(cache.set, cache_key, info, timeout=_ttl(info))
    except CacheUnavailable:
        pass  # looked up again next time
    _remember(cache_key, info)
    return _check(raw, info)


def find_key(raw: str) -> KeyInfo | None:
    """The usable key matching `raw`, or None (malformed, unknown, wrong secret, revoked, expired).

    The format is checked first, so hostile input never reaches the cache or the
    database; the secret is compared in constant time against the stored hash.
    Sync callers (the DRF API, in threads) look the key up in the database when the
    cache is down: they are not the hot path.
    """
    cache_key = key_cache_key(raw)
    if cache_key is None:
        return None
    try:
        info = guarded(cache.get, cache_key)
    except CacheUnavailable:
        info = None
    if info is None:
        return lookup_key(raw)
    return check_key(raw, info)


async def afind_key(raw: str) -> KeyInfo | None:
    """`find_key` for coroutines: the cache read never blocks the event loop; a miss goes to a thread.

    During a cache outage: the key this process saw within the grace, else `CacheUnavailable`.
    """
    cache_key = key_cache_key(raw)
    if cache_key is None:
        return None
    try:
        found = await aget_many([cache_key])
    except CacheUnavailable:
        return recent_key(raw)
    info = found.get(cache_key)
    if info is None:
        return await sync_to_async(lookup_key)(raw)
    return check_key(raw, info)


#: Cached lookups to drop once the cache answers again (a revocation during an outage).
_forget_pending: set[str] = set()


def forget_key(prefix: str) -> None:
    """Drop the cached lookup (after revocation or any change to the key or its user)."""
    cache_key = CACHE_KEY.format(prefix=prefix)
    with _recent_lock:
        _recent.pop(cache_key, None)
    try:
        guarded(cache.delete, cache_key)
    except CacheUnavailable:
        with _recent_lock:
            _forget_pending.add(cache_key)
        outage.on_recovery(_replay_forget)


def _replay_forget() -> None:
    with _recent_lock:
        pending = list(_forget_pending)
        _forget_pending.clear()
    cache.delete_many(pending)
    outage.forget_recovery(_replay_forget)


def key_prefixes_of_user(user_id: int) -> list[str]:
    """Prefixes of every key a user owns (to forget them when the user changes)."""
    return list(ApiKey.objects.filter(user_id=user_id).values_list("prefix", flat=True))
