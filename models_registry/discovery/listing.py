"""The upstream's model list, normalized and cached per provider (SPEC §7).

A listing is fresh for `MODELDESK_DISCOVERY_CACHE_TTL` seconds (300); `force`
fetches anyway. The last good listing is kept longer
(`MODELDESK_DISCOVERY_FALLBACK_TTL`, a day) so that a failing upstream falls back
to it; with nothing cached, the listing is empty and carries the error.

Upstream metadata is normalized here, once: Anthropic's capability objects
(`{"image_input": {"supported": true}, "thinking": {"types": …}}`) and
OpenRouter-like fields (`context_length`, per-token `pricing`,
`architecture.input_modalities`, `supported_parameters`) become our fields.
Every entry is checked against its columns (`checks`): an entry that does not fit
(NUL or over-long id, absurd numbers, negative prices…) is left out of the listing
and reported in `Listing.rejected`. At most `limit` entries are read: pagination
stops there, and discovery refuses a listing longer than its limit.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.cache import cache

from models_registry.discovery import checks
from models_registry.upstream import error_text, with_adapter
from providers.adapters.base import UpstreamModel
from providers.snapshot import ProviderInfo

CACHE_TTL = 300
FALLBACK_TTL = 24 * 3600


@dataclass(slots=True)
class ListedModel:
    """One upstream model with the metadata we use (None / {}: the upstream did not say)."""

    model_id: str
    name: str = ""
    capabilities: dict[str, Any] = field(default_factory=dict)
    context_window: int | None = None
    max_output_tokens: int | None = None
    input_price_per_mtok: str | None = None
    output_price_per_mtok: str | None = None
    lifecycle: str | None = None


@dataclass(slots=True)
class Listing:
    models: list[ListedModel]
    source: str  # upstream | cache | stale-cache | none
    error: str | None = None
    #: Entries left out because they cannot be stored, each `{"model_id", "reason"}` (the id as it can be shown).
    rejected: list[dict[str, str]] = field(default_factory=list)
    #: Entries read from the upstream (usable or not); above the limit, reading stopped there.
    entries: int = 0


def _supported(value: Any) -> bool | None:
    if isinstance(value, dict) and "supported" in value:
        return bool(value["supported"])
    if isinstance(value, bool):
        return value
    return None


def _thinking_mode(value: Any) -> str | None:
    """Anthropic's thinking capability → none / budget / adaptive."""
    if isinstance(value, str) and value in ("none", "budget", "adaptive"):
        return value
    if not isinstance(value, dict):
        return None
    if not value.get("supported", False):
        return "none"
    types = value.get("types") or {}
    if _supported(types.get("adaptive")):
        return "adaptive"
    if _supported(types.get("enabled")) is not False:
        return "budget"
    return "none"


#: Anthropic capability names → ours. Of its other capability objects only these few are kept.
_RENAMED = {"image_input": "vision", "structured_outputs": "json_mode"}
_KEPT = frozenset({"vision", "json_mode", "tools", "streaming", "reasoning", "pdf_input", "effort"})


def normalize_capabilities(raw: dict[str, Any]) -> dict[str, Any]:
    caps: dict[str, Any] = {}
    for name, value in (raw or {}).items():
        if name == "thinking":
            mode = _thinking_mode(value)
            if mode is not None:
                caps["thinking"] = mode
            continue
        if isinstance(value, dict):
            flag = _supported(value)
            if flag is not None and _RENAMED.get(name, name) in _KEPT:
                caps[_RENAMED.get(name, name)] = flag
        elif isinstance(value, bool) and name in _KEPT:
            caps[name] = value  # already our shape (an adapter that normalized it)
    return caps


def _per_mtok(value: Any) -> Any:
    """A price per token (OpenRouter's strings) as a price per million tokens; unreadable values as given."""
    try:
        price = Decimal(str(value)) * 1_000_000
    except (InvalidOperation, ValueError):
        return value  # `checks.price` reports it
    return price


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def normalize(model: UpstreamModel) -> ListedModel:
    """Our fields from one listed entry; raises `checks.InvalidEntry` when a value does not fit its column."""
    if model.problem:
        raise checks.InvalidEntry(model.problem)
    model_id = checks.text(model.model_id, "id", field_name="model_id", required=True)
    name = checks.text(model.name, "name", field_name="name")
    raw = model.raw if isinstance(model.raw, dict) else {}
    caps = normalize_capabilities(model.capabilities if isinstance(model.capabilities, dict) else {})
    if not caps:
        # OpenRouter-like listings describe modalities and parameters instead.
        architecture = raw.get("architecture")
        modalities = architecture.get("input_modalities") if isinstance(architecture, dict) else None
        params = raw.get("supported_parameters")
        if isinstance(modalities, list):
            caps["vision"] = "image" in modalities
        if isinstance(params, list):
            caps["tools"] = "tools" in params
            caps["json_mode"] = "response_format" in params or "structured_outputs" in params
    pricing = raw.get("pricing") if isinstance(raw.get("pricing"), dict) else {}
    top = raw.get("top_provider") if isinstance(raw.get("top_provider"), dict) else {}
    input_price = _first(model.input_price_per_mtok, _per_mtok(pricing.get("prompt")) if "prompt" in pricing else None)
    output_price = _first(
        model.output_price_per_mtok, _per_mtok(pricing.get("completion")) if "completion" in pricing else None
    )
    input_price = checks.price(input_price, "input price", field_name="input_price_per_mtok")
    output_price = checks.price(output_price, "output price", field_name="output_price_per_mtok")
    return ListedModel(
        model_id=model_id,
        name=name if name != model_id else "",
        capabilities=caps,
        context_window=checks.token_count(_first(model.context_window, raw.get("context_length")), "context window"),
        max_output_tokens=checks.token_count(
            _first(model.max_output_tokens, top.get("max_completion_tokens")), "max output tokens"
        ),
        input_price_per_mtok=None if input_price is None else str(input_price),
        output_price_per_mtok=None if output_price is None else str(output_price),
        lifecycle=model.lifecycle if isinstance(model.lifecycle, str) else None,
    )


def read_entries(upstream: list[Any]) -> tuple[list[ListedModel], list[dict[str, str]]]:
    """The usable entries of a listing (first of each id) and the reasons the others were left out."""
    models: list[ListedModel] = []
    rejected: list[dict[str, str]] = []
    seen: set[str] = set()
    for position, entry in enumerate(upstream, 1):
        if not isinstance(entry, UpstreamModel):
            rejected.append({"model_id": "", "reason": f"entry {position} is not a model ({type(entry).__name__})"})
            continue
        try:
            listed = normalize(entry)
        except checks.InvalidEntry as exc:
            model_id = entry.model_id if isinstance(entry.model_id, str) else repr(entry.model_id)
            shown = checks.shown(model_id) if entry.model_id not in (None, "") else ""
            rejected.append({"model_id": shown, "reason": f"entry {position}: {exc}"})
            continue
        if listed.model_id in seen:
            rejected.append({"model_id": listed.model_id, "reason": f"entry {position}: listed more than once"})
            continue
        seen.add(listed.model_id)
        models.append(listed)
    return models, rejected


def _key(info: ProviderInfo) -> str:
    # The listing belongs to an endpoint: another kind or base URL is another upstream.
    endpoint = hashlib.sha256(f"{info.kind}|{info.base_url}".encode()).hexdigest()[:16]
    return f"discovery:listing:{info.id}:{endpoint}"


def forget(info: ProviderInfo) -> None:
    cache.delete(_key(info))


def _cached(entry: dict[str, Any], source: str, error: str | None = None) -> Listing:
    models = [ListedModel(**m) for m in entry["models"]]
    rejected = entry.get("rejected", [])
    return Listing(models, source, error=error, rejected=rejected, entries=entry.get("entries", len(models)))


def fetch_listing(info: ProviderInfo, *, force: bool = False, limit: int | None = None) -> Listing:
    """The provider's models: cached when fresh, else from the upstream, else the last good list.

    With `limit`, at most `limit + 1` entries are read from the upstream; a listing longer than
    `limit` is returned without models (`entries > limit`) and is not cached.
    """
    fresh_for = int(getattr(settings, "MODELDESK_DISCOVERY_CACHE_TTL", CACHE_TTL))
    entry = cache.get(_key(info))
    if entry and not force and time.time() - entry["fetched_at"] < fresh_for:
        return _cached(entry, "cache")
    read = None if limit is None else limit + 1
    try:
        upstream = with_adapter(info, lambda adapter: adapter.list_models(limit=read))
    except Exception as exc:  # noqa: BLE001  (any upstream failure is reported, never raised to the caller)
        message = error_text(exc, info)
        if entry:
            return _cached(entry, "stale-cache", error=message)
        return Listing([], "none", error=message)
    if limit is not None and len(upstream) > limit:
        return Listing([], "upstream", entries=len(upstream))
    models, rejected = read_entries(upstream)
    cache.set(
        _key(info),
        {
            "fetched_at": time.time(),
            "models": [asdict(m) for m in models],
            "rejected": rejected,
            "entries": len(upstream),
        },
        timeout=int(getattr(settings, "MODELDESK_DISCOVERY_FALLBACK_TTL", FALLBACK_TTL)),
    )
    return Listing(models, "upstream", rejected=rejected, entries=len(upstream))
