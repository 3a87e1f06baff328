"""`/api/config/models/` over HTTP (models_registry/api/views.py: ProviderModelViewSet, filtersets.py)."""

import pytest

from providers import services
from providers.models import ProviderModel
from tests.factories import make_model, make_provider
from tests.models_registry.conftest import table_state

pytestmark = pytest.mark.django_db

URL = "/api/config/models/"


def detail(pk: int) -> str:
    return f"{URL}{pk}/"


@pytest.fixture
def openai():
    return make_provider(name="OpenAI", slug="openai")


def test_create_converts_a_capability_list(api, openai):
    body = {"provider": openai.pk, "model_id": "gpt-4o", "name": "GPT-4o", "capabilities": ["vision", "tools"]}
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["qualified_id"] == "openai/gpt-4o" and created["provider_slug"] == "openai"
    assert created["capabilities"] == {"vision": True, "tools": True}
    assert created["capabilities_source"] == "declared"
    assert created["is_default"] is False and created["status"] == "unknown"
    assert ProviderModel.objects.get(pk=created["id"]).capabilities == {"vision": True, "tools": True}


def test_list_filters_by_provider_id_or_slug_and_enabled(api, openai):
    other = make_provider(name="Groq", slug="groq")
    make_model(openai, model_id="a")
    make_model(openai, model_id="b", is_enabled=False)
    make_model(other, model_id="c")
    ids = lambda query: sorted(m["model_id"] for m in api.get(URL + query).json()["results"])  # noqa: E731
    assert ids("") == ["a", "b", "c"]
    assert ids(f"?provider={openai.pk}") == ["a", "b"]
    assert ids("?provider=groq") == ["c"]
    assert ids("?provider=unknown") == []
    assert ids("?enabled=true") == ["a", "c"]
    assert ids("?enabled=false") == ["b"]
    assert ids("?provider=openai&enabled=0") == ["b"]


@pytest.mark.parametrize(("query", "field"), [("?enabled=maybe", "enabled"), ("?provider=Not%20A%20Slug", "provider")])
def test_bad_filters_are_400s(api, query, field):
    response = api.get(URL + query)
    assert response.status_code == 400
    assert field in response.json()


def test_update_and_delete(api, openai):
    model = make_model(openai, model_id="gpt-4o")
    response = api.patch(detail(model.pk), {"alias": "4o", "context_window": 128000}, format="json")
    assert response.status_code == 200, response.json()
    model.refresh_from_db()
    assert (model.alias, model.context_window) == ("4o", 128000)
    body = {"provider": openai.pk, "model_id": "gpt-4o", "name": "GPT 4o", "is_enabled": False}
    assert api.put(detail(model.pk), body, format="json").status_code == 200
    model.refresh_from_db()
    assert model.name == "GPT 4o" and model.is_enabled is False
    assert api.delete(detail(model.pk)).status_code == 204
    assert not ProviderModel.objects.exists()


def test_set_default(api, openai):
    first = make_model(openai, model_id="a")
    second = make_model(openai, model_id="b")
    assert api.post(f"{detail(first.pk)}set-default/").json()["is_default"] is True
    response = api.post(f"{detail(second.pk)}set-default/")
    assert response.status_code == 200 and response.json()["is_default"] is True
    assert list(ProviderModel.objects.filter(is_default=True).values_list("pk", flat=True)) == [second.pk]


def test_setting_a_disabled_model_as_default_is_a_400(api, openai):
    current = make_model(openai, model_id="current", is_default=True)
    disabled = make_model(openai, model_id="off", is_enabled=False)
    before = table_state()
    response = api.post(f"{detail(disabled.pk)}set-default/")
    assert response.status_code == 400
    assert "is_default" in response.json() and "disabled" in response.json()["is_default"][0]
    assert table_state() == before
    assert ProviderModel.objects.get(is_default=True) == current


def test_a_model_of_a_disabled_provider_cannot_become_default(api):
    model = make_model(make_provider(is_enabled=False))
    response = api.post(f"{detail(model.pk)}set-default/")
    assert response.status_code == 400 and "is_default" in response.json()
    assert not ProviderModel.objects.filter(is_default=True).exists()


def test_set_default_of_an_unknown_id_is_a_404(api):
    assert api.post(f"{detail(987654)}set-default/").status_code == 404
    assert api.post(f"{detail(10**20)}set-default/").status_code == 404


def test_null_capabilities_are_an_empty_object(api, openai):
    response = api.post(URL, {"provider": openai.pk, "model_id": "m", "capabilities": None}, format="json")
    assert response.status_code == 201 and response.json()["capabilities"] == {}


def test_a_read_key_cannot_set_the_default(reader, openai):
    model = make_model(openai)
    assert reader.post(f"{detail(model.pk)}set-default/").status_code == 403
    assert not ProviderModel.objects.filter(is_default=True).exists()


def test_duplicate_model_id_in_the_same_provider(api, openai):
    make_model(openai, model_id="gpt-4o")
    before = table_state()
    response = api.post(URL, {"provider": openai.pk, "model_id": "gpt-4o"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["model_id"]
    assert table_state() == before
    # The same id under another provider is fine.
    other = make_provider()
    assert api.post(URL, {"provider": other.pk, "model_id": "gpt-4o"}, format="json").status_code == 201


def test_duplicate_model_id_through_an_update(api, openai):
    make_model(openai, model_id="a")
    b = make_model(openai, model_id="b")
    before = table_state()
    response = api.patch(detail(b.pk), {"model_id": "a"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["model_id"]
    assert table_state() == before


def test_duplicate_alias_across_providers(api, openai):
    make_model(openai, model_id="gpt-4o-mini", alias="mini")
    other = make_provider()
    before = table_state()
    response = api.post(URL, {"provider": other.pk, "model_id": "x", "alias": "mini"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["alias"]
    assert table_state() == before
    # Empty aliases never clash.
    assert api.post(URL, {"provider": other.pk, "model_id": "y", "alias": ""}, format="json").status_code == 201
    assert api.post(URL, {"provider": other.pk, "model_id": "z", "alias": ""}, format="json").status_code == 201


BAD_BODIES = [
    ({"model_id": "m"}, "provider"),
    ({"provider": 999999, "model_id": "m"}, "provider"),
    ({"provider": "openai", "model_id": "m"}, "provider"),
    ({"model_id": ""}, "model_id"),
    ({"model_id": "m", "capabilities": "vision"}, "capabilities"),
    ({"model_id": "m", "capabilities": 42}, "capabilities"),
    ({"model_id": "m", "capabilities": [1, 2]}, "capabilities"),
    ({"model_id": "m", "capabilities": [{"vision": True}]}, "capabilities"),
    ({"model_id": "m", "capabilities": {"note": "nul\x00"}}, "capabilities"),
    ({"model_id": "m", "alias": "has space"}, "alias"),
    ({"model_id": "m", "context_window": -1}, "context_window"),
    ({"model_id": "m", "context_window": 10**30}, "context_window"),
    ({"model_id": "m", "sort_order": 10**30}, "sort_order"),
    ({"model_id": "m", "input_price_per_mtok": "-1"}, "input_price_per_mtok"),
    ({"model_id": "m", "input_price_per_mtok": "NaN"}, "input_price_per_mtok"),
    ({"model_id": "m", "output_price_per_mtok": "123456789012345"}, "output_price_per_mtok"),
    ({"model_id": "m", "is_default": True}, "is_default"),
    ({"model_id": "m", "status": "valid"}, "status"),
    ({"model_id": "m", "qualified_id": "x/y"}, "qualified_id"),
    ({"model_id": "m", "id": 5}, "id"),
    ({"model_id": "m", "secret_field": 1}, "secret_field"),
    ({"model_id": "m\x00"}, "model_id"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_BODIES)])
def test_bad_creates_are_400s_naming_the_field_and_write_nothing(api, openai, body, field):
    body = body if field == "provider" else {"provider": openai.pk, **body}
    before = table_state()
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert table_state() == before


def test_is_default_cannot_be_mass_assigned_on_update(api, openai):
    model = make_model(openai)
    before = table_state()
    response = api.patch(detail(model.pk), {"is_default": True}, format="json")
    assert response.status_code == 400
    assert "set-default" in response.json()["is_default"][0]
    assert table_state() == before


def test_a_model_cannot_move_to_another_provider(api, openai):
    model = make_model(openai)
    other = make_provider()
    before = table_state()
    response = api.patch(detail(model.pk), {"provider": other.pk}, format="json")
    assert response.status_code == 400 and "provider" in response.json()
    assert table_state() == before


def test_disabling_the_default_leaves_no_default(api, openai):
    model = make_model(openai, is_default=True)
    assert api.patch(detail(model.pk), {"is_enabled": False}, format="json").status_code == 200
    assert not ProviderModel.objects.filter(is_default=True).exists()
    assert api.get("/api/model-registry").json()["default_model"] is None


def test_a_service_change_is_visible_on_the_next_request(api, openai):
    model = make_model(openai, model_id="a")
    assert api.get(detail(model.pk)).json()["alias"] == ""
    services.model_update(model=model, alias="alpha")
    assert api.get(detail(model.pk)).json()["alias"] == "alpha"
