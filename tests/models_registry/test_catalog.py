"""The capability catalog (models_registry/catalog.py) and the services that fill models from it."""

from __future__ import annotations

import time

import pytest

from models_registry import catalog, services
from providers.models import ProviderModel
from tests.factories import make_model, make_provider


@pytest.mark.parametrize(
    ("model_id", "family", "thinking", "vision", "context_window", "max_output"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o", "none", True, 128000, 16384),
        ("gpt-4.1-nano", "gpt-4.1", "none", True, 1047576, 32768),
        ("gpt-5-mini", "gpt-5", "adaptive", True, 400000, 128000),
        ("gpt-5-chat-latest", "gpt-5-chat", "none", True, 128000, 16384),
        ("o1-mini", "o1-mini", "adaptive", False, 128000, 65536),
        ("o3-mini", "o3-mini", "adaptive", False, 200000, 100000),
        ("o4-mini-2025-04-16", "o-series", "adaptive", True, 200000, 100000),
        ("claude-3-haiku-20240307", "claude-3", "none", True, 200000, 4096),
        ("claude-3-5-sonnet-20241022", "claude-3.5", "none", True, 200000, 8192),
        ("claude-3-7-sonnet-20250219", "claude-3.7", "budget", True, 200000, 64000),
        ("claude-sonnet-4-20250514", "claude-sonnet-4", "budget", True, 200000, 64000),
        ("claude-opus-4-1-20250805", "claude-opus-4", "budget", True, 200000, 32000),
        ("claude-sonnet-4-5-20250929", "claude-4.5", "budget", True, 200000, 64000),
        ("claude-opus-4-5", "claude-4.5", "budget", True, 200000, 64000),
        ("claude-haiku-4-5-20251001", "claude-haiku-4.5", "budget", True, 200000, 64000),
        ("claude-opus-4-6", "claude-4.6+", "adaptive", True, 1000000, 128000),
        ("claude-sonnet-4-6", "claude-4.6+", "adaptive", True, 1000000, 128000),
        ("claude-opus-4-7", "claude-4.6+", "adaptive", True, 1000000, 128000),
        ("claude-sonnet-5", "claude-5", "adaptive", True, 1000000, 128000),
        # Vendor prefixes (OpenRouter, vLLM, Bedrock) and Ollama tags name the same families.
        ("anthropic/claude-3.7-sonnet", "claude-3.7", "budget", True, 200000, 64000),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3.5", "none", True, 200000, 8192),
        ("meta-llama/Llama-3.2-11B-Vision-Instruct", "llama-3.2-vision", "none", True, 131072, 8192),
        ("llama3.1:8b", "llama-3.1+", "none", False, 131072, 8192),
        ("llama-3.3-70b-versatile", "llama-3.1+", "none", False, 131072, 8192),
        ("llama3-70b-8192", "llama-3", "none", False, 8192, 8192),
        ("mistral-large-latest", "mistral-large", "none", False, 131072, 8192),
        ("pixtral-12b-2409", "pixtral", "none", True, 131072, 8192),
        ("qwen2.5:7b", "qwen2.5", "none", False, 131072, 8192),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen-vl", "none", True, 32768, 8192),
        ("gemma3:4b", "gemma-3", "none", True, 131072, 8192),
        ("gemma3:1b", "gemma-3-1b", "none", False, 32768, 8192),
        ("deepseek-reasoner", "deepseek-reasoner", "none", False, 131072, 65536),
        ("deepseek-ai/DeepSeek-R1-Distill-Llama-70B", "deepseek-reasoner", "none", False, 131072, 65536),
    ],
)
def test_families(model_id, family, thinking, vision, context_window, max_output):
    found = catalog.match(model_id)
    assert found is not None, model_id
    assert (found.family, found.capabilities["thinking"], found.capabilities["vision"]) == (family, thinking, vision)
    assert (found.context_window, found.max_output_tokens) == (context_window, max_output)
    assert found.chat is True
    # Every chat family answers every capability key (defaults fill the rest).
    assert set(catalog.CAPABILITY_KEYS) <= set(found.capabilities)


@pytest.mark.parametrize(
    "model_id",
    [
        "text-embedding-3-small",
        "nomic-embed-text",
        "whisper-1",
        "tts-1-hd",
        "dall-e-3",
        "gpt-image-1",
        "omni-moderation-latest",
        "davinci-002",
        "gpt-4o-realtime-preview",
        "gpt-4o-mini-tts",
    ],
)
def test_models_that_are_not_chat_models_are_marked(model_id):
    found = catalog.match(model_id)
    assert found is not None and found.chat is False
    assert found.capabilities == {"chat": False}


def test_unknown_model_has_no_family():
    assert catalog.match("my-finetune-v3") is None


def test_shipped_table_is_valid_and_every_family_is_reachable():
    """A family shadowed by an earlier, more general pattern would be dead data."""
    families = catalog.families()
    assert len({f.family for f in families}) == len(families)
    samples = {
        "gpt-5-chat": "gpt-5-chat-latest",
        "o3-mini": "o3-mini",
        "claude-haiku-4.5": "claude-haiku-4-5",
        "claude-4.5": "claude-sonnet-4-5",
        "claude-opus-4": "claude-opus-4-20250514",
        "claude-sonnet-4": "claude-sonnet-4-20250514",
        "gemma-3-1b": "gemma3:1b",
        "qwq": "qwq:32b",
        "llama-3.2-vision": "llama3.2-vision",
        "deepseek-chat": "deepseek-chat",
    }
    for family, model_id in samples.items():
        assert catalog.match(model_id).family == family


def test_operator_file_comes_first_and_a_malformed_one_is_named(tmp_path, settings):
    extra = tmp_path / "families.yaml"
    extra.write_text(
        "families:\n  - family: house-model\n    match: 'gpt-4o'\n    capabilities: {vision: false}\n"
        "    context_window: 4096\n"
    )
    settings.MODELDESK_CATALOG_FILE = str(extra)
    found = catalog.match("gpt-4o")
    assert (found.family, found.capabilities["vision"], found.context_window) == ("house-model", False, 4096)

    extra.write_text("families:\n  - family: broken\n    match: 'x'\n    capabilities: {thinking: sometimes}\n")
    with pytest.raises(catalog.CatalogError, match=r"broken.*thinking"):
        catalog.match("anything")
    extra.write_text("families:\n  - family: broken\n    match: '('\n")
    with pytest.raises(catalog.CatalogError, match="not a regular expression"):
        catalog.match("anything")


@pytest.mark.django_db
def test_lookup_caches_negative_answers_for_the_ttl_only(tmp_path, settings):
    settings.MODELDESK_CATALOG_TTL = 1
    extra = tmp_path / "families.yaml"
    extra.write_text("families: []\n")
    settings.MODELDESK_CATALOG_FILE = str(extra)
    assert catalog.lookup("house-llm-7b") is None
    extra.write_text("families:\n  - family: house\n    match: 'house-llm'\n    capabilities: {tools: true}\n")
    assert catalog.lookup("house-llm-7b") is None  # the negative answer is cached…
    time.sleep(1.1)
    assert catalog.lookup("house-llm-7b").family == "house"  # …and expires with the TTL


@pytest.mark.django_db
def test_lookup_is_invalidated_when_models_change(tmp_path, settings):
    settings.MODELDESK_CATALOG_TTL = 3600
    extra = tmp_path / "families.yaml"
    extra.write_text("families: []\n")
    settings.MODELDESK_CATALOG_FILE = str(extra)
    assert catalog.lookup("house-llm-7b") is None
    extra.write_text("families:\n  - family: house\n    match: 'house-llm'\n")
    assert catalog.lookup("house-llm-7b") is None
    make_model(model_id="anything")  # a configuration change
    assert catalog.lookup("house-llm-7b").family == "house"


@pytest.mark.django_db
def test_lookup_many_costs_one_cache_round_trip_and_no_query(django_assert_num_queries):
    ids = [f"gpt-4o-variant-{i}" for i in range(500)]
    with django_assert_num_queries(0):
        found = catalog.lookup_many(ids)
    assert {f.family for f in found.values()} == {"gpt-4o"}


@pytest.mark.django_db
def test_model_created_without_capabilities_is_filled_from_the_catalog():
    model = services.model_create(provider=make_provider(), model_id="claude-sonnet-4-5")
    model.refresh_from_db()
    assert model.capabilities_source == "catalog"
    assert model.capabilities["thinking"] == "budget" and model.capabilities["vision"] is True
    assert (model.context_window, model.max_output_tokens) == (200000, 64000)


@pytest.mark.django_db
def test_declared_capabilities_are_never_overwritten():
    model = services.model_create(
        provider=make_provider(), model_id="gpt-4o", capabilities=["tools"], context_window=1000
    )
    model.refresh_from_db()
    assert (model.capabilities, model.capabilities_source) == ({"tools": True}, "declared")
    # Empty max output is filled; the declared context window is not.
    assert (model.context_window, model.max_output_tokens) == (1000, 16384)
    services.model_update(model=model, name="Renamed")
    services.models_fill_capabilities()
    model.refresh_from_db()
    assert (model.capabilities, model.capabilities_source, model.name) == ({"tools": True}, "declared", "Renamed")


@pytest.mark.django_db
def test_models_fill_capabilities_fills_old_rows_in_bulk(django_assert_max_num_queries):
    provider = make_provider()
    ProviderModel.objects.bulk_create(
        [ProviderModel(provider=provider, model_id=f"llama3.1:{n}b") for n in range(50)]
        + [ProviderModel(provider=provider, model_id="house-model")]
    )
    with django_assert_max_num_queries(6):
        changed = services.models_fill_capabilities(provider=provider)
    assert changed == 50
    assert ProviderModel.objects.get(model_id="llama3.1:7b").capabilities["tools"] is True
    assert ProviderModel.objects.get(model_id="house-model").capabilities == {}


@pytest.mark.django_db
def test_models_created_through_the_api_get_the_catalog(api):
    provider = make_provider()
    response = api.post("/api/config/models/", {"provider": provider.pk, "model_id": "o3-mini"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["capabilities"]["thinking"] == "adaptive" and body["context_window"] == 200000
    declared = api.post(
        "/api/config/models/",
        {"provider": provider.pk, "model_id": "gpt-4o", "capabilities": {"vision": False}},
        format="json",
    ).json()
    assert declared["capabilities"] == {"vision": False}
    assert ProviderModel.objects.get(model_id="gpt-4o").capabilities_source == "declared"
