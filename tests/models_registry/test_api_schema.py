"""OpenAPI schema and Swagger UI (drf-spectacular, assets from the sidecar, no CDN)."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from tests.factories import make_user

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/model-registry",
    "/api/config/providers/",
    "/api/config/providers/{id}/",
    "/api/config/providers/{id}/models/",
    "/api/config/models/",
    "/api/config/models/{id}/",
    "/api/config/models/{id}/set-default/",
    "/api/config/presets/",
    "/api/config/defaults/",
]


def test_schema_lists_the_api_with_bearer_auth(client):
    client.force_login(make_user(staff=True))
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert set(PATHS) <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    provider_request = schema["components"]["schemas"]["ProviderRequest"]["properties"]
    assert provider_request["api_key"]["writeOnly"] is True
    assert "has_api_key" not in provider_request and "id" not in provider_request
    model_request = schema["components"]["schemas"]["ProviderModelRequest"]["properties"]
    assert "is_default" not in model_request and "status" not in model_request


def test_schema_generates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=StringIO())


def test_swagger_ui_uses_local_assets(client):
    client.force_login(make_user(staff=True))
    page = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui" in asset for asset in assets)
    assert all(not asset.startswith(("http://", "https://", "//")) for asset in assets), assets
