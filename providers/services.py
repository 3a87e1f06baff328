"""Writes to the configuration store and model resolution (SPEC §3–§4).

Every write validates with the model's own validators and constraints and runs
in one transaction, so bad input changes nothing. Snapshot invalidation happens
in `providers.signals` (also for writes made outside these functions).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from providers.exceptions import AmbiguousModel, Conflict, InvalidModel, ProviderHasModels
from providers.models import Provider, ProviderModel, RuntimeSetting
from providers.runtime import clean_setting, clean_settings
from providers.snapshot import ConfigSnapshot, ModelInfo, get_snapshot, invalidate

logger = logging.getLogger(__name__)

#: The writable fields, in display order: forms, serializers and the YAML schema take theirs from here.
PROVIDER_FIELDS: tuple[str, ...] = (
    "name",
    "slug",
    "kind",
    "base_url",
    "api_key",
    "organization",
    "api_version",
    "image_url",
    "is_enabled",
    "timeout_seconds",
    "max_retries",
    "extra_headers",
    "stream_timeout_seconds",
    "max_response_bytes",
    "max_error_body_bytes",
    "max_sse_event_bytes",
    "max_connections",
)
MODEL_FIELDS: tuple[str, ...] = (
    "name",
    "model_id",
    "alias",
    "is_enabled",
    "capabilities",
    "capabilities_source",
    "context_window",
    "max_output_tokens",
    "input_price_per_mtok",
    "output_price_per_mtok",
    "sort_order",
    "status",
    "status_detail",
    "last_checked_at",
    "is_listed_upstream",
)
#: Advisory lock id serializing default switches on PostgreSQL ("MDDEFAUL").
DEFAULT_LOCK_ID = 0x4D4444454641554C


def normalize_capabilities(value: Any) -> dict[str, Any]:
    """Capabilities are always a JSON object; a list of names becomes `{name: true}`."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list | tuple):
        if not all(isinstance(item, str) and item for item in value):
            raise ValidationError({"capabilities": ["a list of capabilities must hold names (strings) only"]})
        return dict.fromkeys(value, True)
    raise ValidationError({"capabilities": ["must be a JSON object (or a list of capability names)"]})


def _check_fields(data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: ["unknown field"] for name in unknown})


def _save(instance: Any) -> None:
    instance.full_clean()
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:  # a concurrent writer won a uniqueness race
        raise Conflict(f"Conflicting change: {exc.__class__.__name__}") from exc


def validate_extra_headers(value: Any) -> dict[str, str]:
    """Extra headers are a JSON object of header names to string values (the admin uses this too)."""
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationError({"extra_headers": ["must be a JSON object of header names to string values"]})
    return dict(value)


@transaction.atomic
def provider_create(**data: Any) -> Provider:
    """Create a provider; `api_key` is plaintext here and encrypted on save."""
    _check_fields(data, PROVIDER_FIELDS)
    if data.get("api_key") is None:
        data.pop("api_key", None)
    if "extra_headers" in data:
        data["extra_headers"] = validate_extra_headers(data["extra_headers"])
    provider = Provider(**data)
    _save(provider)
    return provider


@transaction.atomic
def provider_update(*, provider: Provider, **data: Any) -> Provider:
    """Update the given fields. `api_key=None` (or absent) keeps the stored key; `""` clears it."""
    _check_fields(data, PROVIDER_FIELDS)
    if data.get("api_key") is None:
        data.pop("api_key", None)
    if "extra_headers" in data:
        data["extra_headers"] = validate_extra_headers(data["extra_headers"])
    # The default-switch lock before any row lock, always: disabling may drop the default, and a
    # caller's transaction (the admin's provider page) may go on to change its models, which takes
    # this lock; taken after the row lock, a concurrent switch waiting for that row deadlocks.
    _lock_default_switch()
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    for name, value in data.items():
        setattr(provider, name, value)
    _save(provider)
    if not provider.is_enabled:
        _drop_default_if(provider_id=provider.pk, reason=f"provider {provider.slug} was disabled")
    return provider


@transaction.atomic
def provider_delete(*, provider: Provider, force: bool = False) -> None:
    """Delete a provider; one with models needs `force=True` (the API's `?force=true`)."""
    _lock_default_switch()
    count = provider.models.count()
    if count and not force:
        raise ProviderHasModels(
            f"Provider {provider.slug!r} has {count} model(s); delete them first or pass force=true."
        )
    if provider.models.filter(is_default=True).exists():
        logger.warning("Default model removed with provider %s; there is no default model now.", provider.slug)
    provider.delete()


@transaction.atomic
def model_create(*, provider: Provider, **data: Any) -> ProviderModel:
    _check_fields(data, (*MODEL_FIELDS, "is_default"))
    make_default = bool(data.pop("is_default", False))
    if "capabilities" in data:
        data["capabilities"] = normalize_capabilities(data["capabilities"])
        data.setdefault("capabilities_source", "declared")
    # The insert share-locks the provider row (foreign key) before set_default_model would take
    # this lock, while a provider_update holding it waits for that row: take it first.
    _lock_default_switch()
    model = ProviderModel(provider=provider, **data)
    _save(model)
    if make_default:
        set_default_model(model=model)
    return model


@transaction.atomic
def model_update(*, model: ProviderModel, **data: Any) -> ProviderModel:
    _check_fields(data, (*MODEL_FIELDS, "is_default"))
    make_default = data.pop("is_default", None)
    if "capabilities" in data:
        data["capabilities"] = normalize_capabilities(data["capabilities"])
        data.setdefault("capabilities_source", "declared")
    # Before the row lock, in set_default_model's order, always (see provider_update): a page that
    # saves several models in one transaction must hold it before the first model's row lock.
    _lock_default_switch()
    model = ProviderModel.objects.select_for_update().select_related("provider").get(pk=model.pk)
    for name, value in data.items():
        setattr(model, name, value)
    if model.is_default and not model.is_enabled:
        model.is_default = False
        logger.warning("Default model %s was disabled; there is no default model now.", model.qualified_id)
    _save(model)
    if make_default:
        set_default_model(model=model)
    elif make_default is False and model.is_default:
        clear_default_model()
    return model


@transaction.atomic
def models_set_enabled(*, model_ids: Iterable[int], enabled: bool) -> int:
    """Enable or disable many models at once (admin actions); returns how many changed."""
    ids = list(model_ids)
    if not enabled:
        # Without the lock, a concurrent set_default_model could make one of these
        # models the default between our check and our update.
        _lock_default_switch()
        dropped = ProviderModel.objects.filter(pk__in=ids, is_default=True).update(is_default=False)
        if dropped:
            logger.warning("The default model was disabled; there is no default model now.")
    changed = ProviderModel.objects.filter(pk__in=ids).exclude(is_enabled=enabled).update(is_enabled=enabled)
    invalidate()
    transaction.on_commit(invalidate)
    return changed


@transaction.atomic
def model_delete(*, model: ProviderModel) -> None:
    _lock_default_switch()
    if ProviderModel.objects.filter(pk=model.pk, is_default=True).exists():
        logger.warning("Default model %s deleted; there is no default model now.", model.qualified_id)
    model.delete()


def _lock_default_switch() -> None:
    """Serialize default switches and the provider/model writes that may drop the default; every
    writer takes it before any row lock. SQLite already serializes writers (BEGIN IMMEDIATE)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DEFAULT_LOCK_ID])


def set_default_model(*, model: ProviderModel | int) -> ProviderModel:
    """Make `model` the only default, atomically (SPEC §3).

    Takes a lock that every default switch takes, re-reads the target under a row
    lock, then clears the old default and sets the new one in one transaction, so
    no observer ever sees two defaults (the database forbids it) or a gap.
    """
    pk = model if isinstance(model, int) else model.pk
    try:
        with transaction.atomic():
            _lock_default_switch()
            try:
                # Lock the model row only: a provider change (the admin's provider page with its
                # inline models) holds the provider row and then waits for the lock taken above.
                target = ProviderModel.objects.select_for_update(of=("self",)).select_related("provider").get(pk=pk)
            except ProviderModel.DoesNotExist as exc:
                raise ValidationError({"model": [f"No model with id {pk}."]}) from exc
            if not target.is_enabled:
                raise ValidationError({"is_default": [f"{target.qualified_id} is disabled; enable it first."]})
            if not target.provider.is_enabled:
                raise ValidationError(
                    {"is_default": [f"Provider {target.provider.slug} is disabled; enable it first."]}
                )
            if not target.is_default:
                ProviderModel.objects.filter(is_default=True).exclude(pk=pk).update(is_default=False)
                ProviderModel.objects.filter(pk=pk).update(is_default=True)
                target.is_default = True
            invalidate()
            transaction.on_commit(invalidate)
    except IntegrityError as exc:
        raise Conflict("Another change of the default model is in progress; try again.") from exc
    return target


@transaction.atomic
def clear_default_model() -> None:
    _lock_default_switch()
    ProviderModel.objects.filter(is_default=True).update(is_default=False)
    invalidate()
    transaction.on_commit(invalidate)


def set_default_model_by_string(model_string: str) -> ProviderModel:
    """`set_default_model` for a model string (`provider/model`, alias, model id)."""
    info = resolve_model(model_string, allow_default=False)
    return set_default_model(model=info.id)


def _drop_default_if(*, provider_id: int, reason: str) -> None:
    if ProviderModel.objects.filter(provider_id=provider_id, is_default=True).update(is_default=False):
        logger.warning("Default model dropped: %s; there is no default model now.", reason)


@transaction.atomic
def runtime_settings_update(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and store generation defaults (camelCase or snake_case keys)."""
    cleaned = clean_settings(values)
    for key, value in cleaned.items():
        RuntimeSetting.objects.update_or_create(key=key, defaults={"value": value})
    return cleaned


@transaction.atomic
def runtime_setting_set(*, key: str, value: Any) -> RuntimeSetting:
    """Store one setting (a generation default or `presets`) after the same validation as the API."""
    key, cleaned = clean_setting(key, value)
    setting, _ = RuntimeSetting.objects.update_or_create(key=key, defaults={"value": cleaned})
    return setting


def resolve_model(
    model_string: str | None, *, allow_default: bool = True, snapshot: ConfigSnapshot | None = None
) -> ModelInfo:
    """Find the servable model a model string names (SPEC §4), from the cached snapshot.

    `provider/model` (model id or alias), or unprefixed (model id or alias across
    active providers; ambiguous → error listing the candidates), or empty → the
    default model. A caller that already holds the snapshot passes it (one cache read less).
    """
    if model_string is not None and not isinstance(model_string, str):
        raise InvalidModel(f"Invalid model: {model_string!r} (a model string is expected)")
    model_string = (model_string or "").strip()
    snapshot = snapshot or get_snapshot()
    if not model_string:
        default = snapshot.default_model if allow_default else None
        if default is None:
            raise InvalidModel("Invalid model: no model given and no default model is set")
        return default
    found = snapshot.by_qualified.get(model_string)
    if found is not None:
        return found
    candidates = snapshot.by_unprefixed.get(model_string)
    if candidates:
        if len(candidates) == 1:
            return candidates[0]
        names = sorted(m.qualified_id for m in candidates)
        raise AmbiguousModel(
            f"Ambiguous model: {model_string} matches {', '.join(names)}; use provider/model.",
            candidates=names,
        )
    slug, sep, rest = model_string.partition("/")
    if sep and slug in snapshot.provider_by_slug:
        raise InvalidModel(f"Invalid model for provider {slug}: {rest}")
    raise InvalidModel(f"Invalid model: {model_string}")
