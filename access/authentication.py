"""`Authorization: Bearer <key>` (or `Token <key>`) authentication for DRF views.

`bearer_token` and `KeyUser` are also used by the async `/v1` views, which call
`access.selectors.afind_key` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from access.selectors import KeyInfo, find_key
from access.services import api_key_record_use

KEYWORDS = ("bearer", "token")
INVALID_KEY_MESSAGE = "Invalid, revoked or expired API key."


@dataclass(frozen=True)
class KeyUser:
    """The user behind an API key, without a query: what permissions and views need of it."""

    pk: int
    is_staff: bool
    key: KeyInfo = field(repr=False)
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_superuser: bool = False

    @property
    def id(self) -> int:
        return self.pk

    @property
    def username(self) -> str:
        return f"api-key:{self.key.prefix}"

    def __str__(self) -> str:
        return self.username

    @classmethod
    def for_key(cls, info: KeyInfo) -> KeyUser:
        return cls(pk=info.user_id, is_staff=info.user_is_staff, key=info)


def bearer_token(header: str | bytes | None) -> str | None:
    """The key from an Authorization header value: None when the scheme is not Bearer/Token.

    An empty or undecodable token gives "" (a present but invalid credential: 401).
    """
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
    """Record use at most once a minute per key (see `access.services.api_key_record_use`)."""
    api_key_record_use(key=info)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates gateway API keys; a malformed, unknown, revoked or expired key is a 401."""

    def authenticate(self, request: Request) -> tuple[KeyUser, KeyInfo] | None:
        token = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None
        info = find_key(token)
        if info is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY_MESSAGE)
        api_key_record_use(key=info)
        return KeyUser.for_key(info), info

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="modeldesk"'
