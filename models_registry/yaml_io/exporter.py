"""`export_providers`: the configuration as a providers file that re-imports to the same state (SPEC §8).

A model whose state is fully described by a short form is written there
(`valid_models` / `invalid_models`); every other model is written in the long
form with all of its fields, so the round trip is exact. Timestamps are not
exported. A key is written only when asked (`include_keys`), as plaintext, for
moving a configuration between installations.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml

from models_registry import catalog
from providers import crypto
from providers.fields import reveal
from providers.models import Provider, ProviderModel

HEADER = "# ModelDesk providers file (SPEC §8): import with `manage.py import_providers FILE`.\n"


class ExportError(ValueError):
    pass


def _price(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _is_plain(model: ProviderModel, found: catalog.CatalogMatch | None) -> bool:
    """True when importing the short form into an empty database recreates this row exactly."""
    expected_caps = found.capabilities if found else {}
    return (
        not model.name
        and model.sort_order == 0
        and model.input_price_per_mtok is None
        and model.output_price_per_mtok is None
        and not model.status_detail
        and model.is_listed_upstream
        and model.capabilities_source == "catalog"
        and model.capabilities == expected_caps
        and model.context_window == (found.context_window if found else None)
        and model.max_output_tokens == (found.max_output_tokens if found else None)
    )


def _long_form(model: ProviderModel) -> dict[str, Any]:
    return {
        "model_id": model.model_id,
        "name": model.name,
        "alias": model.alias,
        "is_enabled": model.is_enabled,
        "status": model.status,
        "status_detail": model.status_detail,
        "capabilities": dict(model.capabilities or {}),
        "capabilities_source": model.capabilities_source or "catalog",
        "context_window": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        "input_price_per_mtok": _price(model.input_price_per_mtok),
        "output_price_per_mtok": _price(model.output_price_per_mtok),
        "sort_order": model.sort_order,
        "is_listed_upstream": model.is_listed_upstream,
    }


def _provider_entry(provider: Provider, models: list[ProviderModel], found: dict, include_keys: bool) -> dict:
    entry: dict[str, Any] = {
        "name": provider.name,
        "kind": provider.kind,
        "base_api_url": provider.base_url,
    }
    if include_keys and provider.api_key:
        try:
            entry["api_key"] = reveal(provider.api_key)
        except crypto.DecryptionError:
            raise ExportError(
                f"the key of provider {provider.slug} cannot be decrypted with FIELD_ENCRYPTION_KEYS"
            ) from None
    entry.update(
        {
            "organization": provider.organization,
            "api_version": provider.api_version,
            "image_url": provider.image_url,
            "is_enabled": provider.is_enabled,
            "timeout_seconds": provider.timeout_seconds,
            "max_retries": provider.max_retries,
            "extra_headers": dict(provider.extra_headers or {}),
            "stream_timeout_seconds": provider.stream_timeout_seconds,
            "max_response_bytes": provider.max_response_bytes,
            "max_error_body_bytes": provider.max_error_body_bytes,
            "max_sse_event_bytes": provider.max_sse_event_bytes,
            "max_connections": provider.max_connections,
        }
    )
    valid: dict[str, str | None] = {}
    invalid: list[str] = []
    long_form: list[dict[str, Any]] = []
    for model in models:
        plain = _is_plain(model, found[model.model_id])
        if plain and model.is_enabled and model.status == "valid":
            valid[model.model_id] = model.alias or None
        elif plain and not model.is_enabled and model.status == "invalid" and not model.alias:
            invalid.append(model.model_id)
        else:
            long_form.append(_long_form(model))
    if valid:
        entry["valid_models"] = valid
    if invalid:
        entry["invalid_models"] = invalid
    if long_form:
        entry["models"] = long_form
    return entry


def export_document(*, include_keys: bool = False) -> dict[str, Any]:
    """The configuration as a providers document (a dict ready for YAML)."""
    providers = list(Provider.objects.order_by("slug"))
    models = list(ProviderModel.objects.select_related("provider").order_by("provider__slug", "sort_order", "model_id"))
    found = catalog.lookup_many([m.model_id for m in models])
    by_provider: dict[int, list[ProviderModel]] = {}
    default = None
    for model in models:
        by_provider.setdefault(model.provider_id, []).append(model)
        if model.is_default:
            default = model.qualified_id
    doc: dict[str, Any] = {
        "providers": {p.slug: _provider_entry(p, by_provider.get(p.pk, []), found, include_keys) for p in providers}
    }
    if default:
        doc["default_model"] = default
    return doc


def export_providers(*, include_keys: bool = False) -> str:
    """The providers file as YAML text."""
    body = yaml.safe_dump(export_document(include_keys=include_keys), sort_keys=False, allow_unicode=True, width=120)
    return HEADER + body
