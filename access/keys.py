"""Key format and hashing: `md_<prefix>_<secret>`; only SHA-256 of the whole key is stored.

The prefix is public (shown in the admin, used to find the row); the secret is
43 url-safe characters (256 bits), so a plain SHA-256 is enough: there is
nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

KEY_RE = re.compile(r"md_([a-f0-9]{8})_([A-Za-z0-9_-]{32,64})")
MAX_KEY_LENGTH = 128
PREFIX_LENGTH = 8


def generate_key() -> tuple[str, str]:
    """A new key and its visible prefix."""
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    return f"md_{prefix}_{secrets.token_urlsafe(32)}", prefix


def hash_key(raw: str) -> str:
    """Hex SHA-256 of the whole key (what the database stores)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_prefix(raw: object) -> str | None:
    """The prefix of a well-formed key, None for anything else (checked before any lookup).

    The length is checked before the pattern so a huge header costs nothing, and
    `fullmatch` (not `$`) so a trailing newline or NUL byte never passes.
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_KEY_LENGTH:
        return None
    match = KEY_RE.fullmatch(raw)
    return match.group(1) if match else None


def hashes_match(raw: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(hash_key(raw), stored_hash)


def display_prefix(prefix: str) -> str:
    """How a key is shown once created: its recognisable start, never more."""
    return f"md_{prefix}_…"
