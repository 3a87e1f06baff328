"""Whether a provider is active (SPEC §3): enabled, and with a usable key unless it needs none."""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from providers.fields import EncryptedSecret

if TYPE_CHECKING:
    from providers.models import Provider

#: Kinds that never need a key; `openai_compatible` needs none on a local network only.
KEYLESS_KINDS = frozenset({"echo"})
LOCAL_HOSTNAMES = frozenset({"localhost", "host.docker.internal"})


def is_local_url(url: str) -> bool:
    """True for loopback and private-network hosts (Ollama, LM Studio, a LAN vLLM)."""
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return False
    if host in LOCAL_HOSTNAMES or host.endswith((".local", ".localhost", ".lan", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def needs_api_key(kind: str, base_url: str) -> bool:
    if kind in KEYLESS_KINDS:
        return False
    return not (kind == "openai_compatible" and is_local_url(base_url))


def inactive_reason(provider: Provider) -> str | None:
    """None for an active provider, else `disabled`, `no API key` or `key cannot be decrypted`."""
    if not provider.is_enabled:
        return "disabled"
    if os.environ.get(provider.env_key_name):
        return None
    key = provider.api_key
    if key:
        if isinstance(key, EncryptedSecret) and not key.can_decrypt:
            return "key cannot be decrypted"
        return None
    if needs_api_key(provider.kind, provider.base_url):
        return "no API key"
    return None
