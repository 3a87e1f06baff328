"""Encryption of secrets at rest with MultiFernet (SPEC §2 `FIELD_ENCRYPTION_KEYS`).

The first key encrypts, every key decrypts, so keys can be rotated: add the new
key first, run `rotate_encryption_key`, then drop the old one.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

#: Marks a stored value as ciphertext, so a plain value can never be mistaken for one.
TOKEN_PREFIX = "fernet:"  # noqa: S105  (a marker, not a secret)


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""

    def __init__(self) -> None:
        super().__init__(
            "The stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS (wrong or missing encryption key)."
        )


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: secrets cannot be encrypted.")
    try:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded bytes)."
        ) from exc


def get_fernet() -> MultiFernet:
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def is_token(value: str) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


def encrypt(plaintext: str) -> str:
    """Encrypt with the first key; an empty secret stays empty (no key set)."""
    if not plaintext:
        return ""
    return TOKEN_PREFIX + get_fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a stored token; raise DecryptionError when no key fits."""
    if not token:
        return ""
    if not is_token(token):
        raise DecryptionError()
    try:
        return get_fernet().decrypt(token[len(TOKEN_PREFIX) :].encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise DecryptionError() from exc


def rotate(token: str) -> str:
    """Re-encrypt a stored token with the first key (MultiFernet.rotate)."""
    if not token:
        return ""
    if not is_token(token):
        raise DecryptionError()
    try:
        return TOKEN_PREFIX + get_fernet().rotate(token[len(TOKEN_PREFIX) :].encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise DecryptionError() from exc
