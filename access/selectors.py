"""Key lookup for every authenticated request, cached so a warm request makes no query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from access.keys import hashes_match, parse_prefix
from access.models import ApiKey

CACHE_KEY = "apikey:{prefix}"
CACHE_TTL = 300
#: `last_used_at` is written at most this often per key.
LAST_USED_EVERY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class KeyInfo:
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
        return scope in self.scopes or "admin" in self.scopes


_MISSING = "missing"


def _load(prefix: str) -> KeyInfo | str:
    row = (
        ApiKey.objects.filter(prefix=prefix)
        .values(
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
        .first()
    )
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


def find_key(raw: str) -> KeyInfo | None:
    """The usable key matching `raw`, or None (malformed, unknown, wrong secret, revoked, expired).

    The format is checked first, so hostile input never reaches the database; the
    secret is compared in constant time against the stored hash.
    """
    prefix = parse_prefix(raw)
    if prefix is None:
        return None
    cache_key = CACHE_KEY.format(prefix=prefix)
    info = cache.get(cache_key)
    if info is None:
        info = _load(prefix)
        cache.set(cache_key, info, timeout=CACHE_TTL)
    if info == _MISSING or not hashes_match(raw, info.key_hash) or not info.is_usable():
        return None
    return info


def forget_key(prefix: str) -> None:
    """Drop the cached lookup (after revocation or any change to the key or its user)."""
    cache.delete(CACHE_KEY.format(prefix=prefix))
