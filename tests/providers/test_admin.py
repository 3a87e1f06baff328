"""The Django admin of the configuration store, driven with Django's test client as a logged-in superuser."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.urls import reverse

from providers.models import Provider, ProviderModel, RuntimeSetting
from providers.snapshot import current_version
from tests.factories import make_model, make_provider

pytestmark = pytest.mark.django_db

SECRET = "sk-admin-secret-0123456789-WXYZ"

PROVIDER_FORM = {
    "name": "Groq",
    "slug": "groq",
    "kind": "openai_compatible",
    "is_enabled": "on",
    "base_url": "https://api.groq.com/openai/v1",
    "api_key": "",
    "organization": "",
    "api_version": "",
    "image_url": "",
    "timeout_seconds": "60",
    "max_retries": "2",
    "stream_timeout_seconds": "600",
    "extra_headers": "{}",
}


def inline_management(total: int, initial: int = 0) -> dict[str, str]:
    return {
        "models-TOTAL_FORMS": str(total),
        "models-INITIAL_FORMS": str(initial),
        "models-MIN_NUM_FORMS": "0",
        "models-MAX_NUM_FORMS": "1000",
    }


def inline_row(index: int, **fields: str) -> dict[str, str]:
    row = {"name": "", "model_id": "", "alias": "", "is_enabled": "on", "sort_order": "0", **fields}
    return {f"models-{index}-{name}": value for name, value in row.items()}


def change_form_data(provider: Provider, **overrides: str) -> dict[str, str]:
    """What the browser posts back from an unchanged provider page (the key input is empty)."""
    data = {
        **PROVIDER_FORM,
        "name": provider.name,
        "slug": provider.slug,
        "kind": provider.kind,
        "base_url": provider.base_url,
        **inline_management(0),
    }
    if not provider.is_enabled:
        data.pop("is_enabled")
    models = list(provider.models.order_by("pk"))
    data.update(inline_management(len(models), len(models)))
    for index, model in enumerate(models):
        data.update(
            inline_row(
                index,
                id=str(model.pk),
                provider=str(provider.pk),
                name=model.name,
                model_id=model.model_id,
                alias=model.alias,
            )
        )
        if not model.is_enabled:
            data.pop(f"models-{index}-is_enabled")
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def raw_key_column(provider_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM providers_provider WHERE id = %s", [provider_id])
        return cursor.fetchone()[0]


def changelist_post(url: str, action: str, ids: list[int]) -> dict:
    return {"action": action, "_selected_action": [str(i) for i in ids], "index": "0"}


# --- providers -----------------------------------------------------------------------------------


def test_add_provider_with_two_models_inline(admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    data = {
        **PROVIDER_FORM,
        "api_key": SECRET,
        **inline_management(3),
        **inline_row(0, name="Llama 3.3 70B", model_id="llama-3.3-70b-versatile", alias="llama70"),
        **inline_row(1, name="Llama 3.1 8B", model_id="llama-3.1-8b-instant"),
        **inline_row(2),  # the empty extra row the page always shows
    }
    response = admin_client.post(reverse("admin:providers_provider_add"), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    provider = Provider.objects.get(slug="groq")
    assert sorted(provider.models.values_list("model_id", flat=True)) == [
        "llama-3.1-8b-instant",
        "llama-3.3-70b-versatile",
    ]
    assert provider.models.get(alias="llama70").name == "Llama 3.3 70B"
    assert provider.api_key.reveal() == SECRET
    assert SECRET not in raw_key_column(provider.pk)
    assert raw_key_column(provider.pk).startswith("fernet:")
    assert SECRET not in caplog.text


def test_invalid_inline_row_writes_nothing(admin_client):
    taken = make_model(alias="taken")
    data = {
        **PROVIDER_FORM,
        **inline_management(2),
        **inline_row(0, model_id="good-model"),
        **inline_row(1, model_id="other-model", alias="taken"),
    }
    response = admin_client.post(reverse("admin:providers_provider_add"), data)

    assert response.status_code == 200
    assert "This alias is already used by another model." in response.content.decode()
    assert not Provider.objects.filter(slug="groq").exists()
    assert list(ProviderModel.objects.values_list("pk", flat=True)) == [taken.pk]


def test_two_inline_rows_with_one_alias_are_refused(admin_client):
    data = {
        **PROVIDER_FORM,
        **inline_management(2),
        **inline_row(0, model_id="first", alias="same"),
        **inline_row(1, model_id="second", alias="same"),
    }
    response = admin_client.post(reverse("admin:providers_provider_add"), data)

    assert response.status_code == 200
    assert "Row 1 already uses the alias &#x27;same&#x27;." in response.content.decode()
    assert not Provider.objects.exists()


def test_bad_slug_and_headers_are_named_and_nothing_is_written(admin_client):
    data = {**PROVIDER_FORM, "slug": "Not A Slug", "extra_headers": '{"X-Team": 5}', **inline_management(0)}
    response = admin_client.post(reverse("admin:providers_provider_add"), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"slug", "extra_headers"}
    assert not Provider.objects.exists()


def test_key_input_never_renders_the_key(admin_client):
    provider = make_provider(api_key=SECRET)
    stored = raw_key_column(provider.pk)
    pages = [
        admin_client.get(reverse("admin:providers_provider_change", args=[provider.pk])),
        admin_client.get(reverse("admin:providers_provider_changelist")),
        admin_client.get(reverse("admin:providers_provider_history", args=[provider.pk])),
        # A page re-rendered after a validation error with a key typed in it.
        admin_client.post(
            reverse("admin:providers_provider_change", args=[provider.pk]),
            change_form_data(provider, api_key="sk-typed-but-refused-1234", slug="BAD SLUG"),
        ),
    ]
    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert SECRET not in html
        assert stored not in html and stored[7:40] not in html  # nor the ciphertext
        assert "sk-typed-but-refused" not in html
    change_html = pages[0].content.decode()
    assert 'type="password"' in change_html
    assert "has key · …WXYZ" in change_html


def test_env_key_is_named_not_shown(admin_client, monkeypatch):
    provider = make_provider(slug="openai", name="OpenAI", api_key="")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-9876")
    html = admin_client.get(reverse("admin:providers_provider_change", args=[provider.pk])).content.decode()
    assert "from environment: OPENAI_API_KEY" in html
    assert "sk-from-the-environment" not in html


def test_blank_key_keeps_the_stored_key_and_a_new_one_replaces_it(admin_client):
    provider = make_provider(api_key=SECRET)
    url = reverse("admin:providers_provider_change", args=[provider.pk])

    response = admin_client.post(url, change_form_data(provider, name="Renamed"))
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.name == "Renamed"
    assert provider.api_key.reveal() == SECRET

    admin_client.post(url, change_form_data(provider, api_key="sk-new-key-00001111"))
    provider.refresh_from_db()
    assert provider.api_key.reveal() == "sk-new-key-00001111"

    admin_client.post(url, change_form_data(provider, clear_api_key="on"))
    provider.refresh_from_db()
    assert provider.api_key == ""
    assert provider.inactive_reason == "no API key"


def test_new_key_and_clear_together_is_refused(admin_client):
    provider = make_provider(api_key=SECRET)
    url = reverse("admin:providers_provider_change", args=[provider.pk])
    response = admin_client.post(url, change_form_data(provider, api_key="sk-other-000000", clear_api_key="on"))
    assert response.status_code == 200
    assert "clear_api_key" in response.context["adminform"].form.errors
    provider.refresh_from_db()
    assert provider.api_key.reveal() == SECRET


def test_undecryptable_key_is_reported_not_shown(admin_client, settings):
    provider = make_provider(api_key=SECRET)
    settings.FIELD_ENCRYPTION_KEYS = ["Zm9yZWlnbi1rZXktMDAwMDAwMDAwMDAwMDAwMDAwMDA="]
    html = admin_client.get(reverse("admin:providers_provider_change", args=[provider.pk])).content.decode()
    assert "stored key cannot be decrypted" in html
    assert "inactive: key cannot be decrypted" in html
    listing = admin_client.get(reverse("admin:providers_provider_changelist") + "?active=key+cannot+be+decrypted")
    assert provider.name in listing.content.decode()


def test_inline_disabling_the_default_leaves_none(admin_client, caplog):
    provider = make_provider()
    default = make_model(provider, is_default=True)
    url = reverse("admin:providers_provider_change", args=[provider.pk])
    with caplog.at_level(logging.WARNING, logger="providers.services"):
        response = admin_client.post(url, change_form_data(provider, **{"models-0-is_enabled": None}))
    assert response.status_code == 302
    default.refresh_from_db()
    assert (default.is_enabled, default.is_default) == (False, False)
    assert "no default model now" in caplog.text


def test_provider_list_filters_search_and_default_column(admin_client):
    openai = make_provider(name="OpenAI", slug="openai", base_url="https://api.openai.com/v1")
    make_model(openai, model_id="gpt-4o-mini", is_default=True)
    make_provider(name="Keyless", slug="keyless", api_key="")
    make_provider(name="Off", slug="off", is_enabled=False)
    url = reverse("admin:providers_provider_changelist")

    html = admin_client.get(url).content.decode()
    assert "Default model: ★ openai/gpt-4o-mini" in html
    assert "★ gpt-4o-mini" in html

    def names(query: str) -> set[str]:
        response = admin_client.get(url + query)
        assert response.status_code == 200
        return {p.name for p in response.context["cl"].result_list}

    assert names("?active=yes") == {"OpenAI"}
    assert names("?active=no") == {"Keyless", "Off"}
    assert names("?active=no+API+key") == {"Keyless"}
    assert names("?active=disabled") == {"Off"}
    assert names("?kind__exact=openai&is_enabled__exact=1") == {"OpenAI", "Keyless"}
    assert names("?q=api.openai.com") == {"OpenAI"}


def test_logo_preview_is_escaped(admin_client):
    provider = make_provider(image_url="https://cdn.example.com/logo.png")
    # Written around the form's URL validation, as a bad import could.
    Provider.objects.filter(pk=provider.pk).update(image_url='https://x.example/a.png"onerror="alert(1)')
    html = admin_client.get(reverse("admin:providers_provider_changelist")).content.decode()
    assert 'onerror="alert(1)' not in html
    assert "&quot;onerror=&quot;alert(1)" in html


def test_subclasses_add_buttons_to_the_provider_page(rf, admin_user):
    from django.contrib import admin

    from providers.admin import ObjectTool, ProviderAdmin

    class ExtendedAdmin(ProviderAdmin):
        actions = [*ProviderAdmin.actions, "noop"]

        @admin.action(description="Do nothing")
        def noop(self, request, queryset):
            return None

        def get_object_tools(self, request, obj):
            return [*super().get_object_tools(request, obj), ObjectTool("Test connection", f"/tools/{obj.pk}/test/")]

    provider = make_provider()
    request = rf.get("/")
    request.user = admin_user
    extended = ExtendedAdmin(Provider, admin.site)
    html = extended.change_view(request, str(provider.pk)).render().content.decode()
    assert f'action="/tools/{provider.pk}/test/"' in html
    assert "Test connection</button>" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert {"enable_providers", "disable_providers", "noop"} <= set(extended.get_actions(request))


def test_delete_provider_through_the_admin(admin_client):
    provider = make_provider()
    make_model(provider, is_default=True)
    url = reverse("admin:providers_provider_delete", args=[provider.pk])
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Provider.objects.exists() and not ProviderModel.objects.exists()


# --- models --------------------------------------------------------------------------------------


def test_set_default_through_the_action(admin_client):
    first, second = make_model(is_default=True), make_model()
    url = reverse("admin:providers_providermodel_changelist")

    response = admin_client.post(url, changelist_post(url, "set_as_default", [second.pk]), follow=True)

    assert f"Default model set: {second.qualified_id}." in response.content.decode()
    assert list(ProviderModel.objects.filter(is_default=True).values_list("pk", flat=True)) == [second.pk]
    html = admin_client.get(url).content.decode()
    assert f"Default model: ★ {second.qualified_id}" in html
    assert html.count("★ default") == 1
    first.refresh_from_db()
    assert not first.is_default


def test_set_default_on_an_inactive_provider_warns(admin_client):
    model = make_model(make_provider(slug="keyless", api_key=""))
    url = reverse("admin:providers_providermodel_changelist")
    response = admin_client.post(url, changelist_post(url, "set_as_default", [model.pk]), follow=True)
    assert "Provider keyless is inactive (no API key): clients see no default model" in response.content.decode()
    assert ProviderModel.objects.get(is_default=True) == model


def test_set_default_needs_exactly_one_model(admin_client):
    first, second = make_model(is_default=True), make_model()
    url = reverse("admin:providers_providermodel_changelist")

    response = admin_client.post(url, changelist_post(url, "set_as_default", [first.pk, second.pk]), follow=True)

    assert "Select exactly one model to make it the default (2 selected); nothing changed." in response.content.decode()
    assert list(ProviderModel.objects.filter(is_default=True).values_list("pk", flat=True)) == [first.pk]


def test_set_default_refuses_a_disabled_model(admin_client):
    first, disabled = make_model(is_default=True), make_model(is_enabled=False)
    url = reverse("admin:providers_providermodel_changelist")

    response = admin_client.post(url, changelist_post(url, "set_as_default", [disabled.pk]), follow=True)

    assert f"Not set as default: {disabled.qualified_id} is disabled; enable it first." in response.content.decode()
    assert list(ProviderModel.objects.filter(is_default=True).values_list("pk", flat=True)) == [first.pk]


def test_enable_and_disable_actions(admin_client, caplog):
    default, other = make_model(is_default=True), make_model()
    url = reverse("admin:providers_providermodel_changelist")

    with caplog.at_level(logging.WARNING, logger="providers.services"):
        response = admin_client.post(url, changelist_post(url, "disable_models", [default.pk, other.pk]), follow=True)
    html = response.content.decode()
    assert "2 model(s) disabled." in html
    assert "there is no default model now" in html
    assert "no default model now" in caplog.text
    assert not ProviderModel.objects.filter(is_enabled=True).exists()
    assert not ProviderModel.objects.filter(is_default=True).exists()

    response = admin_client.post(url, changelist_post(url, "enable_models", [other.pk]), follow=True)
    assert "1 model(s) enabled." in response.content.decode()
    assert list(ProviderModel.objects.filter(is_enabled=True).values_list("pk", flat=True)) == [other.pk]


def test_list_editable_goes_through_the_service_and_bumps_the_snapshot(admin_client):
    default = make_model(is_default=True)
    url = reverse("admin:providers_providermodel_changelist")
    before = current_version()
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(default.pk),
        "_save": "Save",
    }  # is_enabled unticked
    assert admin_client.post(url, data).status_code == 302
    default.refresh_from_db()
    assert (default.is_enabled, default.is_default) == (False, False)
    assert current_version() > before


def test_model_list_filters_search_and_columns(admin_client):
    openai = make_provider(name="OpenAI", slug="openai")
    make_model(
        openai,
        model_id="gpt-4o",
        alias="4o",
        capabilities={"vision": True, "tools": True, "thinking": "none"},
        is_default=True,
    )
    make_model(openai, model_id="gpt-3.5-turbo", is_enabled=False, status="invalid")
    url = reverse("admin:providers_providermodel_changelist")

    html = admin_client.get(url).content.decode()
    assert "openai/gpt-4o" in html and "tools, vision" in html

    def ids(query: str) -> set[str]:
        response = admin_client.get(url + query)
        assert response.status_code == 200
        return {m.model_id for m in response.context["cl"].result_list}

    assert ids("?default=yes") == {"gpt-4o"}
    assert ids("?default=no") == {"gpt-3.5-turbo"}
    assert ids("?is_enabled__exact=0") == {"gpt-3.5-turbo"}
    assert ids("?status__exact=invalid") == {"gpt-3.5-turbo"}
    assert ids(f"?provider__id__exact={openai.pk}") == {"gpt-4o", "gpt-3.5-turbo"}
    assert ids("?q=4o") == {"gpt-4o"}


def test_model_change_form_converts_capability_lists_and_rejects_others(admin_client):
    model = make_model()
    url = reverse("admin:providers_providermodel_change", args=[model.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    form = {
        "name": model.name,
        "model_id": model.model_id,
        "alias": "",
        "is_enabled": "on",
        "capabilities": '["vision", "tools"]',
        "capabilities_source": "catalog",
        "sort_order": "0",
        "status": "unknown",
        "status_detail": "",
        "is_listed_upstream": "on",
    }
    assert admin_client.post(url, form).status_code == 302
    model.refresh_from_db()
    assert model.capabilities == {"vision": True, "tools": True}

    response = admin_client.post(url, {**form, "capabilities": "42"})
    assert response.status_code == 200
    assert "capabilities" in response.context["adminform"].form.errors
    model.refresh_from_db()
    assert model.capabilities == {"vision": True, "tools": True}


def test_add_model_page(admin_client):
    provider = make_provider()
    url = reverse("admin:providers_providermodel_add")
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url,
        {
            "provider": str(provider.pk),
            "name": "New",
            "model_id": "new-model",
            "alias": "",
            "is_enabled": "on",
            "capabilities": '{"streaming": true}',
            "capabilities_source": "declared",
            "sort_order": "0",
            "status": "unknown",
            "is_listed_upstream": "on",
        },
    )
    assert response.status_code == 302
    assert provider.models.get().capabilities == {"streaming": True}


# --- runtime settings ----------------------------------------------------------------------------


def test_runtime_setting_json_is_validated(admin_client):
    url = reverse("admin:providers_runtimesetting_add")
    page = admin_client.get(url).content.decode()
    assert "thinking_budget_tokens" in page and "presets" in page  # the known keys are listed

    response = admin_client.post(url, {"key": "temperature", "value": "5"})
    assert response.status_code == 200
    assert "must be a number from 0 to 2" in response.content.decode()
    assert not RuntimeSetting.objects.exists()

    response = admin_client.post(url, {"key": "temperature", "value": "not json"})
    assert response.status_code == 200
    assert not RuntimeSetting.objects.exists()

    assert admin_client.post(url, {"key": "temperature", "value": "0.4"}).status_code == 302
    assert RuntimeSetting.objects.get(key="temperature").value == 0.4

    response = admin_client.post(url, {"key": "presets", "value": '{"fast": {"temperature": 9}}'})
    assert response.status_code == 200
    assert "presets.fast.temperature: must be a number from 0 to 2" in response.content.decode()

    response = admin_client.post(url, {"key": "presets", "value": '{"tiny": {"maxTokens": 64}}'})
    assert response.status_code == 302
    assert RuntimeSetting.objects.get(key="presets").value == {"tiny": {"max_tokens": 64}}
    with connection.cursor() as cursor:  # stored natively as JSON, not as a JSON string
        cursor.execute("SELECT value FROM providers_runtimesetting WHERE key = %s", ["presets"])
        raw = cursor.fetchone()[0]
    assert not str(raw).startswith('"')

    setting = RuntimeSetting.objects.get(key="temperature")
    change = reverse("admin:providers_runtimesetting_change", args=[setting.pk])
    assert admin_client.post(change, {"value": "1.5"}).status_code == 302
    setting.refresh_from_db()
    assert setting.value == 1.5
    assert admin_client.post(change, {"value": '"hot"'}).status_code == 200
    setting.refresh_from_db()
    assert setting.value == 1.5
    assert admin_client.get(reverse("admin:providers_runtimesetting_changelist")).status_code == 200
