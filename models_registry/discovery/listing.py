"""The upstream's model list, normalized and cached per provider (SPEC §7).

A listing is fresh for `MODELDESK_DISCOVERY_CACHE_TTL` seconds (300); `force`
fetches anyway. The last good listing is kept longer
(`MODELDESK_DISCOVERY_FALLBACK_TTL`, a day) so that a failing upstream falls back
to it; with nothing cached, the listing is empty and carries the error.

Upstream metadata is normalized here, once: Anthropic's capability objects
(`{"image_input": {"supported": true}, "thinking": {"types": …}}`) and
OpenRouter-like fields (`context_length`, per-token `pricing`,
`architecture.input_modalities`, `supported_parameters`) become our fields.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.cache import cache

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
        elif isinstance(value, bool | str | int | float):
            caps[name] = value  # already our shape (an adapter that normalized it)
    return caps


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _price(value: Any) -> str | None:
    try:
        price = Decimal(str(value)).quantize(Decimal("0.0001"))
    except (InvalidOperation, ValueError):
        return None
    return str(price) if price.is_finite() and price >= 0 else None


def _per_mtok(value: Any) -> str | None:
    """A price per token (OpenRouter's strings) as a price per million tokens."""
    try:
        price = Decimal(str(value)) * 1_000_000
    except (InvalidOperation, ValueError):
        return None
    return str(price.quantize(Decimal("0.0001"))) if price.is_finite() and price >= 0 else None


def normalize(model: UpstreamModel) -> ListedModel:
    raw = model.raw or {}
    caps = normalize_capabilities(model.capabilities)
    if not caps:
        # OpenRouter-like listings describe modalities and parameters instead.
        modalities = (raw.get("architecture") or {}).get("input_modalities")
        params = raw.get("supported_parameters")
        if isinstance(modalities, list):
            caps["vision"] = "image" in modalities
        if isinstance(params, list):
            caps["tools"] = "tools" in params
            caps["json_mode"] = "response_format" in params or "structured_outputs" in params
    pricing = raw.get("pricing") if isinstance(raw.get("pricing"), dict) else {}
    input_price = model.input_price_per_mtok
    output_price = model.output_price_per_mtok
    return ListedModel(
        model_id=model.model_id,
        name=model.name if model.name and model.name != model.model_id else "",
        capabilities=caps,
        context_window=_positive_int(model.context_window) or _positive_int(raw.get("context_length")),
        max_output_tokens=_positive_int(model.max_output_tokens)
        or _positive_int((raw.get("top_provider") or {}).get("max_completion_tokens")),
        input_price_per_mtok=_price(input_price) if input_price is not None else _per_mtok(pricing.get("prompt")),
        output_price_per_mtok=(
            _price(output_price) if output_price is not None else _per_mtok(pricing.get("completion"))
        ),
        lifecycle=model.lifecycle,
    )


def _key(info: ProviderInfo) -> str:
    # The listing belongs to an endpoint: another kind or base URL is another upstream.
    endpoint = hashlib.sha256(f"{info.kind}|{info.base_url}".encode()).hexdigest()[:16]
    return f"discovery:listing:{info.id}:{endpoint}"


def forget(info: ProviderInfo) -> None:
    cache.delete(_key(info))


def fetch_listing(info: ProviderInfo, *, force: bool = False) -> Listing:
    """The provider's models: cached when fresh, else from the upstream, else the last good list."""
    fresh_for = int(getattr(settings, "MODELDESK_DISCOVERY_CACHE_TTL", CACHE_TTL))
    entry = cache.get(_key(info))
    if entry and not force and time.time() - entry["fetched_at"] < fresh_for:
        return Listing([ListedModel(**m) for m in entry["models"]], "cache")
    try:
        upstream = with_adapter(info, lambda adapter: adapter.list_models())
        models = [normalize(m) for m in upstream if isinstance(m, UpstreamModel) and m.model_id]
    except Exception as exc:  # noqa: BLE001  (any upstream failure is reported, never raised to the caller)
        message = error_text(exc, info)
        if entry:
            return Listing([ListedModel(**m) for m in entry["models"]], "stale-cache", error=message)
        return Listing([], "none", error=message)
    cache.set(
        _key(info),
        {"fetched_at": time.time(), "models": [asdict(m) for m in models]},
        timeout=int(getattr(settings, "MODELDESK_DISCOVERY_FALLBACK_TTL", FALLBACK_TTL)),
    )
    return Listing(models, "upstream")
