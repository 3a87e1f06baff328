"""`GET /api/model-registry` (models_registry/api/views.py: ModelRegistryView over providers/selectors.py)."""

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from providers import services, snapshot
from providers.models import Provider, ProviderModel
from tests.factories import make_model, make_provider, make_user
from tests.models_registry.conftest import key_client

pytestmark = pytest.mark.django_db

URL = "/api/model-registry"


@pytest.fixture
def catalog():
    """Active, keyless, key-less (inactive) and disabled providers, with enabled and disabled models."""
    openai = make_provider(name="OpenAI", slug="openai", kind="openai", image_url="https://example.com/openai.png")
    mini = make_model(
        openai,
        model_id="gpt-4o-mini",
        name="GPT-4o mini",
        alias="4o-mini",
        capabilities={"vision": True},
        context_window=128000,
        max_output_tokens=16384,
        sort_order=1,
    )
    make_model(openai, model_id="gpt-4o", name="GPT-4o", sort_order=2)
    make_model(openai, model_id="gpt-3.5", name="Old", is_enabled=False)
    services.set_default_model(model=mini)
    echo = make_provider(name="Echo", slug="echo", kind="echo", api_key="")
    make_model(echo, model_id="echo-1")
    anthropic = make_provider(name="Anthropic", slug="anthropic", kind="anthropic", api_key="")
    make_model(anthropic, model_id="claude-sonnet-4-5")
    make_provider(name="Disabled", slug="disabled", is_enabled=False)
    return {"openai": openai, "echo": echo, "anthropic": anthropic, "mini": mini}


def test_payload_shape_exactly(reader, catalog):
    response = reader.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    openai, echo, mini = catalog["openai"], catalog["echo"], catalog["mini"]
    gpt4o = ProviderModel.objects.get(model_id="gpt-4o")
    echo1 = ProviderModel.objects.get(model_id="echo-1")
    assert response.json() == {
        "default_model": "openai/gpt-4o-mini",
        "providers": [
            {
                "id": echo.pk,
                "name": "Echo",
                "slug": "echo",
                "kind": "echo",
                "image_url": "",
                "models": [
                    {
                        "id": echo1.pk,
                        "name": echo1.name,
                        "model_id": "echo-1",
                        "qualified_id": "echo/echo-1",
                        "alias": "",
                        "is_default": False,
                        "capabilities": {},
                        "context_window": None,
                        "max_output_tokens": None,
                    }
                ],
            },
            {
                "id": openai.pk,
                "name": "OpenAI",
                "slug": "openai",
                "kind": "openai",
                "image_url": "https://example.com/openai.png",
                "models": [
                    {
                        "id": mini.pk,
                        "name": "GPT-4o mini",
                        "model_id": "gpt-4o-mini",
                        "qualified_id": "openai/gpt-4o-mini",
                        "alias": "4o-mini",
                        "is_default": True,
                        "capabilities": {"vision": True},
                        "context_window": 128000,
                        "max_output_tokens": 16384,
                    },
                    {
                        "id": gpt4o.pk,
                        "name": "GPT-4o",
                        "model_id": "gpt-4o",
                        "qualified_id": "openai/gpt-4o",
                        "alias": "",
                        "is_default": False,
                        "capabilities": {},
                        "context_window": None,
                        "max_output_tokens": None,
                    },
                ],
            },
        ],
    }


@pytest.mark.parametrize("who", ["staff session", "admin key"])
def test_staff_also_see_inactive_providers_with_the_reason(client, catalog, who):
    if who == "staff session":
        client.force_login(make_user(staff=True))
    else:
        client = key_client("admin")
    body = client.get(URL).json()
    reasons = {p["slug"]: (p["is_active"], p["inactive_reason"]) for p in body["providers"]}
    assert reasons == {
        "anthropic": (False, "no API key"),
        "disabled": (False, "disabled"),
        "echo": (True, None),
        "openai": (True, None),
    }
    anthropic = next(p for p in body["providers"] if p["slug"] == "anthropic")
    assert [m["qualified_id"] for m in anthropic["models"]] == ["anthropic/claude-sonnet-4-5"]


def test_a_read_key_of_a_staff_user_sees_only_active_providers(catalog):
    body = key_client("read", staff_owner=True).get(URL).json()
    assert [p["slug"] for p in body["providers"]] == ["echo", "openai"]
    assert "inactive_reason" not in body["providers"][0]


def test_etag_and_304(reader, catalog):
    first = reader.get(URL)
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert reader.get(URL)["ETag"] == etag
    not_modified = reader.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == etag
    assert reader.get(URL, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304
    assert reader.get(URL, HTTP_IF_NONE_MATCH=f'"other", {etag}').status_code == 304
    assert reader.get(URL, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200


def test_an_api_change_is_visible_in_the_next_response(api, reader, catalog):
    etag = reader.get(URL)["ETag"]
    response = api.post("/api/config/models/", {"provider": catalog["echo"].pk, "model_id": "echo-2"}, format="json")
    assert response.status_code == 201
    fresh = reader.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200 and fresh["ETag"] != etag
    echo = next(p for p in fresh.json()["providers"] if p["slug"] == "echo")
    assert sorted(m["model_id"] for m in echo["models"]) == ["echo-1", "echo-2"]
    # The default, through the API.
    api.post(f"/api/config/models/{response.json()['id']}/set-default/")
    assert reader.get(URL).json()["default_model"] == "echo/echo-2"


def test_a_service_change_is_visible_in_the_next_response(reader, catalog):
    etag = reader.get(URL)["ETag"]
    services.provider_update(provider=catalog["openai"], is_enabled=False)
    fresh = reader.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200
    assert [p["slug"] for p in fresh.json()["providers"]] == ["echo"]
    assert fresh.json()["default_model"] is None  # disabling the provider dropped the default


def test_public_registry_setting(anon, catalog, settings):
    settings.PUBLIC_REGISTRY = False
    assert anon.get(URL).status_code == 401
    settings.PUBLIC_REGISTRY = True
    response = anon.get(URL)
    assert response.status_code == 200
    assert [p["slug"] for p in response.json()["providers"]] == ["echo", "openai"]
    # Only the registry is public: the configuration is not.
    assert anon.get("/api/config/providers/").status_code == 401
    assert anon.get("/api/config/defaults/").status_code == 401


def test_a_chat_only_key_cannot_read_the_registry(catalog):
    assert key_client("chat").get(URL).status_code == 403


def test_the_browsable_api_renders(client, catalog):
    client.force_login(make_user(staff=True))
    page = client.get(URL, HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b"gpt-4o-mini" in page.content


def _bulk_catalog(providers: int, models: int) -> None:
    # 2,000 rows through the services would take most of the test's time; bulk_create
    # skips the signals, so the snapshot version is bumped by hand.
    rows = Provider.objects.bulk_create(
        [Provider(name=f"P{i:03d}", slug=f"p{i:03d}", api_key=f"sk-bulk-{i:08d}") for i in range(providers)]
    )
    ProviderModel.objects.bulk_create(
        [
            ProviderModel(
                provider=p, model_id=f"m{j:02d}", name=f"M{j:02d}", sort_order=j, capabilities={"tools": True}
            )
            for p in rows
            for j in range(models)
        ]
    )
    snapshot.invalidate()


@pytest.mark.parametrize("who", ["read key", "anonymous with PUBLIC_REGISTRY"])
def test_query_counts_cold_and_warm_with_100_providers_of_20_models(
    who, settings, django_assert_max_num_queries, django_assert_num_queries
):
    _bulk_catalog(100, 20)
    settings.PUBLIC_REGISTRY = who != "read key"
    client = key_client("read") if who == "read key" else APIClient()
    client.get(URL)  # the key lookup and the last-used write are cached from here on
    snapshot.invalidate()
    with django_assert_max_num_queries(3):
        cold = client.get(URL)
    assert cold.status_code == 200
    body = cold.json()
    assert len(body["providers"]) == 100
    assert sum(len(p["models"]) for p in body["providers"]) == 2000
    with django_assert_num_queries(0):
        warm = client.get(URL)
    assert warm.content == cold.content
    with django_assert_num_queries(0):
        assert client.get(URL, HTTP_IF_NONE_MATCH=warm["ETag"]).status_code == 304


def test_changes_are_seen_through_a_second_cache_client(reader, catalog, settings):
    """With a shared Redis, another process (its own cache client, its own memo) sees a change at once."""
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("needs CACHE_URL=redis://… (a cache shared between processes)")
    other = caches.create_connection("default")  # a second client, as another process would have
    assert reader.get(URL).status_code == 200
    version = other.get(snapshot.VERSION_KEY)
    stale = other.get(snapshot.SNAPSHOT_KEY.format(version=version))
    assert stale is not None and "groq" not in stale.provider_by_slug

    groq = make_provider(name="Groq", slug="groq")  # through the services
    make_model(groq, model_id="llama-3.3-70b")
    new_version = other.get(snapshot.VERSION_KEY)
    assert new_version != version

    # The other process still holds the old snapshot in its memo: the shared version tells it to rebuild.
    snapshot.store.forget()
    assert snapshot.store.get(version) == stale  # from the shared cache
    body = reader.get(URL).json()
    assert "groq/llama-3.3-70b" in [m["qualified_id"] for p in body["providers"] for m in p["models"]]
    shared = other.get(snapshot.SNAPSHOT_KEY.format(version=other.get(snapshot.VERSION_KEY)))
    assert shared is not None and "groq/llama-3.3-70b" in shared.by_qualified
