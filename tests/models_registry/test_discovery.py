"""Model discovery and validation (models_registry/discovery/) against the fake upstream, over real HTTP."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection

from models_registry.discovery import discover_models
from providers import services as provider_services
from providers.models import ProviderModel
from tests.factories import make_model
from tests.fake_upstream import behaviour as fb
from tests.models_registry.upstreams import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    anthropic_provider,
    closed_port_url,
    models_state,
    openai_provider,
)

pytestmark = pytest.mark.django_db


def rows(provider) -> dict[str, ProviderModel]:
    return {m.model_id: m for m in ProviderModel.objects.filter(provider=provider)}


def test_openai_listing_is_merged_with_catalog_capabilities(fake_upstream):
    fake_upstream.set_models(openai=["gpt-4o-mini", "o3-mini", "text-embedding-3-small", "house-model"])
    provider = openai_provider(fake_upstream)
    result = discover_models(provider)
    assert result.ok and result.source == "upstream" and result.listed == 4
    assert sorted(result.added) == ["gpt-4o-mini", "house-model", "o3-mini"]
    assert result.skipped == [{"model_id": "text-embedding-3-small", "reason": "not a chat model (embeddings)"}]
    found = rows(provider)
    mini = found["gpt-4o-mini"]
    assert (mini.capabilities_source, mini.capabilities["vision"], mini.context_window) == ("catalog", True, 128000)
    assert (mini.status, mini.is_enabled, mini.is_listed_upstream) == ("unknown", True, True)
    assert found["house-model"].capabilities == {}
    json.dumps(result.as_dict())  # the result is JSON as it is


def test_listing_is_cached_and_force_bypasses_the_cache(fake_upstream):
    provider = openai_provider(fake_upstream)
    discover_models(provider)
    assert fake_upstream.hit_count("/v1/models") == 1
    again = discover_models(provider)
    assert (again.source, fake_upstream.hit_count("/v1/models")) == ("cache", 1)
    assert again.added == [] and len(again.unchanged) == 4
    forced = discover_models(provider, force=True)
    assert (forced.source, fake_upstream.hit_count("/v1/models")) == ("upstream", 2)


def test_validation_marks_models_and_disables_new_ones_that_fail(fake_upstream):
    provider = openai_provider(fake_upstream)
    result = discover_models(provider, validate=True)
    assert result.validated == ["gpt-4o", "gpt-4o-mini", "gpt-retired", "o3-mini"]
    assert result.invalid == ["gpt-retired"]
    found = rows(provider)
    assert (found["gpt-4o"].status, found["gpt-4o"].status_detail) == ("valid", "answered pong")
    assert found["gpt-4o"].last_checked_at is not None
    retired = found["gpt-retired"]
    assert (retired.status, retired.is_enabled) == ("invalid", False)
    assert "does not exist" in retired.status_detail
    pings = fake_upstream.requests_for("/v1/chat/completions")
    assert {r.json["model"] for r in pings} == set(result.validated)
    assert all("ping" in r.json["messages"][-1]["content"] for r in pings)
    assert all(r.json.get("max_tokens") == 10 or r.json.get("max_completion_tokens") == 10 for r in pings)


def test_models_that_are_not_chat_models_are_never_pinged(fake_upstream):
    fake_upstream.set_models(openai=["gpt-4o", "text-embedding-3-large"])
    provider = openai_provider(fake_upstream)
    make_model(provider, model_id="text-embedding-3-large", name="Embeddings (added by hand)")
    result = discover_models(provider, validate=True, force=True)
    assert result.validated == ["gpt-4o"]
    assert rows(provider)["text-embedding-3-large"].status == "unknown"


def test_known_invalid_models_are_skipped_unless_forced(fake_upstream):
    provider = openai_provider(fake_upstream)
    discover_models(provider, validate=True)
    calls = fake_upstream.hit_count("/v1/chat/completions")
    again = discover_models(provider, validate=True)
    assert again.validated == [] and fake_upstream.hit_count("/v1/chat/completions") == calls
    assert {"model_id": "gpt-retired", "reason": "known invalid (force re-checks it)"} in again.skipped
    fake_upstream.set_behaviour("gpt-retired", None)  # it works again upstream
    forced = discover_models(provider, validate=True, force=True)
    assert "gpt-retired" in forced.validated and forced.invalid == []
    retired = rows(provider)["gpt-retired"]
    # Valid now; still disabled: the enabled flag is the operator's.
    assert (retired.status, retired.is_enabled) == ("valid", False)


def test_validation_concurrency_is_bounded(fake_upstream):
    fake_upstream.set_models(openai=[f"gpt-4o-{i}" for i in range(12)])
    for i in range(12):
        fake_upstream.set_behaviour(f"gpt-4o-{i}", fb.slow(0.2))
    provider = openai_provider(fake_upstream)
    started = time.perf_counter()
    result = discover_models(provider, validate=True, concurrency=4)
    elapsed = time.perf_counter() - started
    assert len(result.validated) == 12 and result.invalid == []
    # 12 models, 4 at once, 0.2 s each: at least 3 rounds, and far less than one at a time (2.4 s).
    assert 0.6 <= elapsed < 2.0


def test_merge_keeps_names_aliases_flags_and_default(fake_upstream):
    provider = openai_provider(fake_upstream)
    mine = make_model(provider, model_id="gpt-4o", name="Our GPT-4o", alias="4o", capabilities={"vision": False})
    provider_services.model_update(model=mine, is_enabled=False)
    default = make_model(provider, model_id="gpt-4o-mini", name="Mini", alias="mini")
    provider_services.set_default_model(model=default)
    discover_models(provider)
    found = rows(provider)
    assert (found["gpt-4o"].name, found["gpt-4o"].alias, found["gpt-4o"].is_enabled) == ("Our GPT-4o", "4o", False)
    # Declared capabilities stay; an empty context window is filled.
    assert found["gpt-4o"].capabilities == {"vision": False} and found["gpt-4o"].context_window == 128000
    assert (found["gpt-4o-mini"].name, found["gpt-4o-mini"].is_default) == ("Mini", True)


def test_models_no_longer_listed_are_marked_not_deleted_and_the_default_stays(fake_upstream):
    provider = openai_provider(fake_upstream)
    discover_models(provider)
    provider_services.set_default_model(model=rows(provider)["gpt-4o"])
    fake_upstream.set_models(openai=["gpt-4o-mini", "o3-mini"])
    result = discover_models(provider, force=True)
    assert sorted(result.missing) == ["gpt-4o", "gpt-retired"]
    assert any("default model gpt-4o is no longer listed" in w for w in result.warnings)
    found = rows(provider)
    assert len(found) == 4
    assert (found["gpt-4o"].is_listed_upstream, found["gpt-4o"].is_default) == (False, True)
    fake_upstream.set_models(openai=["gpt-4o"])
    discover_models(provider, force=True)
    assert rows(provider)["gpt-4o"].is_listed_upstream is True


def test_anthropic_listing_follows_every_page_and_its_metadata_wins(fake_upstream):
    provider = anthropic_provider(fake_upstream)
    make_model(provider, model_id="claude-haiku-4-5", name="", context_window=1000)
    result = discover_models(provider)
    assert result.ok and result.listed == 5
    assert len(fake_upstream.requests_for("/v1/models")) >= 3  # pages of 2
    found = rows(provider)
    opus = found["claude-opus-4-7"]
    assert opus.name == "Claude Opus 4.7"
    assert (opus.capabilities_source, opus.capabilities["thinking"], opus.capabilities["vision"]) == (
        "provider",
        "adaptive",
        True,
    )
    assert opus.capabilities["tools"] is True  # from the catalog: Anthropic's list does not say
    assert (opus.context_window, opus.max_output_tokens) == (200000, 128000)
    assert found["claude-sonnet-4-6"].capabilities["thinking"] == "budget"  # what the upstream says wins
    assert found["claude-3-haiku-20240307"].capabilities["thinking"] == "none"
    haiku = found["claude-haiku-4-5"]
    assert (haiku.name, haiku.context_window) == ("Claude Haiku 4.5", 200000)  # empty name filled, metadata wins
    retired = found["claude-retired-2"]
    assert (retired.status, retired.status_detail, retired.is_enabled) == ("invalid", "retired upstream", False)


def test_openrouter_like_metadata_wins(fake_upstream):
    fake_upstream.set_models(
        openai=[
            {
                "id": "meta-llama/llama-3.3-70b-instruct",
                "name": "Meta: Llama 3.3 70B Instruct",
                "context_length": 65536,
                "pricing": {"prompt": "0.00000012", "completion": "0.0000003"},
                "top_provider": {"max_completion_tokens": 16384},
                "architecture": {"input_modalities": ["text"]},
                "supported_parameters": ["tools", "temperature"],
            }
        ]
    )
    provider = openai_provider(fake_upstream, slug="openrouter", name="OpenRouter", kind="openai_compatible")
    make_model(provider, model_id="meta-llama/llama-3.3-70b-instruct", name="", context_window=1000)
    make_model(provider, model_id="kept-name", name="Our name")
    fake_upstream.openai_models.append({"id": "kept-name", "name": "Their name", "object": "model", "created": 1})
    discover_models(provider)
    model = rows(provider)["meta-llama/llama-3.3-70b-instruct"]
    assert model.name == "Meta: Llama 3.3 70B Instruct"  # an empty name is filled
    assert rows(provider)["kept-name"].name == "Our name"  # an operator's name is kept
    assert (model.context_window, model.max_output_tokens) == (65536, 16384)
    assert (str(model.input_price_per_mtok), str(model.output_price_per_mtok)) == ("0.1200", "0.3000")
    assert model.capabilities_source == "provider"
    assert (model.capabilities["tools"], model.capabilities["vision"], model.capabilities["json_mode"]) == (
        True,
        False,
        False,
    )


def test_anthropic_validation_pings_with_messages(fake_upstream):
    provider = anthropic_provider(fake_upstream)
    result = discover_models(provider, validate=True)
    assert "claude-retired-2" in result.invalid and "claude-opus-4-7" not in result.invalid
    assert rows(provider)["claude-sonnet-4-6"].status == "valid"
    assert fake_upstream.hit_count("/v1/messages") == len(result.validated)


def test_unreachable_upstream_reports_an_error_and_changes_nothing(fake_upstream):
    provider = openai_provider(fake_upstream, base_url=closed_port_url())
    make_model(provider, model_id="gpt-4o")
    before = models_state(provider)
    result = discover_models(provider, validate=True)
    assert not result.ok and result.source == "none" and result.listed == 0
    assert "connect" in result.errors[0].lower()
    assert result.missing == []  # a failed listing never marks models as gone
    assert models_state(provider) == before


def test_failing_upstream_falls_back_to_the_last_listing(fake_upstream):
    provider = openai_provider(fake_upstream)
    discover_models(provider)
    fake_upstream.enqueue(fb.error(500, "boom"), endpoint="models", times=5)
    result = discover_models(provider, force=True)
    assert result.ok and result.source == "stale-cache" and result.listed == 4
    assert "used the last listing" in result.warnings[0]


@pytest.mark.parametrize(
    "body",
    ["<html><body>502 Bad Gateway</body></html>", '{"object": "list", "data": [{"id": "trunc'],
    ids=["html", "json"],
)
def test_non_json_upstream_is_reported_and_changes_nothing(fake_upstream, body):
    provider = openai_provider(fake_upstream)
    make_model(provider, model_id="gpt-4o")
    before = models_state(provider)
    fake_upstream.enqueue(fb.raw(body), endpoint="models", times=5)
    result = discover_models(provider)
    assert not result.ok and result.errors and result.listed == 0
    assert models_state(provider) == before


def test_wrong_key_is_reported_without_the_key(fake_upstream):
    fake_upstream.api_key = "sk-the-right-one-0000"
    provider = openai_provider(fake_upstream)
    result = discover_models(provider)
    assert not result.ok
    text = json.dumps(result.as_dict())
    assert OPENAI_KEY not in text and "401" in text or "authentic" in text.lower()
    assert OPENAI_KEY not in text and ANTHROPIC_KEY not in text


def test_inactive_provider_is_not_called(fake_upstream):
    provider = openai_provider(fake_upstream)
    provider_services.provider_update(provider=provider, is_enabled=False)
    result = discover_models(provider)
    assert not result.ok and "inactive (disabled)" in result.errors[0]
    assert fake_upstream.requests == []


def test_dry_run_writes_nothing(fake_upstream):
    provider = openai_provider(fake_upstream)
    make_model(provider, model_id="gone-model")
    before = models_state(provider)
    result = discover_models(provider, validate=True, dry_run=True)
    assert result.dry_run and len(result.added) == 4 and result.missing == ["gone-model"]
    assert result.invalid == ["gpt-retired"]
    assert models_state(provider) == before


def test_thousands_of_models_are_written_in_bulk(fake_upstream, django_assert_max_num_queries):
    fake_upstream.set_models(openai=[f"gpt-4o-variant-{i:04d}" for i in range(2000)])
    provider = openai_provider(fake_upstream)
    # SQLite takes at most 999 parameters per statement (~50 rows per INSERT); PostgreSQL takes 500 rows.
    bound = 100 if connection.vendor == "sqlite" else 30
    with django_assert_max_num_queries(bound):
        result = discover_models(provider)
    assert len(result.added) == 2000
    assert ProviderModel.objects.filter(provider=provider, capabilities_source="catalog").count() == 2000
    # A second listing where most models changed and the others disappeared is as cheap.
    fake_upstream.set_models(
        openai=[{"id": f"gpt-4o-variant-{i:04d}", "context_length": 1000 + i} for i in range(1200)]
    )
    with django_assert_max_num_queries(bound):
        result = discover_models(provider, force=True)
    assert (len(result.updated), len(result.missing)) == (1200, 800)
    assert ProviderModel.objects.filter(provider=provider, is_listed_upstream=False).count() == 800
    assert ProviderModel.objects.get(provider=provider, model_id="gpt-4o-variant-0007").context_window == 1007


def test_measure_discovering_and_validating_200_models(fake_upstream, capsys):
    """The figure for the report: 200 models, each ping answered in 50 ms, 8 at once."""
    models = [f"gpt-4o-bench-{i:03d}" for i in range(200)]
    fake_upstream.set_models(openai=models)
    for model_id in models:
        fake_upstream.set_behaviour(model_id, fb.slow(0.05))
    provider = openai_provider(fake_upstream)
    started = time.perf_counter()
    result = discover_models(provider, validate=True)
    elapsed = time.perf_counter() - started
    assert len(result.validated) == 200 and result.invalid == []
    assert ProviderModel.objects.filter(provider=provider, status="valid").count() == 200
    with capsys.disabled():
        print(f"\n[measure] discover + validate 200 models (50 ms each, concurrency 8): {elapsed * 1000:.0f} ms")
    assert elapsed < 200 * 0.05  # concurrent, not one at a time
