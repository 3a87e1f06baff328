"""`manage.py import_env` (models_registry/env_import.py): MODELS, the legacy lists, DEFAULT_MODEL, key checks."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from providers.models import Provider, ProviderModel
from tests.factories import make_model, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_env_keys(monkeypatch, settings):
    """Start from an environment without any provider key and empty model settings."""
    for slug in ("OPENAI", "ANTHROPIC", "GROQ", "MISTRAL", "OLLAMA", "DEEPSEEK", "AZURE", "OPENROUTER"):
        monkeypatch.delenv(f"{slug}_API_KEY", raising=False)
    settings.MODELS = ""
    settings.OPENAI_MODELS = ""
    settings.ANTHROPIC_MODELS = ""
    settings.DEFAULT_MODEL = ""


def run(*args: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_env", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def state() -> list[tuple]:
    return sorted(
        ProviderModel.objects.values_list("provider__slug", "model_id", "alias", "is_enabled", "is_default")
    ) + sorted(Provider.objects.values_list("slug", "name", "kind", "base_url"))


def test_models_setting_creates_well_known_providers_and_models(settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-0001")
    monkeypatch.setenv("GROQ_API_KEY", "gsk-env-0002")
    settings.MODELS = "openai:gpt-4o-mini, openai:gpt-4o,groq:llama-3.3-70b-versatile,ollama:llama3.1:8b"
    settings.DEFAULT_MODEL = "openai/gpt-4o-mini"
    out, err = run()
    assert err == ""
    assert "3 provider(s) and 4 model(s) were created" in out
    groq = Provider.objects.get(slug="groq")
    assert (groq.kind, groq.base_url) == ("openai_compatible", "https://api.groq.com/openai/v1")
    assert groq.api_key == ""  # the key stays in the environment: <SLUG>_API_KEY is read at run time
    assert groq.key_source == "env" and groq.is_active
    assert ProviderModel.objects.get(model_id="llama3.1:8b").provider.slug == "ollama"  # keyless local server
    mini = ProviderModel.objects.get(model_id="gpt-4o-mini")
    assert mini.is_default and mini.capabilities["vision"] is True  # filled from the catalog


def test_import_env_is_idempotent(settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-0001")
    settings.MODELS = "openai:gpt-4o-mini"
    settings.DEFAULT_MODEL = "gpt-4o-mini"
    run()
    before = state()
    out, _ = run()
    assert "0 provider(s) and 0 model(s) were created, 1 model(s) already present." in out
    assert state() == before


def test_legacy_lists_are_used_only_when_models_is_empty(settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-0001")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-0003")
    settings.OPENAI_MODELS = "gpt-4o-mini,gpt-4o"
    settings.ANTHROPIC_MODELS = "claude-sonnet-4-5"
    settings.MODELS = "openai:o3-mini"
    run()
    assert list(ProviderModel.objects.values_list("model_id", flat=True)) == ["o3-mini"]
    settings.MODELS = ""
    run()
    assert set(ProviderModel.objects.values_list("provider__slug", "model_id")) == {
        ("openai", "o3-mini"),
        ("openai", "gpt-4o-mini"),
        ("openai", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-5"),
    }


def test_providers_without_a_key_are_skipped_with_one_warning_each(settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-0001")
    make_provider(slug="mistral", name="Mistral", kind="openai_compatible", base_url="https://api.mistral.ai/v1")
    Provider.objects.filter(slug="mistral").update(api_key="")
    settings.MODELS = (
        "openai:gpt-4o,anthropic:claude-sonnet-4-5,anthropic:claude-haiku-4-5,mistral:mistral-large-latest"
    )
    settings.DEFAULT_MODEL = "anthropic:claude-sonnet-4-5"
    out, err = run()
    lines = [line for line in err.splitlines() if line]
    assert lines == [
        "warning: anthropic: no API key (stored or ANTHROPIC_API_KEY); skipped 2 model(s): "
        "claude-sonnet-4-5, claude-haiku-4-5",
        "warning: mistral: no API key (stored or MISTRAL_API_KEY); skipped 1 model(s): mistral-large-latest",
        "warning: DEFAULT_MODEL 'anthropic:claude-sonnet-4-5' skipped: its provider has no API key",
    ]
    assert list(ProviderModel.objects.values_list("model_id", flat=True)) == ["gpt-4o"]
    assert not Provider.objects.filter(slug="anthropic").exists()


def test_a_stored_key_counts(settings):
    make_provider(slug="openai", name="OpenAI", kind="openai", api_key="sk-stored-0000001")
    settings.MODELS = "openai:gpt-4o"
    _, err = run()
    assert err == "" and ProviderModel.objects.filter(model_id="gpt-4o").exists()


def test_dry_run_writes_nothing(settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-0001")
    settings.MODELS = "openai:gpt-4o-mini"
    settings.DEFAULT_MODEL = "openai:gpt-4o-mini"
    out, _ = run("--dry-run")
    assert "Dry run" in out and "+ provider openai" in out and "+ model openai/gpt-4o-mini" in out
    assert "~ default model: openai/gpt-4o-mini" in out
    assert Provider.objects.count() == 0 and ProviderModel.objects.count() == 0


@pytest.mark.parametrize(
    ("models", "default", "message"),
    [
        ("gpt-4o", "", r"MODELS: 'gpt-4o' is not provider:model"),
        ("openai:gpt-4o,nowhere:x", "", r"unknown provider\(s\) nowhere"),
        ("openai:gpt-4o", "openai/gpt-5", r"DEFAULT_MODEL: 'openai/gpt-5' names no configured model"),
        ("openai:gpt-4o", "claude", r"DEFAULT_MODEL: 'claude' names no configured model"),
    ],
)
def test_bad_settings_fail_clearly_and_change_nothing(settings, monkeypatch, models, default, message):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-0001")
    make_model(make_provider(slug="keep", name="Keep"), model_id="keep-model")
    before = state()
    settings.MODELS, settings.DEFAULT_MODEL = models, default
    with pytest.raises(CommandError, match=message):
        run()
    assert state() == before


def test_ambiguous_default_names_the_candidates(settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-0001")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-0004")
    settings.MODELS = "openai:gpt-4o,openrouter:gpt-4o"
    settings.DEFAULT_MODEL = "gpt-4o"
    with pytest.raises(CommandError, match=r"ambiguous \(openai/gpt-4o, openrouter/gpt-4o\)"):
        run()
    assert ProviderModel.objects.count() == 0
