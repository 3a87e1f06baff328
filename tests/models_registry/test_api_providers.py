"""`/api/config/providers/` over HTTP (models_registry/api/views.py: ProviderViewSet)."""

import pytest

from providers import fields
from providers.models import Provider, ProviderModel
from tests.factories import make_model, make_provider
from tests.models_registry.conftest import table_state

pytestmark = pytest.mark.django_db

URL = "/api/config/providers/"
SECRET = "sk-live-do-not-leak-7f3a9c2e4b1d"
OPENAI = {"name": "OpenAI", "slug": "openai", "kind": "openai", "api_key": SECRET}

RESPONSE_FIELDS = {
    "id",
    "name",
    "slug",
    "kind",
    "base_url",
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
    "has_api_key",
    "api_key_hint",
    "key_source",
    "is_active",
    "inactive_reason",
    "created_at",
    "updated_at",
}


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


def test_create_stores_the_key_encrypted_and_never_returns_it(api):
    response = api.post(URL, OPENAI, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == RESPONSE_FIELDS
    assert body["has_api_key"] is True
    assert body["api_key_hint"] == SECRET[-4:]
    assert body["key_source"] == "stored"
    assert body["is_active"] is True and body["inactive_reason"] is None
    assert SECRET not in response.content.decode()
    provider = Provider.objects.get(pk=body["id"])
    assert fields.reveal(provider.api_key) == SECRET


def test_list_and_retrieve(api):
    make_provider(name="Zeta", slug="zeta")
    make_provider(name="Alpha", slug="alpha", api_key="")
    listed = api.get(URL).json()["results"]
    assert [p["slug"] for p in listed] == ["alpha", "zeta"]
    alpha = api.get(detail(listed[0]["id"])).json()
    assert alpha["has_api_key"] is False and alpha["api_key_hint"] == ""
    assert alpha["is_active"] is False and alpha["inactive_reason"] == "no API key"


def test_inactive_reasons(api):
    off = make_provider(is_enabled=False)
    assert api.get(detail(off.pk)).json()["inactive_reason"] == "disabled"
    echo = make_provider(kind="echo", api_key="")
    assert api.get(detail(echo.pk)).json()["is_active"] is True
    ollama = make_provider(kind="openai_compatible", base_url="http://127.0.0.1:11434/v1", api_key="")
    assert api.get(detail(ollama.pk)).json()["is_active"] is True


def test_an_environment_key_shows_as_such(api, monkeypatch):
    provider = make_provider(slug="groq", api_key="")
    monkeypatch.setenv("GROQ_API_KEY", "gsk-from-env-123456")
    body = api.get(detail(provider.pk)).json()
    assert body["key_source"] == "env" and body["is_active"] is True and body["has_api_key"] is False
    assert "gsk-from-env" not in str(body)


def test_patch_keeps_the_key_unless_given(api):
    provider = make_provider(api_key=SECRET)
    response = api.patch(detail(provider.pk), {"organization": "org-1"}, format="json")
    assert response.status_code == 200
    provider.refresh_from_db()
    assert fields.reveal(provider.api_key) == SECRET and provider.organization == "org-1"
    api.patch(detail(provider.pk), {"api_key": None}, format="json")
    provider.refresh_from_db()
    assert fields.reveal(provider.api_key) == SECRET
    api.patch(detail(provider.pk), {"api_key": "sk-new-key-99999999"}, format="json")
    provider.refresh_from_db()
    assert fields.reveal(provider.api_key) == "sk-new-key-99999999"
    body = api.patch(detail(provider.pk), {"api_key": ""}, format="json").json()
    assert body["has_api_key"] is False and body["inactive_reason"] == "no API key"


def test_put_replaces_writable_fields_and_keeps_an_omitted_key(api):
    provider = make_provider(api_key=SECRET, organization="org-old")
    body = {"name": "Renamed", "slug": "renamed", "kind": "openai", "base_url": "https://api.example.com/v1"}
    response = api.put(detail(provider.pk), body, format="json")
    assert response.status_code == 200, response.json()
    provider.refresh_from_db()
    assert (provider.name, provider.slug, provider.base_url) == ("Renamed", "renamed", "https://api.example.com/v1")
    assert fields.reveal(provider.api_key) == SECRET


def test_extra_headers_round_trip(api):
    response = api.post(URL, {**OPENAI, "extra_headers": {"X-Title": "ModelDesk"}}, format="json")
    assert response.json()["extra_headers"] == {"X-Title": "ModelDesk"}


def test_provider_models(api):
    provider = make_provider()
    make_model(provider, model_id="b", sort_order=2)
    make_model(provider, model_id="a", sort_order=1)
    make_model(model_id="elsewhere")
    body = api.get(f"{detail(provider.pk)}models/").json()
    assert body["count"] == 2 and [m["model_id"] for m in body["results"]] == ["a", "b"]
    assert api.get(f"{detail(99999)}models/").status_code == 404


def test_delete_with_models_is_a_409_unless_forced(api):
    provider = make_provider()
    make_model(provider)
    response = api.delete(detail(provider.pk))
    assert response.status_code == 409
    assert "force=true" in response.json()["detail"]
    assert Provider.objects.filter(pk=provider.pk).exists() and ProviderModel.objects.count() == 1
    assert api.delete(f"{detail(provider.pk)}?force=maybe").status_code == 400
    assert api.delete(f"{detail(provider.pk)}?force=true").status_code == 204
    assert not Provider.objects.exists() and not ProviderModel.objects.exists()


def test_delete_without_models(api):
    provider = make_provider()
    assert api.delete(detail(provider.pk)).status_code == 204
    assert api.delete(detail(provider.pk)).status_code == 404


BAD_CREATES = [
    ({**OPENAI, "slug": "Open AI"}, "slug"),
    ({**OPENAI, "slug": "-openai"}, "slug"),
    ({**OPENAI, "slug": ""}, "slug"),
    ({**OPENAI, "base_url": "not a url"}, "base_url"),
    ({**OPENAI, "base_url": "javascript:alert(1)"}, "base_url"),
    ({**OPENAI, "image_url": "ftp//x"}, "image_url"),
    ({**OPENAI, "kind": "skynet"}, "kind"),
    ({**OPENAI, "timeout_seconds": 0}, "timeout_seconds"),
    ({**OPENAI, "timeout_seconds": "soon"}, "timeout_seconds"),
    ({**OPENAI, "max_retries": -1}, "max_retries"),
    ({**OPENAI, "extra_headers": ["X-A"]}, "extra_headers"),
    ({**OPENAI, "extra_headers": {"X-A": 1}}, "extra_headers"),
    ({**OPENAI, "name": "Open\x00AI"}, "name"),
    ({**OPENAI, "extra_headers": {"X-A": "a\x00b"}}, "extra_headers"),
    ({**OPENAI, "is_enabled": "perhaps"}, "is_enabled"),
    ({**OPENAI, "has_api_key": True}, "has_api_key"),
    ({**OPENAI, "id": 7}, "id"),
    ({**OPENAI, "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
    ({**OPENAI, "password": "x"}, "password"),
    ({"slug": "openai"}, "name"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_CREATES)])
def test_bad_creates_are_400s_naming_the_field_and_write_nothing(api, body, field):
    before = table_state()
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert table_state() == before


@pytest.mark.parametrize("field", ["name", "slug"])
def test_duplicate_name_or_slug(api, field):
    make_provider(name="OpenAI", slug="openai")
    before = table_state()
    body = {**OPENAI, "name": "Other", "slug": "other", field: OPENAI[field]}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert table_state() == before


def test_bad_updates_write_nothing(api):
    provider = make_provider(name="A", slug="a")
    make_provider(name="B", slug="b")
    before = table_state()
    for body, field in [
        ({"slug": "b"}, "slug"),
        ({"name": "B"}, "name"),
        ({"base_url": "nope"}, "base_url"),
        ({"slug": "UPPER"}, "slug"),
        ({"updated_at": "2020-01-01T00:00:00Z"}, "updated_at"),
        ({"kind": None}, "kind"),
    ]:
        response = api.patch(detail(provider.pk), body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()
    assert table_state() == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("[1, 2]", "application/json"),
        ('"text"', "application/json"),
        ("{not json", "application/json"),
        ("[" * 100_000 + "]" * 100_000, "application/json"),
        ('{"name": NaN}', "application/json"),
    ],
)
def test_bodies_that_are_not_objects(api, body, content_type):
    before = table_state()
    response = api.generic("POST", URL, body, content_type=content_type)
    assert response.status_code == 400
    assert table_state() == before


def test_unknown_ids_are_404s(api):
    assert api.get(detail(424242)).status_code == 404
    assert api.patch(detail(424242), {"name": "x"}, format="json").status_code == 404
    assert api.get(f"{URL}not-a-number/").status_code == 404
    assert api.get(f"{URL}{10**20}/").status_code == 404
    assert api.delete(f"{URL}{10**20}/").status_code == 404
