"""Writes of the model registry: models with catalog capabilities, connection tests, key rotation.

`model_create` / `model_update` wrap `providers.services` (which must not know
the catalog, since `providers` imports nothing of `models_registry`) and fill
what the operator left out from the capability catalog. Callers that create
models (the API, the admin, the commands) use these.
"""

from __future__ import annotations

import time
from typing import Any

from django.apps import apps
from django.db import transaction

from models_registry import catalog
from models_registry.bulk import bulk_update_rows
from models_registry.upstream import error_text, provider_info, with_adapter
from providers import crypto
from providers import services as provider_services
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import NotFoundError
from providers.fields import EncryptedTextField
from providers.models import Provider, ProviderModel
from providers.snapshot import ProviderInfo, get_snapshot, invalidate

#: Values that mean "not given" for the catalog: the operator declared nothing.
_EMPTY = (None, "", {}, [])


def _given(data: dict[str, Any]) -> set[str]:
    return {name for name, value in data.items() if value not in _EMPTY}


def model_fill_capabilities(*, model: ProviderModel, keep: set[str] | frozenset[str] = frozenset()) -> bool:
    """Fill a saved model's empty capabilities / context window / max output from the catalog.

    An operator's declared capabilities are never replaced. Returns True when the row changed.
    """
    found = catalog.lookup(model.model_id)
    if not catalog.fill_from_catalog(model, found, keep=keep):
        return False
    model.save(update_fields=["capabilities", "capabilities_source", "context_window", "max_output_tokens"])
    return True


@transaction.atomic
def model_create(*, provider: Provider, **data: Any) -> ProviderModel:
    """`providers.services.model_create`, then the catalog fills what was not declared."""
    if data.get("capabilities") in _EMPTY:
        # No capabilities given: they are not "declared", whatever the lower service assumes.
        data.pop("capabilities", None)
    model = provider_services.model_create(provider=provider, **data)
    model_fill_capabilities(model=model, keep=_given(data))
    return model


@transaction.atomic
def model_update(*, model: ProviderModel, **data: Any) -> ProviderModel:
    """`providers.services.model_update`, then the catalog fills what is still empty."""
    model = provider_services.model_update(model=model, **data)
    model_fill_capabilities(model=model, keep=_given(data))
    return model


@transaction.atomic
def models_fill_capabilities(*, provider: Provider | None = None) -> int:
    """Fill every model without declared capabilities from the catalog, in bulk; returns how many changed."""
    rows = ProviderModel.objects.all() if provider is None else ProviderModel.objects.filter(provider=provider)
    models = list(rows)
    found = catalog.lookup_many([m.model_id for m in models])
    changed = [m for m in models if catalog.fill_from_catalog(m, found[m.model_id])]
    if changed:
        fields = ["capabilities", "capabilities_source", "context_window", "max_output_tokens"]
        bulk_update_rows(changed, fields)
        invalidate()
        transaction.on_commit(invalidate)
    return len(changed)


# --- connection test ------------------------------------------------------------------


def _first_model(info: ProviderInfo) -> str | None:
    models = get_snapshot().enabled_models(info.id)
    return models[0].model_id if models else None


def test_connection(provider: Provider | ProviderInfo | int) -> dict[str, Any]:
    """Can we reach this provider with its key? `{"ok", "latency_ms", "error"}` (SPEC §5).

    Lists the upstream's models (no tokens spent); a server without a model list
    (404) is pinged with its first enabled model instead.
    """
    info = provider_info(provider)
    if not info.is_active:
        return {"ok": False, "latency_ms": None, "error": f"provider is inactive: {info.inactive_reason}"}
    started = time.perf_counter()

    async def check(adapter: ProviderAdapter) -> str | None:
        nonlocal started
        started = time.perf_counter()  # the round trip only, not loading the adapter's SDK
        try:
            await adapter.list_models(limit=1)  # reachable and authorised: one entry says it (no endless pages)
        except NotFoundError:
            model_id = _first_model(info)
            if model_id is None:
                raise
            result = await adapter.ping(model_id)
            return None if result.ok else f"ping of {model_id} failed: {result.error}"
        return None

    try:
        error = with_adapter(info, check)
    except Exception as exc:  # noqa: BLE001  (every failure is the test's answer, not a crash)
        error = error_text(exc, info)
    latency = round((time.perf_counter() - started) * 1000, 1)
    return {"ok": error is None, "latency_ms": latency, "error": error}


test_connection.__test__ = False  # a service, not a test: keep pytest from collecting it where imported


# --- encryption key rotation ----------------------------------------------------------


class RotationError(Exception):
    """A stored secret that no configured key decrypts; names the row, never the value."""


def _encrypted_fields() -> list[tuple[type, str]]:
    return [
        (model, f.name)
        for model in apps.get_models()
        for f in model._meta.get_fields()
        if isinstance(f, EncryptedTextField)
    ]


@transaction.atomic
def secrets_rotate(*, dry_run: bool = False) -> list[str]:
    """Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS, all or nothing.

    Returns one line per re-encrypted secret (`Provider openai: api_key`). Raises
    RotationError naming the first secret no key decrypts; nothing is written then.
    """
    done: list[str] = []
    updates: list[tuple[type, int, str, str]] = []
    for model, name in _encrypted_fields():
        label_field = "slug" if any(f.name == "slug" for f in model._meta.fields) else "pk"
        rows = model.objects.exclude(**{name: ""}).values_list("pk", label_field, name)
        if not dry_run:
            rows = rows.select_for_update()
        for pk, label, token in rows:
            try:
                new_token = crypto.rotate(str(token))
            except crypto.DecryptionError:
                raise RotationError(
                    f"{model._meta.verbose_name} {label}: the stored {name} cannot be decrypted with any key of "
                    "FIELD_ENCRYPTION_KEYS; add the old key back (after the new one) and run again. "
                    "Nothing was changed."
                ) from None
            updates.append((model, pk, name, new_token))
            done.append(f"{model._meta.verbose_name} {label}: {name}")
    if not dry_run:
        for model, pk, name, new_token in updates:
            model.objects.filter(pk=pk).update(**{name: new_token})
        if updates:
            invalidate()
            transaction.on_commit(invalidate)
    return done
