"""`/api/config/presets/` and `/api/config/defaults/` (models_registry/api/views.py)."""

import pytest

from providers import services
from providers.models import RuntimeSetting
from providers.runtime import BUILTIN_DEFAULTS, PRESETS
from tests.models_registry.conftest import table_state

pytestmark = pytest.mark.django_db

DEFAULTS = "/api/config/defaults/"
PRESETS_URL = "/api/config/presets/"


def stored() -> dict:
    return dict(RuntimeSetting.objects.values_list("key", "value"))


def test_presets(reader, api):
    body = reader.get(PRESETS_URL).json()
    assert body == PRESETS
    assert api.post(PRESETS_URL, {}, format="json").status_code == 405


def test_operator_presets_show_up(reader):
    services.runtime_setting_set(key="presets", value={"creative": {"temperature": 1.3}})
    body = reader.get(PRESETS_URL).json()
    assert body["creative"] == {"temperature": 1.3}
    assert set(PRESETS) <= set(body)


def test_get_defaults(reader):
    assert reader.get(DEFAULTS).json() == BUILTIN_DEFAULTS


def test_patch_accepts_camel_and_snake_case(api):
    response = api.patch(
        DEFAULTS, {"systemPrompt": "Be brief.", "thinkingBudgetTokens": 2048, "temperature": 0.2}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["system_prompt"] == "Be brief." and body["thinking_budget_tokens"] == 2048
    assert body["temperature"] == 0.2
    assert body["max_thinking_budget_tokens"] == BUILTIN_DEFAULTS["max_thinking_budget_tokens"]
    assert stored()["system_prompt"] == "Be brief."  # stored natively as JSON
    api.patch(DEFAULTS, {"max_tokens": 512}, format="json")
    body = api.get(DEFAULTS).json()
    assert body["max_tokens"] == 512 and body["system_prompt"] == "Be brief."


def test_put_replaces_everything(api):
    api.patch(DEFAULTS, {"system_prompt": "old", "temperature": 1.5}, format="json")
    response = api.put(DEFAULTS, {"maxTokens": 100, "showThinkingProcess": False}, format="json")
    assert response.status_code == 200
    assert response.json() == {**BUILTIN_DEFAULTS, "max_tokens": 100, "show_thinking_process": False}
    assert api.get(DEFAULTS).json() == response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"temperature": 5}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"maxTokens": 0}, "maxTokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"show_thinking_process": "yes"}, "show_thinking_process"),
        ({"response_format": {"type": "yaml"}}, "response_format"),
        ({"systemPrompt": 42}, "systemPrompt"),
        ({"systemPrompt": "nul\x00"}, "systemPrompt"),
        ({"top_k": 40}, "top_k"),
        ({"temperature": 0.5, "maxThinkingBudgetTokens": 10}, "maxThinkingBudgetTokens"),
        ({"max_tokens": 10, "maxTokens": 20}, "max_tokens"),
    ],
)
@pytest.mark.parametrize("method", ["patch", "put"])
def test_bad_values_are_400s_naming_the_key_and_write_nothing(api, body, field, method):
    api.patch(DEFAULTS, {"temperature": 0.7}, format="json")
    before = table_state()
    response = getattr(api, method)(DEFAULTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert table_state() == before
    assert api.get(DEFAULTS).json()["temperature"] == 0.7


@pytest.mark.parametrize("body", ["[]", '"x"', "null", "{bad"])
def test_non_object_bodies(api, body):
    response = api.generic("PATCH", DEFAULTS, body, content_type="application/json")
    assert response.status_code == 400
    assert not RuntimeSetting.objects.exists()


def test_a_read_key_cannot_change_defaults(reader):
    assert reader.patch(DEFAULTS, {"temperature": 1}, format="json").status_code == 403
    assert not RuntimeSetting.objects.exists()
