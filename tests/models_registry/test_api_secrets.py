"""No provider key leaves the API: not in any response, error, schema page, or log record."""

import logging

import pytest

from providers.models import Provider
from tests.factories import make_model, make_provider, make_user

pytestmark = pytest.mark.django_db

SECRET = "sk-proj-NEVER-SHOW-ME-4242abcd"


def test_no_response_contains_a_provider_key(api, client, caplog):
    caplog.set_level(logging.DEBUG)
    provider = make_provider(name="OpenAI", slug="openai", api_key=SECRET)
    model = make_model(provider, model_id="gpt-4o")
    ciphertext = str(Provider.objects.get(pk=provider.pk).api_key)
    created = api.post(
        "/api/config/providers/", {"name": "Second", "slug": "second", "api_key": SECRET + "-2"}, format="json"
    )
    assert created.status_code == 201
    refused = api.post(
        "/api/config/providers/", {"name": "OpenAI", "slug": "bad slug", "api_key": SECRET + "-3"}, format="json"
    )
    assert refused.status_code == 400
    bodies = [created.content, refused.content]
    for url in (
        "/api/model-registry",
        "/api/config/providers/",
        f"/api/config/providers/{provider.pk}/",
        f"/api/config/providers/{provider.pk}/models/",
        "/api/config/models/",
        f"/api/config/models/{model.pk}/",
        "/api/config/presets/",
        "/api/config/defaults/",
    ):
        response = api.get(url)
        assert response.status_code == 200, url
        bodies.append(response.content)
    bodies.append(api.patch(f"/api/config/providers/{provider.pk}/", {"organization": "o"}, format="json").content)
    client.force_login(make_user(staff=True))
    bodies.append(client.get("/api/config/providers/", HTTP_ACCEPT="text/html").content)
    bodies.append(client.get("/api/schema/").content)
    for body in bodies:
        text = body.decode()
        assert SECRET not in text
        assert ciphertext not in text and "fernet:" not in text
    for record in caplog.records:
        assert SECRET not in record.getMessage()
