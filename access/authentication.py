"""`Authorization: Bearer <key>` (or `Token <key>`) authentication for DRF views."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.cache import cache
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from access.models import ApiKey
from access.selectors import LAST_USED_EVERY_SECONDS, KeyInfo, find_key

KEYWORDS = ("bearer", "token")


@dataclass(frozen=True)
class KeyUser:
    """The user behind an API key, without a query: what permissions and views need of it."""

    pk: int
    is_staff: bool
    key: KeyInfo = field(repr=False)
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def id(self) -> int:
        return self.pk

    @property
    def username(self) -> str:
        return f"api-key:{self.key.prefix}"

    def __str__(self) -> str:
        return self.username


def bearer_token(header: str | bytes | None) -> str | None:
    """The key from an Authorization header value, or None when it is not Bearer/Token."""
    if not header:
        return None
    if isinstance(header, bytes):
        try:
            header = header.decode("latin-1")
        except UnicodeDecodeError:
            return ""
    keyword, _, token = header.strip().partition(" ")
    if keyword.lower() not in KEYWORDS:
        return None
    return token.strip()


def touch_last_used(info: KeyInfo) -> None:
    """Record use at most once a minute per key (a cache flag decides who writes)."""
    if cache.add(f"apikey:used:{info.id}", 1, timeout=LAST_USED_EVERY_SECONDS):
        ApiKey.objects.filter(pk=info.id).update(last_used_at=timezone.now())


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates gateway API keys; a malformed, unknown, revoked or expired key is a 401."""

    def authenticate(self, request: Request) -> tuple[KeyUser, KeyInfo] | None:
        token = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None
        info = find_key(token)
        if info is None:
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired API key.")
        touch_last_used(info)
        return KeyUser(pk=info.user_id, is_staff=info.user_is_staff, key=info), info

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="modeldesk"'
