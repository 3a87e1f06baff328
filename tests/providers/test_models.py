"""The store's own guarantees: database constraints, qualified ids and whether a provider is active."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from providers.models import Provider, ProviderModel, env_key_name
from tests.factories import make_model, make_provider

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_second_default():
    first = make_model(is_default=True)
    second = make_model()
    second.is_default = True
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()  # around the services: the constraint still holds
    assert list(ProviderModel.objects.filter(is_default=True)) == [first]


def test_alias_is_unique_only_when_set():
    make_model(alias="mini")
    make_model(alias="")
    make_model(alias="")  # many models without an alias
    provider = make_provider()
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderModel.objects.create(provider=provider, model_id="x", alias="mini")


def test_model_id_is_unique_per_provider_only():
    first = make_model(model_id="gpt-4o")
    make_model(model_id="gpt-4o")  # another provider
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderModel.objects.create(provider=first.provider, model_id="gpt-4o")


def test_slug_format_is_a_database_constraint():
    with pytest.raises(IntegrityError), transaction.atomic():
        Provider.objects.create(name="Bad", slug="Bad_Slug")


def test_defaults_and_qualified_id():
    provider = Provider.objects.create(name="Groq", slug="groq")
    model = ProviderModel.objects.create(provider=provider, model_id="llama-3.1-8b-instant")
    assert (provider.timeout_seconds, provider.max_retries, provider.extra_headers) == (60, 2, {})
    assert (model.capabilities, model.is_enabled, model.is_default, model.status) == ({}, True, False, "unknown")
    assert model.qualified_id == str(model) == "groq/llama-3.1-8b-instant"
    assert model.display_name == "llama-3.1-8b-instant"
    assert env_key_name("azure-openai") == "AZURE_OPENAI_API_KEY"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": "openai", "api_key": "sk-0123456789"}, None),
        ({"kind": "openai", "api_key": "sk-0123456789", "is_enabled": False}, "disabled"),
        ({"kind": "openai", "api_key": ""}, "no API key"),
        ({"kind": "anthropic", "api_key": ""}, "no API key"),
        ({"kind": "echo", "api_key": ""}, None),
        ({"kind": "openai_compatible", "api_key": "", "base_url": "http://127.0.0.1:11434/v1"}, None),
        ({"kind": "openai_compatible", "api_key": "", "base_url": "http://192.168.1.20:8000/v1"}, None),
        ({"kind": "openai_compatible", "api_key": "", "base_url": "http://localhost:1234/v1"}, None),
        ({"kind": "openai_compatible", "api_key": "", "base_url": "https://api.groq.com/openai/v1"}, "no API key"),
    ],
)
def test_inactive_reasons(fields, reason):
    assert make_provider(**fields).inactive_reason == reason


def test_a_key_in_the_environment_activates_the_provider(monkeypatch):
    provider = make_provider(slug="groq-eu", api_key="")
    assert provider.key_source == "none"
    monkeypatch.setenv("GROQ_EU_API_KEY", "gsk-from-env")
    assert (provider.key_source, provider.inactive_reason) == ("env", None)
