"""Reads of the model registry for the commands: the model list, like `llm models` (SPEC §9)."""

from __future__ import annotations

from typing import Any

from providers.snapshot import get_snapshot


def model_rows(*, include_all: bool = False) -> list[dict[str, Any]]:
    """Models in registry order: servable ones (enabled, provider active), or every model with `include_all`."""
    snapshot = get_snapshot()
    providers = sorted(snapshot.providers.values(), key=lambda p: (p.name.lower(), p.id))
    rows = []
    for provider in providers:
        if not include_all and not provider.is_active:
            continue
        models = [m for m in snapshot.models.values() if m.provider_id == provider.id]
        models.sort(key=lambda m: (m.sort_order, (m.name or m.model_id).lower(), m.id))
        for model in models:
            if not include_all and not model.is_enabled:
                continue
            rows.append(
                {
                    "qualified_id": model.qualified_id,
                    "provider": provider.slug,
                    "model_id": model.model_id,
                    "name": model.name or model.model_id,
                    "alias": model.alias or None,
                    "status": model.status,
                    "is_enabled": model.is_enabled,
                    "is_default": model.id == snapshot.default_model_id,
                    "provider_active": provider.is_active,
                    "inactive_reason": provider.inactive_reason,
                    "capabilities": model.capabilities,
                    "context_window": model.context_window,
                    "max_output_tokens": model.max_output_tokens,
                }
            )
    return rows


def default_model_id() -> str | None:
    default = get_snapshot().default_model
    return default.qualified_id if default else None
