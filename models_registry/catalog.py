"""Capabilities of known model families, from one table of patterns (SPEC §7).

The table is data: `models_registry/data/model_families.yaml` (sources are cited
there), optionally preceded by an operator's own file named by the setting
`MODELDESK_CATALOG_FILE` (same format; its families are tried first). Nothing
else in the code base knows model families: discovery, the import commands and
the model services ask `lookup()`.

Lookups are cached in the configured cache for `MODELDESK_CATALOG_TTL` seconds
(default 3600), negative answers too (so a family added to the operator's file
is seen once the TTL expires), under a key that carries the configuration
version: any change to providers or models invalidates every cached answer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache

from models_registry.yaml_io.loader import YamlLoadError, load_yaml
from providers.snapshot import current_version

DATA_FILE = Path(__file__).resolve().parent / "data" / "model_families.yaml"
DEFAULT_TTL = 3600
THINKING_MODES = ("none", "budget", "adaptive")
CAPABILITY_KEYS = ("vision", "tools", "json_mode", "streaming", "thinking", "reasoning")
_MISS = "-"
#: Bedrock-style vendor prefixes (`anthropic.claude-…`, `us.meta.llama…`) are not part of the family name.
_VENDOR_PREFIX = re.compile(r"^([a-z]{2}\.)?(anthropic|meta|mistral|amazon|cohere|ai21|deepseek|qwen|openai)\.")


class CatalogError(ValueError):
    """The catalog file is malformed (names the family and the field)."""


@dataclass(frozen=True, slots=True)
class Family:
    family: str
    pattern: re.Pattern[str]
    capabilities: dict[str, Any] = field(default_factory=dict)
    context_window: int | None = None
    max_output_tokens: int | None = None
    chat: bool = True


@dataclass(frozen=True, slots=True)
class CatalogMatch:
    """What the table says about one model id."""

    family: str
    capabilities: dict[str, Any]
    context_window: int | None
    max_output_tokens: int | None
    chat: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "capabilities": dict(self.capabilities),
            "context_window": self.context_window,
            "max_output_tokens": self.max_output_tokens,
            "chat": self.chat,
        }


def normalize_model_id(model_id: str) -> str:
    """The part of a model id that names its family: lower case, last path segment, no vendor prefix."""
    name = model_id.strip().lower().rsplit("/", 1)[-1]
    return _VENDOR_PREFIX.sub("", name)


def _positive_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CatalogError(f"{where}: must be a positive whole number")
    return value


def parse_families(data: Any, *, source: str) -> list[Family]:
    """Validate a catalog document (`defaults` + `families`) into Family rows."""
    if not isinstance(data, dict) or not isinstance(data.get("families"), list):
        raise CatalogError(f"{source}: expected a mapping with a `families` list")
    unknown = set(data) - {"defaults", "families"}
    if unknown:
        raise CatalogError(f"{source}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise CatalogError(f"{source}: `defaults` must be a mapping")
    families = []
    for index, entry in enumerate(data["families"]):
        where = f"{source}: families[{index}]"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: must be a mapping")
        extra = set(entry) - {"family", "match", "capabilities", "context_window", "max_output_tokens", "chat"}
        if extra:
            raise CatalogError(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))}")
        name, match = entry.get("family"), entry.get("match")
        if not isinstance(name, str) or not isinstance(match, str) or not name or not match:
            raise CatalogError(f"{where}: `family` and `match` must be non-empty strings")
        try:
            pattern = re.compile(match, re.IGNORECASE)
        except re.error as exc:
            raise CatalogError(f"{where} ({name}): `match` is not a regular expression: {exc}") from None
        caps = entry.get("capabilities") or {}
        if not isinstance(caps, dict):
            raise CatalogError(f"{where} ({name}): `capabilities` must be a mapping")
        chat = entry.get("chat", True)
        if not isinstance(chat, bool):
            raise CatalogError(f"{where} ({name}): `chat` must be true or false")
        merged = {**defaults, **caps} if chat else {"chat": False}
        if merged.get("thinking", "none") not in THINKING_MODES:
            raise CatalogError(f"{where} ({name}): `thinking` must be one of {', '.join(THINKING_MODES)}")
        families.append(
            Family(
                family=name,
                pattern=pattern,
                capabilities=merged,
                context_window=_positive_int(entry.get("context_window"), f"{where} ({name}).context_window"),
                max_output_tokens=_positive_int(entry.get("max_output_tokens"), f"{where} ({name}).max_output_tokens"),
                chat=chat,
            )
        )
    return families


@lru_cache(maxsize=1)
def _shipped_families() -> tuple[Family, ...]:
    return tuple(parse_families(load_yaml(DATA_FILE.read_bytes(), source=DATA_FILE.name), source=DATA_FILE.name))


@lru_cache(maxsize=4)
def _operator_families(path: str, mtime_ns: int) -> tuple[Family, ...]:
    # Keyed by modification time, so an edited file is re-read (once the cached answers expire).
    try:
        data = load_yaml(Path(path).read_bytes(), source=path)
    except (OSError, YamlLoadError) as exc:
        raise CatalogError(f"MODELDESK_CATALOG_FILE: {exc}") from None
    return tuple(parse_families(data, source=path))


def families() -> tuple[Family, ...]:
    """The whole table in match order: the operator's families first, then the shipped ones."""
    path = getattr(settings, "MODELDESK_CATALOG_FILE", "") or ""
    if not path:
        return _shipped_families()
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError as exc:
        raise CatalogError(f"MODELDESK_CATALOG_FILE: cannot read {path}: {exc.strerror}") from None
    return _operator_families(path, mtime) + _shipped_families()


def match(model_id: str) -> CatalogMatch | None:
    """The first family whose pattern matches the model id, uncached."""
    name = normalize_model_id(model_id)
    for family in families():
        if family.pattern.match(name):
            return CatalogMatch(
                family=family.family,
                capabilities=dict(family.capabilities),
                context_window=family.context_window,
                max_output_tokens=family.max_output_tokens,
                chat=family.chat,
            )
    return None


def _ttl() -> int:
    return int(getattr(settings, "MODELDESK_CATALOG_TTL", DEFAULT_TTL))


def _key(version: int, model_id: str) -> str:
    digest = hashlib.sha256(model_id.encode()).hexdigest()[:32]
    return f"catalog:{version}:{digest}"


def lookup_many(model_ids: list[str] | tuple[str, ...] | set[str]) -> dict[str, CatalogMatch | None]:
    """`lookup()` for many ids at once: one cache read and one cache write (discovery of thousands)."""
    ids = list(dict.fromkeys(model_ids))
    if not ids:
        return {}
    version = current_version()
    keys = {model_id: _key(version, model_id) for model_id in ids}
    cached = cache.get_many(list(keys.values()))
    found: dict[str, CatalogMatch | None] = {}
    to_store: dict[str, Any] = {}
    for model_id, key in keys.items():
        if key in cached:
            value = cached[key]
            found[model_id] = None if value == _MISS else CatalogMatch(**value)
            continue
        result = match(model_id)
        found[model_id] = result
        to_store[key] = _MISS if result is None else result.as_dict()
    if to_store:
        cache.set_many(to_store, timeout=_ttl())
    return found


def lookup(model_id: str) -> CatalogMatch | None:
    """What the table says about `model_id` (None: no known family), cached with a TTL."""
    return lookup_many([model_id])[model_id]


def fill_from_catalog(model: Any, found: CatalogMatch | None, *, keep: set[str] | frozenset[str] = frozenset()) -> bool:
    """Apply a catalog answer to a ProviderModel in memory; True when something changed.

    Capabilities are filled when the model has none or they came from the catalog
    before (an operator's `declared` values and the provider's own are never
    replaced); empty context window and max output are filled whatever the source.
    Fields named in `keep` (given explicitly by the caller) are left alone.
    """
    if found is None:
        return False
    changed = False
    if "capabilities" not in keep and (not model.capabilities or model.capabilities_source in ("", "catalog")):
        if model.capabilities != found.capabilities or model.capabilities_source != "catalog":
            model.capabilities = dict(found.capabilities)
            model.capabilities_source = "catalog"
            changed = True
    if "context_window" not in keep and model.context_window is None and found.context_window is not None:
        model.context_window = found.context_window
        changed = True
    if "max_output_tokens" not in keep and model.max_output_tokens is None and found.max_output_tokens is not None:
        model.max_output_tokens = found.max_output_tokens
        changed = True
    return changed
