"""Key format and hashing: `md_<prefix>_<secret>`; only SHA-256 of the whole key is stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

KEY_RE = re.compile(r"^md_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{32,64})$")
MAX_KEY_LENGTH = 128


def generate_key() -> tuple[str, str]:
    """A new key and its visible prefix."""
    prefix = secrets.token_hex(4)
    return f"md_{prefix}_{secrets.token_urlsafe(32)}", prefix


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_prefix(raw: str) -> str | None:
    """The prefix of a well-formed key, None for anything else (checked before any lookup)."""
    if not raw or len(raw) > MAX_KEY_LENGTH:
        return None
    match = KEY_RE.match(raw)
    return match.group(1) if match else None


def hashes_match(raw: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(raw), stored_hash)
