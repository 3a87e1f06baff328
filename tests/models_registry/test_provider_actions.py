"""Connection test and discovery on providers: the API actions (models_registry/api/provider_actions.py)
and the admin actions and buttons (models_registry/admin.py), against the fake upstream."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from models_registry import services
from providers import services as provider_services
from providers.models import ProviderModel
from tests.models_registry.conftest import key_client
from tests.models_registry.upstreams import OPENAI_KEY, closed_port_url, models_state, openai_provider
from tests.providers.test_admin import PROVIDER_FORM, inline_management, inline_row

pytestmark = pytest.mark.django_db


def url(provider, action: str) -> str:
    return f"/api/config/providers/{provider.pk}/{action}/"


# --- the service --------------------------------------------------------------------------------------------


def test_connection_test_service(fake_upstream):
    ok = services.test_connection(openai_provider(fake_upstream))
    assert ok["ok"] is True and ok["error"] is None and ok["latency_ms"] > 0
    broken = services.test_connection(openai_provider(fake_upstream, slug="b", name="B", base_url=closed_port_url()))
    assert broken["ok"] is False and "connect" in broken["error"].lower()


def test_connection_test_falls_back_to_a_ping_when_there_is_no_model_list(fake_upstream):
    from tests.fake_upstream import behaviour as fb

    provider = openai_provider(fake_upstream)
    ProviderModel.objects.create(provider=provider, model_id="gpt-4o-mini")
    fake_upstream.enqueue(fb.error(404, "Not found"), endpoint="models")
    assert services.test_connection(provider)["ok"] is True
    assert fake_upstream.hit_count("/v1/chat/completions", model="gpt-4o-mini") == 1


# --- the API ------------------------------------------------------------------------------------------------


def test_api_test_endpoint(api, fake_upstream):
    provider = openai_provider(fake_upstream)
    response = api.post(url(provider, "test"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"ok", "latency_ms", "error"} and body["ok"] is True
    fake_upstream.api_key = "sk-another-key-0000"
    body = api.post(url(provider, "test")).json()
    assert body["ok"] is False and OPENAI_KEY not in str(body)


def test_api_discover_endpoint(api, fake_upstream):
    provider = openai_provider(fake_upstream)
    response = api.post(url(provider, "discover"), {"validate": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True and body["provider"] == "openai"
    assert sorted(body["added"]) == ["gpt-4o", "gpt-4o-mini", "gpt-retired", "o3-mini"]
    assert body["invalid"] == ["gpt-retired"]
    assert ProviderModel.objects.filter(provider=provider).count() == 4


def test_api_discover_dry_run_and_empty_body(api, fake_upstream):
    provider = openai_provider(fake_upstream)
    body = api.post(url(provider, "discover"), {"dry_run": True}, format="json").json()
    assert body["dry_run"] is True and len(body["added"]) == 4
    assert ProviderModel.objects.count() == 0
    assert api.post(url(provider, "discover")).status_code == 200  # no body: the defaults


@pytest.mark.parametrize(
    ("body", "field"),
    [({"force": "maybe"}, "force"), ({"validate": True, "dryrun": True}, "dryrun"), ({"base_url": "x"}, "base_url")],
)
def test_api_discover_rejects_bad_bodies(api, fake_upstream, body, field):
    provider = openai_provider(fake_upstream)
    before = models_state()
    response = api.post(url(provider, "discover"), body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert models_state() == before and fake_upstream.requests == []


def test_api_discover_of_an_inactive_provider_is_a_400(api, fake_upstream):
    provider = openai_provider(fake_upstream)
    provider_services.provider_update(provider=provider, is_enabled=False)
    response = api.post(url(provider, "discover"), {}, format="json")
    assert response.status_code == 400 and "inactive (disabled)" in str(response.json())
    assert fake_upstream.requests == []


def test_api_actions_need_staff_or_the_admin_scope(reader, anon, fake_upstream):
    provider = openai_provider(fake_upstream)
    for action in ("test", "discover"):
        assert reader.post(url(provider, action)).status_code == 403
        assert anon.post(url(provider, action)).status_code in (401, 403)
        assert key_client("chat").post(url(provider, action)).status_code == 403
    assert fake_upstream.requests == []
    assert key_client("admin").post("/api/config/providers/999999/test/").status_code == 404


def test_api_actions_with_a_staff_session(client, admin_user, fake_upstream):
    provider = openai_provider(fake_upstream)
    client.force_login(admin_user)
    response = client.post(url(provider, "test"), content_type="application/json")
    assert response.status_code == 200 and response.json()["ok"] is True


# --- the admin ----------------------------------------------------------------------------------------------


def changelist(action: str, *providers) -> dict:
    return {"action": action, "_selected_action": [str(p.pk) for p in providers], "index": "0"}


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def test_admin_action_test_connection(admin_client, fake_upstream):
    good = openai_provider(fake_upstream)
    bad = openai_provider(fake_upstream, slug="bad", name="Bad", base_url=closed_port_url())
    response = admin_client.post(
        reverse("admin:providers_provider_changelist"), changelist("test_connection", good, bad)
    )
    assert response.status_code == 302
    found = dict((text.split(":")[0], (level, text)) for level, text in messages_of(response))
    assert found["OpenAI"][0] == "success" and "connection OK" in found["OpenAI"][1]
    assert found["Bad"][0] == "error" and "connection failed" in found["Bad"][1]


def test_admin_action_discover_models(admin_client, fake_upstream):
    provider = openai_provider(fake_upstream)
    response = admin_client.post(
        reverse("admin:providers_provider_changelist"), changelist("discover_provider_models", provider)
    )
    assert response.status_code == 302
    ((level, text),) = messages_of(response)
    assert level == "success" and text.startswith("OpenAI: 4 listed (upstream), 4 added")
    assert ProviderModel.objects.filter(provider=provider).count() == 4


def test_admin_buttons_on_the_provider_page(admin_client, fake_upstream):
    provider = openai_provider(fake_upstream)
    page = admin_client.get(reverse("admin:providers_provider_change", args=[provider.pk])).content.decode()
    test_url = reverse("admin:providers_provider_test_connection", args=[provider.pk])
    discover_url = reverse("admin:providers_provider_discover_models", args=[provider.pk])
    assert f'action="{test_url}"' in page and f'action="{discover_url}"' in page
    assert admin_client.get(test_url).status_code == 405  # a GET never calls an upstream
    assert fake_upstream.requests == []
    response = admin_client.post(discover_url)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:providers_provider_change", args=[provider.pk])
    assert "4 added" in messages_of(response)[0][1]
    response = admin_client.post(test_url)
    assert "connection OK" in messages_of(response)[-1][1]  # after the undisplayed one above


def test_models_added_inline_without_capabilities_get_the_catalog(admin_client):
    data = {
        **PROVIDER_FORM,
        **inline_management(2),
        **inline_row(0, model_id="llama-3.3-70b-versatile"),
        **inline_row(1, model_id="house-model"),
    }
    response = admin_client.post(reverse("admin:providers_provider_add"), data)
    assert response.status_code == 302
    llama = ProviderModel.objects.get(model_id="llama-3.3-70b-versatile")
    assert (llama.capabilities_source, llama.capabilities["tools"], llama.context_window) == ("catalog", True, 131072)
    assert ProviderModel.objects.get(model_id="house-model").capabilities == {}
