"""Admin forms of the configuration store.

They validate exactly as the services do (the same functions), so a form that
validates can be saved by the service; the key field is write-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from providers import services
from providers.models import Provider, ProviderModel, RuntimeSetting
from providers.runtime import PRESETS_KEY, clean_setting, known_setting_keys

#: What each runtime setting accepts, shown next to the JSON editor.
SETTING_HELP: dict[str, str] = {
    "temperature": "number from 0 to 2, or null (the provider's default)",
    "max_tokens": "whole number ≥ 1, or null",
    "system_prompt": 'string prepended as a system message ("" for none)',
    "response_format": '{"type": "text" | "json_object" | "json_schema", …} or null',
    "parallel_tool_calls": "true, false or null",
    "thinking_budget_tokens": "whole number ≥ 0 (0 disables thinking), or null",
    "show_thinking_process": "true or false: return reasoning_content to clients",
    "adaptive_thinking_budget": "true or false: scale the budget with max_tokens",
    "max_thinking_budget_tokens": "whole number ≥ 1024: the ceiling of an adaptive budget",
    PRESETS_KEY: 'object of named bundles, e.g. {"fast": {"temperature": 0.3, "max_tokens": 1024}}',
}


class HttpsURLField(forms.URLField):
    """A URL field that completes a scheme-less entry with https:// (Django 6's default)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("assume_scheme", "https")
        super().__init__(**kwargs)


def _messages(exc: ValidationError) -> list[str]:
    """Flatten a field-keyed ValidationError into `field: message` lines for one form field."""
    if hasattr(exc, "error_dict"):
        return [f"{field}: {message}" for field, messages in exc.message_dict.items() for message in messages]
    return exc.messages


class ProviderAdminForm(forms.ModelForm):
    """The provider form: `api_key` is a write-only password input; blank keeps the stored key."""

    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}),
        help_text="Write-only: leave blank to keep the stored key. Encrypted at rest, never shown again.",
    )
    clear_api_key = forms.BooleanField(label="Remove the stored key", required=False)

    class Meta:
        model = Provider
        fields = [
            "name",
            "slug",
            "kind",
            "is_enabled",
            "base_url",
            "organization",
            "api_version",
            "image_url",
            "timeout_seconds",
            "max_retries",
            "extra_headers",
            "stream_timeout_seconds",
            "max_response_bytes",
            "max_error_body_bytes",
            "max_sse_event_bytes",
            "max_connections",
        ]
        field_classes = {"base_url": HttpsURLField, "image_url": HttpsURLField}
        # `api_key` is not a model field of this form: the loaded value is ciphertext, and a blank
        # input must never be written over the stored key (ProviderAdmin also excludes it).

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.pop("api_key", None)

    def clean_extra_headers(self) -> dict[str, str]:
        try:
            return services.validate_extra_headers(self.cleaned_data.get("extra_headers"))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["extra_headers"]) from exc

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("api_key") and cleaned.get("clear_api_key"):
            self.add_error("clear_api_key", "Either enter a new key or remove the stored one, not both.")
        return cleaned

    def service_data(self) -> dict[str, Any]:
        """Keyword arguments for provider_create / provider_update.

        `api_key` is passed only to set a new key or to clear it, so a blank input keeps the stored key.
        """
        data = {
            name: value
            for name, value in self.cleaned_data.items()
            if name in services.PROVIDER_FIELDS and name != "api_key"
        }
        if self.cleaned_data.get("clear_api_key"):
            data["api_key"] = ""
        elif self.cleaned_data.get("api_key"):
            data["api_key"] = self.cleaned_data["api_key"]
        return data


class ProviderModelInlineForm(forms.ModelForm):
    """A model row inside its provider's page."""

    class Meta:
        model = ProviderModel
        fields = ["name", "model_id", "alias", "is_enabled", "sort_order"]


class ProviderModelInlineFormSet(forms.BaseInlineFormSet):
    """The models of one provider page; aliases must differ between rows as well as from stored ones.

    (The formset checks unconditional unique constraints itself; the alias one is conditional.)
    """

    def clean(self) -> None:
        super().clean()
        seen: dict[str, int] = {}
        for index, form in enumerate(self.forms):
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            alias = form.cleaned_data.get("alias")
            if not alias:
                continue
            if alias in seen:
                form.add_error("alias", f"Row {seen[alias] + 1} already uses the alias {alias!r}.")
            seen.setdefault(alias, index)


class ProviderModelAdminForm(forms.ModelForm):
    """The full model form; capabilities accept a list of names (converted to an object)."""

    class Meta:
        model = ProviderModel
        # `last_checked_at` is set by discovery only.
        fields = ["provider", *(name for name in services.MODEL_FIELDS if name != "last_checked_at")]
        help_texts = {
            "capabilities": 'JSON object, e.g. {"vision": true, "tools": true, "thinking": "budget"}; '
            'a list such as ["vision", "tools"] is converted.',
        }

    def clean_capabilities(self) -> dict[str, Any]:
        try:
            return services.normalize_capabilities(self.cleaned_data.get("capabilities"))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["capabilities"]) from exc


def settings_help_html() -> str:
    """The known keys and what each accepts, as an HTML list (escaped)."""
    items = format_html_join(
        "", "<li><code>{}</code>: {}</li>", ((key, SETTING_HELP.get(key, "")) for key in known_setting_keys())
    )
    return format_html("Known keys:<ul>{}</ul>", items)


class RuntimeSettingForm(forms.ModelForm):
    """One generation default (or the presets), validated by providers.runtime like the API's."""

    value = forms.JSONField(required=False, widget=forms.Textarea(attrs={"rows": 6, "cols": 80}))

    class Meta:
        model = RuntimeSetting
        fields = ["key", "value"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "key" in self.fields:  # read-only once saved
            self.fields["key"].widget = forms.Select(choices=[(key, key) for key in known_setting_keys()])
        self.fields["value"].help_text = settings_help_html()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        key = cleaned.get("key", self.instance.key)
        if not key or "value" not in cleaned:
            return cleaned
        try:
            key, cleaned["value"] = clean_setting(key, cleaned["value"])
        except ValidationError as exc:
            self.add_error("value", _messages(exc))
            return cleaned
        if "key" in self.fields:
            cleaned["key"] = key
        return cleaned

    @property
    def setting_key(self) -> str:
        return self.cleaned_data.get("key") or self.instance.key
