"""Writes to gateway API keys: create (the raw key is returned once), update, revoke, record use.

The raw key exists only in the return value of `api_key_create`; the database
keeps its SHA-256. Every change drops the cached lookup now and again on commit,
so a request racing the change cannot keep the old row for the cache's lifetime.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from access.keys import generate_key, hash_key
from access.models import ApiKey, Scope
from access.selectors import LAST_USED_EVERY_SECONDS, KeyInfo, forget_key, key_prefixes_of_user
from configsite.cache_guard import CacheUnavailable, guarded

SCOPES: tuple[str, ...] = tuple(Scope.values)
UPDATABLE_FIELDS = frozenset({"name", "scopes", "expires_at"})
_PREFIX_ATTEMPTS = 5


def validate_scopes(scopes: Iterable[str] | str) -> list[str]:
    """A non-empty list of known scopes, deduplicated, in the canonical order.

    Accepts a list or a comma-separated string (`read,chat`).
    """
    if isinstance(scopes, str):
        scopes = [part.strip() for part in scopes.split(",")]
    if not isinstance(scopes, list | tuple | set | frozenset) or not all(isinstance(s, str) for s in scopes):
        raise ValidationError({"scopes": ["must be a list of scope names"]})
    given = {s.strip() for s in scopes if s.strip()}
    unknown = sorted(given - set(SCOPES))
    if unknown:
        raise ValidationError({"scopes": [f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}"]})
    if not given:
        raise ValidationError({"scopes": [f"at least one scope is required ({', '.join(SCOPES)})"]})
    return [s for s in SCOPES if s in given]


def validate_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    if not isinstance(expires_at, datetime):
        raise ValidationError({"expires_at": ["must be a date and time"]})
    if timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at)
    if expires_at <= timezone.now():
        raise ValidationError({"expires_at": ["must be in the future (revoke a key to stop it now)"]})
    return expires_at


def _forget(prefix: str) -> None:
    forget_key(prefix)
    transaction.on_commit(lambda: forget_key(prefix))


def _unused_prefix() -> tuple[str, str]:
    for _ in range(_PREFIX_ATTEMPTS):
        raw, prefix = generate_key()
        if not ApiKey.objects.filter(prefix=prefix).exists():
            return raw, prefix
    raise RuntimeError("Could not find an unused key prefix; try again.")


@transaction.atomic
def api_key_create(
    *, name: str, user: Any, scopes: Iterable[str] | str, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Create a key for `user`; returns the row and the raw key, which is never retrievable again."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for field, check, value in (
        ("scopes", validate_scopes, scopes),
        ("expires_at", validate_expiry, expires_at),
    ):
        try:
            cleaned[field] = check(value)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if user is None or not getattr(user, "pk", None):
        errors["user"] = ["a saved user is required"]
    elif not user.is_active:
        errors["user"] = [f"user {user} is inactive"]
    if errors:
        raise ValidationError(errors)
    raw, prefix = _unused_prefix()
    key = ApiKey(name=(name or "").strip(), user=user, prefix=prefix, key_hash=hash_key(raw), **cleaned)
    key.full_clean()
    key.save()
    # A lookup of this prefix may have cached "no such key" a moment ago.
    _forget(prefix)
    return key, raw


@transaction.atomic
def api_key_update(*, api_key: ApiKey, **changes: Any) -> ApiKey:
    """Change a key's name, scopes or expiry (the secret and owner never change)."""
    unknown = sorted(set(changes) - UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["cannot be changed"] for name in unknown})
    key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if "scopes" in changes:
        key.scopes = validate_scopes(changes["scopes"])
    if "expires_at" in changes:
        key.expires_at = validate_expiry(changes["expires_at"])
    if "name" in changes:
        key.name = (changes["name"] or "").strip()
    key.full_clean()
    key.save()
    _forget(key.prefix)
    return key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key for good; revoking again keeps the first revocation time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    _forget(api_key.prefix)
    return api_key


def api_keys_forget_user(*, user_id: int) -> None:
    """Drop cached lookups of every key of a user (their `is_active` / `is_staff` may have changed)."""
    for prefix in key_prefixes_of_user(user_id):
        _forget(prefix)


def _used_flag(key: KeyInfo) -> str:
    return f"apikey:used:{key.id}"


def api_key_record_use(*, key: KeyInfo) -> None:
    """Set `last_used_at` at most once a minute per key: a cache flag decides who writes.

    While the cache is down nobody can decide, so nothing is written (the next use after it is back is).
    """
    try:
        first = guarded(cache.add, _used_flag(key), 1, timeout=LAST_USED_EVERY_SECONDS)
    except CacheUnavailable:
        return
    if first:
        ApiKey.objects.filter(pk=key.id).update(last_used_at=timezone.now())


async def aapi_key_record_use(*, key: KeyInfo) -> None:
    """`api_key_record_use` for async views (in a thread, as Django's async cache calls are)."""
    await sync_to_async(api_key_record_use)(key=key)
