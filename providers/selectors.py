"""Read side of the configuration store: payloads rendered from the cached snapshot.

Every function here reads `providers.snapshot.get_snapshot()` (no query when the
snapshot is warm) and memoizes its rendering on the snapshot (`snapshot.memo`),
so a warm request re-serializes nothing; the memo dies with the snapshot when the
configuration changes. Rendered payloads carry their JSON bytes and a strong ETag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from providers.models import ProviderModel
from providers.snapshot import ConfigSnapshot, ModelInfo, ProviderInfo, get_snapshot


@dataclass(frozen=True, slots=True)
class Rendered:
    """A payload, its compact JSON encoding and a strong ETag over those bytes."""

    data: dict[str, Any]
    body: bytes
    etag: str


def render(data: dict[str, Any]) -> Rendered:
    body = json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()
    return Rendered(data=data, body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:40]}"')


def _memoized(snapshot: ConfigSnapshot, key: str, build: Callable[[ConfigSnapshot], dict[str, Any]]) -> Rendered:
    rendered = snapshot.memo.get(key)
    if rendered is None:
        rendered = render(build(snapshot))
        snapshot.memo[key] = rendered
    return rendered


def _registry_model(model: ModelInfo) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name or model.model_id,
        "model_id": model.model_id,
        "qualified_id": model.qualified_id,
        "alias": model.alias,
        "is_default": model.is_default,
        "capabilities": model.capabilities,
        "context_window": model.context_window,
        "max_output_tokens": model.max_output_tokens,
    }


def _registry_provider(snapshot: ConfigSnapshot, provider: ProviderInfo, *, with_status: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": provider.id,
        "name": provider.name,
        "slug": provider.slug,
        "kind": provider.kind,
        "image_url": provider.image_url,
    }
    if with_status:
        entry["is_active"] = provider.is_active
        entry["inactive_reason"] = provider.inactive_reason
    entry["models"] = [_registry_model(m) for m in snapshot.enabled_models(provider.id)]
    return entry


def _provider_order(provider: ProviderInfo) -> tuple[str, int]:
    return (provider.name.lower(), provider.id)


def build_registry(snapshot: ConfigSnapshot, *, include_inactive: bool = False) -> dict[str, Any]:
    """The `GET /api/model-registry` payload (SPEC §5).

    Public: active providers with their enabled models. With `include_inactive`
    (staff), every provider, each with `is_active` and `inactive_reason`.
    """
    if include_inactive:
        providers = sorted(snapshot.providers.values(), key=_provider_order)
    else:
        providers = snapshot.active_providers()
    default = snapshot.default_model
    return {
        "default_model": default.qualified_id if default else None,
        "providers": [_registry_provider(snapshot, p, with_status=include_inactive) for p in providers],
    }


def model_registry(*, include_inactive: bool = False) -> Rendered:
    """The registry payload of the current snapshot, rendered once per snapshot version."""
    key = "registry:staff" if include_inactive else "registry:public"
    return _memoized(get_snapshot(), key, lambda s: build_registry(s, include_inactive=include_inactive))


def build_openai_models(snapshot: ConfigSnapshot) -> dict[str, Any]:
    """The `GET /v1/models` payload: OpenAI's list shape, one entry per servable model."""
    data = [
        {"id": model.qualified_id, "object": "model", "created": model.created, "owned_by": provider.slug}
        for provider in snapshot.active_providers()
        for model in snapshot.enabled_models(provider.id)
    ]
    return {"object": "list", "data": data}


def openai_models(snapshot: ConfigSnapshot | None = None) -> Rendered:
    """`/v1/models` of the current (or given) snapshot, rendered once per snapshot version."""
    return _memoized(snapshot or get_snapshot(), "v1:models", build_openai_models)


def runtime_defaults() -> dict[str, Any]:
    """The generation defaults in effect (stored values over built-in ones), snake_case keys."""
    return dict(get_snapshot().runtime_settings)


def presets() -> dict[str, dict[str, Any]]:
    """Presets by name (built-in ones, overridden or extended by the `presets` setting)."""
    return {name: dict(bundle) for name, bundle in get_snapshot().presets.items()}


def model_id_taken(*, provider_id: int, model_id: str, exclude_pk: int | None = None) -> bool:
    """Whether the provider already has another model with this upstream id (checked before a write)."""
    return ProviderModel.objects.filter(provider_id=provider_id, model_id=model_id).exclude(pk=exclude_pk).exists()
