"""`GET /v1/models` (chat/models_view.py): the official `openai` SDK against a live server, and error bodies."""

import time

import openai
import pytest

from access import services as key_services
from providers import services
from tests.factories import make_api_key, make_model, make_provider, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalog():
    openai_provider = make_provider(name="OpenAI", slug="openai")
    mini = make_model(openai_provider, model_id="gpt-4o-mini", sort_order=1)
    make_model(openai_provider, model_id="gpt-4o", sort_order=2)
    make_model(openai_provider, model_id="disabled", is_enabled=False)
    echo = make_provider(name="Echo", slug="echo", kind="echo", api_key="")
    make_model(echo, model_id="echo-1", alias="parrot")
    inactive = make_provider(name="Anthropic", slug="anthropic", kind="anthropic", api_key="")
    make_model(inactive, model_id="claude-sonnet-4-5")
    return {"mini": mini}


@pytest.fixture
def sdk(live_server):
    """Official SDK clients of the live server, closed at the end: an open keep-alive connection
    would keep its server thread, and that thread's database connection, alive past the test."""
    clients: list[openai.OpenAI] = []

    def make(key: str) -> openai.OpenAI:
        clients.append(openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0, timeout=10))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def test_the_openai_sdk_lists_models(sdk, catalog):
    _, key = make_api_key(scopes=("read",))
    models = list(sdk(key).models.list())
    assert [m.id for m in models] == ["echo/echo-1", "openai/gpt-4o-mini", "openai/gpt-4o"]
    mini = next(m for m in models if m.id == "openai/gpt-4o-mini")
    assert mini.object == "model" and mini.owned_by == "openai"
    assert mini.created == int(catalog["mini"].created_at.timestamp())


def test_the_async_sdk_lists_models_under_uvicorn(gateway, catalog):
    """The same view under the ASGI server (`gateway`: configsite.asgi under uvicorn, see tests/chat/conftest.py)."""
    import asyncio

    _, key = make_api_key(scopes=("read",))

    async def listing() -> list[str]:
        client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=10)
        try:
            return [m.id async for m in client.models.list()]
        finally:
            await client.close()

    assert asyncio.run(listing()) == ["echo/echo-1", "openai/gpt-4o-mini", "openai/gpt-4o"]


def test_the_openai_sdk_retrieves_a_model(sdk, catalog):
    _, key = make_api_key(scopes=("read",))
    client = sdk(key)
    assert client.models.retrieve("openai/gpt-4o").owned_by == "openai"
    assert client.models.retrieve("parrot").id == "echo/echo-1"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("anthropic/claude-sonnet-4-5")  # provider inactive


def test_the_sdk_sees_bad_keys_as_authentication_errors(sdk, catalog):
    key, raw = make_api_key(scopes=("read",))
    key_services.api_key_revoke(api_key=key)
    for bad in (raw, "md_00000000_" + "A" * 43, "sk-not-ours", "' OR 1=1 --"):
        with pytest.raises(openai.AuthenticationError) as info:
            sdk(bad).models.list()
        assert info.value.status_code == 401
        assert info.value.body["code"] == "invalid_api_key"


def test_a_key_without_read_scope_is_a_403(sdk, catalog):
    _, key = make_api_key(scopes=("chat",))
    with pytest.raises(openai.PermissionDeniedError):
        sdk(key).models.list()


def test_changes_are_visible_on_the_next_call(sdk, catalog):
    _, key = make_api_key(scopes=("read",))
    client = sdk(key)
    assert len(list(client.models.list())) == 3
    make_model(catalog["mini"].provider, model_id="gpt-5")
    assert "openai/gpt-5" in [m.id for m in client.models.list()]
    services.provider_update(provider=catalog["mini"].provider, is_enabled=False)
    assert [m.id for m in client.models.list()] == ["echo/echo-1"]


def test_errors_use_the_openai_body(client):
    missing = client.get("/v1/models")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    error = missing.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_api_key"
    wrong_method = client.post("/v1/models", headers={"Authorization": "Bearer x"})
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "x" * 10_240,
        "md_1234abcd_" + "a" * 10_240,
        "md_1234abcd_" + "a" * 20 + "'; DROP TABLE access_apikey; --",
        "md_1234abcd_" + "a" * 21 + "\x00" + "a" * 21,
    ],
    ids=["empty", "10kB", "10kB-prefixed", "sql", "nul"],
)
def test_hostile_keys_are_a_quick_401(client, raw):
    started = time.monotonic()
    response = client.get("/v1/models", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401
    assert time.monotonic() - started < 1.0


def test_public_registry_lets_anonymous_clients_list(client, settings):
    settings.PUBLIC_REGISTRY = True
    response = client.get("/v1/models")
    assert response.status_code == 200 and response.json() == {"object": "list", "data": []}
    # A bad key is still a bad key.
    assert client.get("/v1/models", headers={"Authorization": "Bearer nope"}).status_code == 401
    settings.PUBLIC_REGISTRY = False
    assert client.get("/v1/models").status_code == 401


def test_a_logged_in_session_lists(client, catalog):
    client.force_login(make_user())
    response = client.get("/v1/models")
    assert response.status_code == 200
    assert len(response.json()["data"]) == 3


def test_etag_and_304(client, catalog):
    _, key = make_api_key(scopes=("read",))
    first = client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}")
    etag = first["ETag"]
    again = client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
