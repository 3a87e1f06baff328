"""Serializers of the registry and configuration API.

They validate input and render output; writes go through `providers.services`
(called by the views). A body may only hold writable fields: anything else, read-only
fields included (`is_default`, ids, timestamps, status), is a 400 naming the field,
so nothing can be mass-assigned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from providers import selectors, services
from providers.models import InactiveReason, Provider, ProviderModel
from providers.runtime import BUILTIN_DEFAULTS, GENERATION_SETTINGS

NULL_CHARACTER_MESSAGE = "Null characters are not allowed."


def has_null_character(value: Any, depth: int = 0) -> bool:
    # JSON columns on PostgreSQL reject \u0000; refuse it up front with a 400.
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(has_null_character(k, depth) or has_null_character(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_null_character(v, depth + 1) for v in value)
    return False


class StrictFieldsMixin:
    """Unknown or read-only fields in the body are a 400 naming each of them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = self.fields  # type: ignore[attr-defined]
            errors: dict[str, list[str]] = {}
            for name in data:
                field = fields.get(name)
                if field is None:
                    errors[name] = ["Unknown field."]
                elif field.read_only:
                    errors[name] = [getattr(self, "read_only_messages", {}).get(name, "This field is read-only.")]
                elif has_null_character(data[name]):
                    errors[name] = [NULL_CHARACTER_MESSAGE]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class StringOnlyField(serializers.CharField):
    """A CharField that does not turn numbers or booleans into strings."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ProviderSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A provider; `api_key` is write-only (omit or null: keep the stored key; "": remove it)."""

    api_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=4096,
        style={"input_type": "password"},
        help_text='Write-only. Omit or null to keep the stored key, "" to remove it.',
    )
    extra_headers = serializers.DictField(
        child=StringOnlyField(allow_blank=True, max_length=4096, trim_whitespace=False),
        required=False,
        help_text="Extra HTTP headers sent upstream: an object of header names to string values.",
    )
    has_api_key = serializers.BooleanField(read_only=True, help_text="A key is stored (an env key may also apply).")
    api_key_hint = serializers.CharField(read_only=True, help_text='Last 4 characters of the stored key, or "".')
    key_source = serializers.ChoiceField(
        choices=["env", "stored", "none"],
        read_only=True,
        help_text="Where the key used at run time comes from (`<SLUG>_API_KEY`, the database, or nowhere).",
    )
    is_active = serializers.BooleanField(read_only=True)
    inactive_reason = serializers.ChoiceField(choices=InactiveReason.choices, read_only=True, allow_null=True)

    class Meta:
        model = Provider
        fields = [
            "id",
            *services.PROVIDER_FIELDS,
            "has_api_key",
            "api_key_hint",
            "key_source",
            "is_active",
            "inactive_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_extra_headers(self, value: Any) -> dict[str, str]:
        try:
            return services.validate_extra_headers(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["extra_headers"]) from exc


@extend_schema_field({"type": "object", "additionalProperties": True, "example": {"vision": True, "tools": True}})
class CapabilitiesField(serializers.JSONField):
    """A JSON object; a list of names is accepted and stored as `{name: true}`."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        try:
            return services.normalize_capabilities(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["capabilities"]) from exc


class ProviderModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A model of a provider. `is_default` changes only through `POST …/set-default/`."""

    read_only_messages = {
        "is_default": "This field is read-only: use POST /api/config/models/{id}/set-default/.",
    }

    provider = serializers.PrimaryKeyRelatedField(
        queryset=Provider.objects.all(), help_text="Provider id (cannot be changed once created)."
    )
    provider_slug = serializers.CharField(source="provider.slug", read_only=True)
    qualified_id = serializers.CharField(read_only=True, help_text="`<provider slug>/<model_id>`.")
    capabilities = CapabilitiesField(required=False, allow_null=True, help_text="null is stored as {}.")

    class Meta:
        model = ProviderModel
        fields = [
            "id",
            "provider",
            "provider_slug",
            "qualified_id",
            *services.MODEL_FIELDS,
            "is_default",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "is_default",
            "capabilities_source",
            "status",
            "status_detail",
            "last_checked_at",
            "is_listed_upstream",
            "created_at",
            "updated_at",
        ]
        # (provider, model_id) is checked in validate() so the error names `model_id`.
        validators: list = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance is not None and not isinstance(self.instance, list | tuple) and "provider" in self.fields:
            self.fields["provider"].required = False

    def validate_provider(self, provider: Provider) -> Provider:
        instance = self.instance if isinstance(self.instance, ProviderModel) else None
        if instance is not None and provider.pk != instance.provider_id:
            raise serializers.ValidationError("A model cannot move to another provider; create it there instead.")
        return provider

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance if isinstance(self.instance, ProviderModel) else None
        provider = attrs.get("provider") or (instance.provider if instance else None)
        model_id = attrs.get("model_id", instance.model_id if instance else None)
        exclude_pk = instance.pk if instance else None
        if provider is not None and model_id and "model_id" in attrs:
            if selectors.model_id_taken(provider_id=provider.pk, model_id=model_id, exclude_pk=exclude_pk):
                raise serializers.ValidationError(
                    {"model_id": [f"Provider {provider.slug} already has a model with model_id {model_id!r}."]}
                )
        return attrs


class RegistryModelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    model_id = serializers.CharField()
    qualified_id = serializers.CharField()
    alias = serializers.CharField()
    is_default = serializers.BooleanField()
    capabilities = CapabilitiesField()
    context_window = serializers.IntegerField(allow_null=True)
    max_output_tokens = serializers.IntegerField(allow_null=True)


class RegistryProviderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    kind = serializers.CharField()
    image_url = serializers.CharField()
    is_active = serializers.BooleanField(required=False, help_text="Staff only.")
    inactive_reason = serializers.CharField(allow_null=True, required=False, help_text="Staff only.")
    models = RegistryModelSerializer(many=True)


class RegistrySerializer(serializers.Serializer):
    """`GET /api/model-registry` (documentation only: the view serves pre-rendered JSON)."""

    default_model = serializers.CharField(allow_null=True, help_text="Qualified id of the default model.")
    providers = RegistryProviderSerializer(many=True)


def _setting_field(key: str) -> serializers.Field:
    value = BUILTIN_DEFAULTS.get(key)
    if isinstance(value, bool) or key in {"parallel_tool_calls"}:
        return serializers.BooleanField(required=False, allow_null=True)
    if key == "temperature":
        return serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    if key == "system_prompt":
        return serializers.CharField(required=False, allow_null=True, allow_blank=True)
    if key == "response_format":
        return serializers.JSONField(required=False, allow_null=True)
    return serializers.IntegerField(required=False, allow_null=True)


class GenerationDefaultsSerializer(serializers.Serializer):
    """Generation defaults (documentation; validation is `providers.runtime`'s, camelCase keys accepted)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {key: _setting_field(key) for key in GENERATION_SETTINGS}


class PresetsSerializer(serializers.Serializer):
    """Presets by name (documentation): each a bundle of generation settings."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: GenerationDefaultsSerializer(required=False) for name in ("fast", "balanced", "powerful")}
