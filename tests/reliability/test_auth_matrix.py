"""Every endpoint against every bad credential: a 401/403 (or the login page for HTML pages) within a second.

The endpoints are enumerated from the URL patterns, so a new route is checked
without editing this file; `PUBLIC` lists the ones meant to be open. Then: no
mass assignment of read-only fields (`is_default`, ids, timestamps…) through any
writable serializer, each field named in a 400, nothing changed.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from access import services as access_services
from access.models import ApiKey
from providers.models import ProviderModel
from tests import factories
from tests.models_registry.conftest import table_state

pytestmark = pytest.mark.django_db

#: Open by design: liveness and readiness probes, and the API's description (drf-spectacular's default).
PUBLIC = {"healthz", "readyz", "schema", "swagger-ui"}
#: Session-only HTML pages: a request without a staff session is sent to the login page.
LOGIN_PAGES = {"index"}
WRITE_METHODS = ("post", "put", "patch", "delete")

MALFORMED = {
    "empty": "",
    "not-ours": "sk-proj-" + "a" * 48,
    "sql-or": "' OR '1'='1",
    "sql-drop": "md_1234abcd_x'; DROP TABLE access_apikey; --",
    "sql-union": "md_' UNION SELECT key_hash FROM access_apikey --",
    "10kB": "md_1234abcd_" + "a" * 10_240,
    "nul-bytes": "md_1234abcd_" + "a" * 20 + "\x00" + "a" * 22,
    "only-nul": "\x00" * 64,
    "unicode": "md_1234abcd_" + "é" * 43,
    "newline": "md_1234abcd_aaaa\r\nX-Admin: 1",
}


def endpoints(model: ProviderModel) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, concrete URL, methods) of every non-admin route, ids filled with real rows."""
    found: list[tuple[str, str, tuple[str, ...]]] = []

    def walk(patterns: list, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and not prefix.startswith("admin/"):
                route = prefix + str(entry.pattern)
                pk = model.pk if (entry.name or "").startswith("providermodel") else model.provider_id
                url = "/" + re.sub(r"\(\?P<pk>[^)]*\)", str(pk), route).replace("^", "").replace("$", "")
                url = url.replace("<path:model>", model.qualified_id)
                methods = _methods(entry)
                found.append((entry.name, url, methods))

    walk(get_resolver().url_patterns, "")
    return found


def _methods(entry: URLPattern) -> tuple[str, ...]:
    actions = getattr(entry.callback, "actions", None)  # DRF viewsets: {"get": "list", "post": "create"}
    if actions:
        return tuple(actions)
    view_class = getattr(entry.callback, "cls", None) or getattr(entry.callback, "view_class", None)
    if view_class is not None:
        return tuple(m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m))
    return ("post",) if entry.name == "v1-chat-completions" else ("get",)


@pytest.fixture
def model(db: None) -> ProviderModel:
    provider = factories.make_provider(name="Echo", slug="echo", kind="echo", api_key="")
    return factories.make_model(provider, model_id="echo", is_default=True)


def _call(client: Client, method: str, url: str, **extra: Any) -> tuple[Any, float]:
    """The response and the fastest of up to 3 tries: one slow try on a shared CI machine is noise,
    a path that is slow every time (a slow hash, a scan) is not."""
    best = float("inf")
    for _ in range(3):
        started = time.monotonic()
        response = getattr(client, method)(url, data={}, content_type="application/json", **extra)
        best = min(best, time.monotonic() - started)
        if best < 1.0:
            break
    return response, best


def _refused(name: str, response: Any, statuses: tuple[int, ...] = (401, 403)) -> bool:
    if name in LOGIN_PAGES and response.status_code == 302:
        return "/login/" in response["Location"]
    return response.status_code in statuses


def test_the_route_table_is_what_we_think(model):
    names = {name for name, _, _ in endpoints(model)}
    assert {"model-registry", "provider-list", "providermodel-set-default", "v1-chat-completions", "v1-models"} <= names
    assert len(names) >= 19


@pytest.mark.parametrize("credential", ["none", *MALFORMED, "revoked", "expired", "well-formed-unknown"])
def test_every_endpoint_refuses_a_bad_credential_within_a_second(model, credential):
    if credential == "none":
        headers = {}
    else:
        raw = MALFORMED.get(credential)
        if credential == "revoked":
            key, raw = factories.make_api_key(scopes=("read", "chat", "admin"))
            access_services.api_key_revoke(api_key=key)
        elif credential == "expired":
            key, raw = factories.make_api_key(scopes=("read", "chat", "admin"))
            ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
            key.refresh_from_db()
            key.save()  # as the admin would: drops the cached lookup
        elif credential == "well-formed-unknown":
            raw = "md_1234abcd_" + "A" * 43
        headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    before = table_state()
    client = Client()
    for name, url, methods in endpoints(model):
        if name in PUBLIC:
            continue
        for method in methods:
            response, elapsed = _call(client, method, url, **headers)
            assert _refused(name, response), (credential, method, url, response.status_code)
            assert elapsed < 1.0, (credential, method, url, elapsed)
    assert table_state() == before


@pytest.mark.parametrize("scopes", [("read",), ("chat",), ("read", "chat")])
def test_a_key_without_the_admin_scope_cannot_write(model, scopes):
    _, raw = factories.make_api_key(user=factories.make_user(staff=True), scopes=scopes)
    before = table_state()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    checked = 0
    for _name, url, methods in endpoints(model):
        if not url.startswith("/api/config/"):
            continue
        for method in methods:
            if method in WRITE_METHODS:
                response, elapsed = _call(client, method, url)
                assert response.status_code == 403, (scopes, method, url, response.status_code)
                assert elapsed < 1.0
                checked += 1
    assert checked >= 10
    assert table_state() == before


def test_public_endpoints_show_no_configuration(model):
    for name, url, _ in endpoints(model):
        if name in PUBLIC:
            response = Client().get(url)
            assert response.status_code == 200, url
            assert b"echo/echo" not in response.content, url  # no provider or model in a public answer


# --- mass assignment ---------------------------------------------------------------------------------


def _read_only_fields(schema: dict[str, Any], component: str) -> set[str]:
    """Fields of a response component that its request component does not accept."""
    response = set(schema["components"]["schemas"][component]["properties"])
    request = set(schema["components"]["schemas"][f"{component}Request"]["properties"])
    return response - request


@pytest.fixture
def admin_client(db: None) -> Client:
    _, raw = factories.make_api_key(scopes=("admin",))
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


VALUES = {"id": 999, "created_at": "2000-01-01T00:00:00Z", "updated_at": "2000-01-01T00:00:00Z", "is_default": True,
          "has_api_key": True, "is_active": True}  # fmt: skip


@pytest.mark.parametrize("component", ["Provider", "ProviderModel"])
def test_no_read_only_field_can_be_mass_assigned(model, admin_client, component):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    read_only = _read_only_fields(schema, component)
    assert {"id", "created_at", "updated_at"} <= read_only
    if component == "ProviderModel":
        assert "is_default" in read_only
        other = factories.make_model(model.provider, model_id="other")
        base, detail = "/api/config/models/", f"/api/config/models/{other.pk}/"
        valid = {"provider": model.provider_id, "model_id": "new-model"}
    else:
        base, detail = "/api/config/providers/", f"/api/config/providers/{model.provider_id}/"
        valid = {"name": "New", "slug": "new", "kind": "echo"}
    before = table_state()
    for field in sorted(read_only):
        value = VALUES.get(field, "forged")
        for method, url, body in (("post", base, {**valid, field: value}), ("patch", detail, {field: value}),
                                  ("put", detail, {**valid, field: value})):  # fmt: skip
            response = getattr(admin_client, method)(url, body, content_type="application/json")
            assert response.status_code == 400, (method, url, field, response.status_code, response.content)
            assert field in response.json(), (method, field, response.json())
    assert table_state() == before
    assert ProviderModel.objects.get(is_default=True) == model
