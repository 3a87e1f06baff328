"""Key lookup for every authenticated request, cached so a warm request makes no query.

`find_key` (sync) and `afind_key` (async, for the `/v1` views) return the same
`KeyInfo`: a small frozen value with what permissions need, including the owner's
`is_active` / `is_staff`, so no user query follows. Cached entries are dropped by
`forget_key` whenever a key or its owner changes (services and `access.signals`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from access.keys import hashes_match, parse_prefix
from access.models import ApiKey

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


def find_key(raw: str, cached: KeyInfo | str | None = None) -> KeyInfo | None:
    """The usable key matching `raw`, or None (malformed, unknown, wrong secret, revoked, expired).

    The format is checked first, so hostile input never reaches the cache or the
    database; the secret is compared in constant time against the stored hash.
    `cached`: the cache's value for `key_cache_key(raw)` when the caller has read it
    already (with other keys, in one round trip); None reads it here.
    """
    prefix = parse_prefix(raw)
    if prefix is None:
        return None
    cache_key = CACHE_KEY.format(prefix=prefix)
    info = cached if cached is not None else cache.get(cache_key)
    if info is None:
        info = _info(ApiKey.objects.filter(prefix=prefix).values(*_FIELDS).first())
        cache.set(cache_key, info, timeout=_ttl(info))
    return _check(raw, info)


async def afind_key(raw: str) -> KeyInfo | None:
    """`find_key` for async views: same checks, async cache and ORM calls."""
    prefix = parse_prefix(raw)
    if prefix is None:
        return None
    cache_key = CACHE_KEY.format(prefix=prefix)
    info = await cache.aget(cache_key)
    if info is None:
        info = _info(await ApiKey.objects.filter(prefix=prefix).values(*_FIELDS).afirst())
        await cache.aset(cache_key, info, timeout=_ttl(info))
    return _check(raw, info)


def forget_key(prefix: str) -> None:
    """Drop the cached lookup (after revocation or any change to the key or its user)."""
    cache.delete(CACHE_KEY.format(prefix=prefix))


def key_prefixes_of_user(user_id: int) -> list[str]:
    """Prefixes of every key a user owns (to forget them when the user changes)."""
    return list(ApiKey.objects.filter(user_id=user_id).values_list("prefix", flat=True))
