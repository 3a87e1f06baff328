"""Read-side payloads over the snapshot (providers/selectors.py): memoized per version, strong ETags."""

import hashlib

import pytest

from providers import selectors, services, snapshot
from tests.factories import make_model, make_provider

pytestmark = pytest.mark.django_db


def test_renderings_are_memoized_per_snapshot_version(django_assert_num_queries):
    make_model(make_provider(slug="openai"), model_id="gpt-4o")
    first = selectors.model_registry()
    with django_assert_num_queries(0):
        assert selectors.model_registry() is first
        assert selectors.openai_models() is selectors.openai_models()
    snapshot.invalidate()
    rebuilt = selectors.model_registry()
    assert rebuilt is not first and rebuilt.etag == first.etag  # same content, same strong ETag


def test_etag_is_a_strong_hash_of_the_body():
    rendered = selectors.model_registry()
    assert rendered.etag == f'"{hashlib.sha256(rendered.body).hexdigest()[:40]}"'
    make_provider(kind="echo", api_key="")
    assert selectors.model_registry().etag != rendered.etag


def test_public_and_staff_payloads_differ_only_by_inactive_providers():
    active = make_provider(name="A", slug="a")
    make_model(active, model_id="m")
    make_provider(name="B", slug="b", is_enabled=False)
    public = selectors.model_registry().data
    staff = selectors.model_registry(include_inactive=True).data
    assert [p["slug"] for p in public["providers"]] == ["a"]
    assert [(p["slug"], p["inactive_reason"]) for p in staff["providers"]] == [("a", None), ("b", "disabled")]


def test_openai_models_lists_servable_models_only():
    provider = make_provider(slug="openai")
    make_model(provider, model_id="on")
    make_model(provider, model_id="off", is_enabled=False)
    make_model(make_provider(kind="anthropic", api_key=""), model_id="keyless")
    data = selectors.openai_models().data
    assert data["object"] == "list"
    assert [(m["id"], m["owned_by"]) for m in data["data"]] == [("openai/on", "openai")]


def test_model_id_taken():
    provider = make_provider()
    model = make_model(provider, model_id="x")
    assert selectors.model_id_taken(provider_id=provider.pk, model_id="x")
    assert not selectors.model_id_taken(provider_id=provider.pk, model_id="x", exclude_pk=model.pk)
    assert not selectors.model_id_taken(provider_id=make_provider().pk, model_id="x")


def test_defaults_and_presets_reflect_stored_settings():
    services.runtime_settings_update({"temperature": 0.4})
    assert selectors.runtime_defaults()["temperature"] == 0.4
    assert "fast" in selectors.presets()
