"""`providers.services`: validation naming the field, nothing written on error, defaults, model resolution."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers import services
from providers.exceptions import AmbiguousModel, InvalidModel, ProviderHasModels
from providers.models import Provider, ProviderModel, RuntimeSetting
from tests.factories import make_model, make_provider

pytestmark = pytest.mark.django_db


def table_state() -> list[tuple]:
    """Every row of the store, to assert that a refused change wrote nothing."""
    return [
        *Provider.objects.order_by("pk").values_list(),
        *ProviderModel.objects.order_by("pk").values_list(),
        *RuntimeSetting.objects.order_by("pk").values_list(),
    ]


def fields_of(exc_info: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(exc_info.value.message_dict)


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Captures the services' warnings (a dropped default must be logged)."""
    caplog.set_level(logging.WARNING, logger="providers.services")
    return caplog


# --- providers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"slug": "-starts-with-hyphen"}, "slug"),
        ({"base_url": "not a url"}, "base_url"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
        ({"kind": "cohere"}, "kind"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"extra_headers": ["X-A"]}, "extra_headers"),
        ({"extra_headers": {"X-A": 1}}, "extra_headers"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_provider_create_names_the_bad_field_and_writes_nothing(data, field):
    make_provider(name="Existing", slug="existing")
    before = table_state()
    with pytest.raises(ValidationError) as exc_info:
        services.provider_create(**{"name": "New", "slug": "new", "kind": "openai", **data})
    assert field in fields_of(exc_info)
    assert table_state() == before


@pytest.mark.parametrize("field", ["name", "slug"])
def test_duplicate_provider_name_or_slug(field):
    make_provider(name="OpenAI", slug="openai")
    data = {"name": "Other", "slug": "other", field: {"name": "OpenAI", "slug": "openai"}[field]}
    with pytest.raises(ValidationError) as exc_info:
        services.provider_create(**data)
    assert fields_of(exc_info) == {field}
    assert Provider.objects.count() == 1


def test_provider_update_refused_leaves_the_row_unchanged():
    provider = make_provider(name="OpenAI", slug="openai")
    make_provider(name="Anthropic", slug="anthropic")
    before = table_state()
    with pytest.raises(ValidationError) as exc_info:
        services.provider_update(provider=provider, name="Anthropic", base_url="ftp//nope")
    assert fields_of(exc_info) == {"name", "base_url"}
    assert table_state() == before


def test_provider_update_key_rules():
    provider = make_provider(api_key="sk-original-00000001")
    services.provider_update(provider=provider, api_key=None, name="Kept")
    assert Provider.objects.get(pk=provider.pk).api_key.reveal() == "sk-original-00000001"
    services.provider_update(provider=provider, api_key="sk-replaced-00000002")
    assert Provider.objects.get(pk=provider.pk).api_key.reveal() == "sk-replaced-00000002"
    services.provider_update(provider=provider, api_key="")
    assert Provider.objects.get(pk=provider.pk).api_key == ""


def test_provider_delete_with_models_needs_force(warnings):
    provider = make_provider()
    make_model(provider, is_default=True)
    before = table_state()
    with pytest.raises(ProviderHasModels, match="has 1 model"):
        services.provider_delete(provider=provider)
    assert table_state() == before

    services.provider_delete(provider=provider, force=True)
    assert not Provider.objects.exists() and not ProviderModel.objects.exists()
    assert "no default model now" in warnings.text


def test_disabling_the_default_models_provider_drops_the_default(warnings):
    provider = make_provider()
    make_model(provider, is_default=True)
    services.provider_update(provider=provider, is_enabled=False)
    assert not ProviderModel.objects.filter(is_default=True).exists()
    assert "no default model now" in warnings.text


def test_no_log_record_query_or_error_contains_the_key(caplog):
    secret = "sk-never-logged-0123456789-QRST"
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    with CaptureQueriesContext(connection):  # logs every SQL statement with its parameters
        provider = services.provider_create(name="Logged", slug="logged", api_key=secret)
        make_model(provider, is_default=True)
        with pytest.raises(ValidationError) as exc_info:
            services.provider_create(name="Logged", slug="logged", api_key=secret)
        services.provider_update(provider=provider, api_key=secret + "-2", is_enabled=False)
        services.provider_delete(provider=provider, force=True)

    assert "INSERT INTO" in caplog.text  # the statements were logged...
    assert secret not in caplog.text  # ...with ciphertext only
    assert secret not in str(exc_info.value.message_dict)


# --- models --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["vision", "tools"], {"vision": True, "tools": True}),
        ({"thinking": "budget", "vision": True}, {"thinking": "budget", "vision": True}),
        (None, {}),
        ([], {}),
    ],
)
def test_capabilities_are_always_an_object(value, expected):
    model = make_model(capabilities=value)
    assert ProviderModel.objects.get(pk=model.pk).capabilities == expected
    assert model.capabilities_source == "declared"


@pytest.mark.parametrize("value", [42, "vision", [1, 2], [{"vision": True}], ["vision", ""], True])
def test_capabilities_that_cannot_be_converted_are_refused(value):
    provider = make_provider()
    model = make_model(provider, capabilities={"vision": True})
    before = table_state()
    with pytest.raises(ValidationError) as exc_info:
        services.model_create(provider=provider, model_id="new", capabilities=value)
    assert fields_of(exc_info) == {"capabilities"}
    with pytest.raises(ValidationError) as exc_info:
        services.model_update(model=model, capabilities=value)
    assert fields_of(exc_info) == {"capabilities"}
    assert table_state() == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"model_id": "taken"}, "__all__"),
        ({"alias": "shared"}, "__all__"),
        ({"alias": "has space"}, "alias"),
        ({"model_id": ""}, "model_id"),
        ({"context_window": -1}, "context_window"),
        ({"input_price_per_mtok": -1}, "input_price_per_mtok"),
        ({"status": "great"}, "status"),
        ({"provider_id": 1}, "provider_id"),
    ],
)
def test_model_create_names_the_bad_field_and_writes_nothing(data, field):
    provider = make_provider()
    make_model(provider, model_id="taken")
    make_model(alias="shared")
    before = table_state()
    with pytest.raises(ValidationError) as exc_info:
        services.model_create(provider=provider, **{"model_id": "fresh", **data})
    assert field in fields_of(exc_info)
    assert table_state() == before


def test_duplicate_messages_say_what_is_duplicated():
    provider = make_provider()
    make_model(provider, model_id="gpt-4o", alias="4o")
    with pytest.raises(ValidationError, match="already has a model with this model id"):
        services.model_create(provider=provider, model_id="gpt-4o")
    with pytest.raises(ValidationError, match="alias is already used"):
        services.model_create(provider=make_provider(), model_id="x", alias="4o")


def test_model_create_as_default_of_a_disabled_model_writes_nothing():
    provider = make_provider()
    before = table_state()
    with pytest.raises(ValidationError) as exc_info:
        services.model_create(provider=provider, model_id="off", is_enabled=False, is_default=True)
    assert fields_of(exc_info) == {"is_default"}
    assert table_state() == before


# --- the default ---------------------------------------------------------------------------------


def defaults() -> list[int]:
    return list(ProviderModel.objects.filter(is_default=True).values_list("pk", flat=True))


def test_set_default_switches_to_exactly_one():
    first, second = make_model(is_default=True), make_model()
    services.set_default_model(model=second)
    assert defaults() == [second.pk]
    services.set_default_model(model=second.pk)  # idempotent, by id too
    assert defaults() == [second.pk]
    assert first.pk not in defaults()


def test_default_must_be_an_enabled_model_of_an_enabled_provider():
    current = make_model(is_default=True)
    disabled_model = make_model(is_enabled=False)
    off_provider = make_provider(is_enabled=False)
    model_of_disabled_provider = make_model(off_provider)

    with pytest.raises(ValidationError, match="is disabled; enable it first") as exc_info:
        services.set_default_model(model=disabled_model)
    assert fields_of(exc_info) == {"is_default"}
    with pytest.raises(ValidationError, match=f"Provider {off_provider.slug} is disabled"):
        services.set_default_model(model=model_of_disabled_provider)
    with pytest.raises(ValidationError, match="No model with id 999999"):
        services.set_default_model(model=999999)
    assert defaults() == [current.pk]


def test_disabling_the_default_leaves_none_and_warns(warnings):
    default = make_model(is_default=True)
    services.model_update(model=default, is_enabled=False)
    assert defaults() == []
    assert f"Default model {default.qualified_id} was disabled" in warnings.text


def test_bulk_disabling_the_default_leaves_none_and_warns(warnings):
    default, other = make_model(is_default=True), make_model()
    assert services.models_set_enabled(model_ids=[default.pk, other.pk], enabled=False) == 2
    assert defaults() == []
    assert "no default model now" in warnings.text
    assert services.models_set_enabled(model_ids=[default.pk], enabled=True) == 1
    assert defaults() == []  # re-enabling does not bring the default back


def test_deleting_the_default_leaves_none_and_warns(warnings):
    default = make_model(is_default=True)
    services.model_delete(model=default)
    assert defaults() == []
    assert f"Default model {default.qualified_id} deleted" in warnings.text


def test_model_update_can_set_and_clear_the_default():
    first, second = make_model(is_default=True), make_model()
    services.model_update(model=second, is_default=True)
    assert defaults() == [second.pk]
    services.model_update(model=second, is_default=False)
    assert defaults() == []
    services.model_update(model=first, name="Unrelated change")
    assert defaults() == []


# --- resolution (SPEC §4) ------------------------------------------------------------------------


@pytest.fixture
def catalog() -> dict[str, ProviderModel]:
    """Two active providers sharing a model id, an alias, a disabled model and an inactive provider."""
    openai = make_provider(name="OpenAI", slug="openai")
    openrouter = make_provider(name="OpenRouter", slug="openrouter")
    keyless = make_provider(name="Groq", slug="groq", api_key="")
    return {
        "mini": make_model(openai, model_id="gpt-4o-mini", alias="4o-mini", is_default=True),
        "gpt4o": make_model(openai, model_id="gpt-4o"),
        "old": make_model(openai, model_id="gpt-3.5-turbo", is_enabled=False),
        "router_gpt4o": make_model(openrouter, model_id="gpt-4o"),
        "router_llama": make_model(openrouter, model_id="meta-llama/llama-3-70b"),
        "groq": make_model(keyless, model_id="llama-3.1-8b-instant"),
    }


@pytest.mark.parametrize(
    ("model_string", "key"),
    [
        ("openai/gpt-4o-mini", "mini"),
        ("openai/4o-mini", "mini"),
        ("gpt-4o-mini", "mini"),
        ("4o-mini", "mini"),
        ("  4o-mini ", "mini"),
        ("openrouter/gpt-4o", "router_gpt4o"),
        ("meta-llama/llama-3-70b", "router_llama"),
        ("openrouter/meta-llama/llama-3-70b", "router_llama"),
        (None, "mini"),
        ("", "mini"),
    ],
)
def test_resolve_model(catalog, model_string, key):
    assert services.resolve_model(model_string).id == catalog[key].pk


@pytest.mark.parametrize(
    ("model_string", "message"),
    [
        ("nope", "Invalid model: nope"),
        ("openai/nope", "Invalid model for provider openai: nope"),
        ("openai/gpt-3.5-turbo", "Invalid model for provider openai: gpt-3.5-turbo"),  # disabled
        ("gpt-3.5-turbo", "Invalid model: gpt-3.5-turbo"),
        ("llama-3.1-8b-instant", "Invalid model: llama-3.1-8b-instant"),  # provider has no key
        ("mistral/large", "Invalid model: mistral/large"),
    ],
)
def test_resolve_model_errors_use_the_spec_wording(catalog, model_string, message):
    with pytest.raises(InvalidModel) as exc_info:
        services.resolve_model(model_string)
    assert str(exc_info.value) == message
    assert exc_info.value.status_code == 404 and exc_info.value.field == "model"


def test_ambiguous_unprefixed_model_lists_the_candidates(catalog):
    with pytest.raises(AmbiguousModel) as exc_info:
        services.resolve_model("gpt-4o")
    assert exc_info.value.candidates == ["openai/gpt-4o", "openrouter/gpt-4o"]
    assert "openai/gpt-4o, openrouter/gpt-4o" in str(exc_info.value)
    assert exc_info.value.status_code == 400


def test_no_model_and_no_default(catalog):
    services.clear_default_model()
    with pytest.raises(InvalidModel, match="no default model is set"):
        services.resolve_model(None)
    with pytest.raises(InvalidModel, match="a model string is expected"):
        services.resolve_model(42)  # type: ignore[arg-type]


def test_set_default_by_model_string(catalog):
    assert services.set_default_model_by_string("openrouter/gpt-4o").pk == catalog["router_gpt4o"].pk
    assert defaults() == [catalog["router_gpt4o"].pk]
    with pytest.raises(InvalidModel):
        services.set_default_model_by_string("")


# --- runtime settings ----------------------------------------------------------------------------


def test_runtime_settings_accept_camel_case_and_store_native_json():
    cleaned = services.runtime_settings_update({"temperature": 0.2, "thinkingBudgetTokens": 2048})
    assert cleaned == {"temperature": 0.2, "thinking_budget_tokens": 2048}
    assert RuntimeSetting.objects.get(key="thinking_budget_tokens").value == 2048


def test_runtime_settings_refused_write_nothing():
    services.runtime_settings_update({"temperature": 0.2})
    before = table_state()
    with pytest.raises(ValidationError) as exc_info:
        services.runtime_settings_update({"temperature": 0.5, "max_tokens": 0, "colour": "red"})
    assert fields_of(exc_info) == {"max_tokens", "colour"}
    with pytest.raises(ValidationError) as exc_info:
        services.runtime_setting_set(key="presets", value={"fast": {"temperature": "hot"}, "Bad Name": {}})
    assert fields_of(exc_info) == {"presets.fast.temperature", "presets.Bad Name"}
    assert table_state() == before


def test_presets_are_stored_cleaned():
    setting = services.runtime_setting_set(key="presets", value={"tiny": {"maxTokens": 64, "temperature": 0}})
    assert setting.value == {"tiny": {"max_tokens": 64, "temperature": 0}}
