"""Runtime settings admin: generation defaults and presets edited as JSON, validated like the API."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest

from providers import services
from providers.admin.common import ServiceErrorsMixin, adopt
from providers.forms import RuntimeSettingForm
from providers.models import RuntimeSetting


@admin.register(RuntimeSetting)
class RuntimeSettingAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = RuntimeSettingForm
    list_display = ["key", "value_preview", "updated_at"]
    search_fields = ["key"]

    def get_readonly_fields(self, request: HttpRequest, obj: RuntimeSetting | None = None) -> list[str]:
        return ["key"] if obj is not None else []

    @admin.display(description="value")
    def value_preview(self, obj: RuntimeSetting) -> str:
        text = json.dumps(obj.value, ensure_ascii=False)
        return text if len(text) <= 100 else text[:99] + "…"

    def save_model(self, request: HttpRequest, obj: RuntimeSetting, form: RuntimeSettingForm, change: bool) -> None:
        saved = services.runtime_setting_set(key=form.setting_key, value=form.cleaned_data["value"])
        adopt(obj, saved)
