"""Providers files (models_registry/yaml_io): import_providers and export_providers, through the commands."""

from __future__ import annotations

import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from providers import services as provider_services
from providers.fields import reveal
from providers.models import Provider, ProviderModel
from tests.factories import make_model, make_provider

EXAMPLE = Path(__file__).resolve().parents[2] / "providers" / "fixtures" / "providers.example.yaml"
KEYS = {
    "OPENAI_API_KEY": "sk-openai-example-1111",
    "ANTHROPIC_API_KEY": "sk-ant-example-2222",
    "AZURE_API_KEY": "azure-example-3333",
    "GROQ_API_KEY": "gsk-example-4444",
}

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(monkeypatch):
    """The example file's `${…}` references, set in the environment."""
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    return KEYS


def run(*args: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path: Path, text: str, name: str = "providers.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def state() -> dict[str, Any]:
    """The whole configuration, without ids and timestamps (what a round trip must preserve)."""
    providers = {}
    for p in Provider.objects.order_by("slug"):
        row = {f.name: getattr(p, f.name) for f in Provider._meta.concrete_fields}
        for name in ("id", "created_at", "updated_at"):
            row.pop(name)
        row["api_key"] = reveal(p.api_key)
        providers[p.slug] = row
    models = {}
    for m in ProviderModel.objects.select_related("provider").order_by("provider__slug", "model_id"):
        row = {f.name: getattr(m, f.name) for f in ProviderModel._meta.concrete_fields}
        for name in ("id", "provider", "created_at", "updated_at", "last_checked_at"):
            row.pop(name)
        models[m.qualified_id] = row
    return {"providers": providers, "models": models}


def test_example_file_imports(keys):
    out, err = run("import_providers", str(EXAMPLE))
    assert "5 provider(s) and 15 model(s) were created" in out
    assert err == ""
    assert set(Provider.objects.values_list("slug", flat=True)) == {"openai", "anthropic", "azure", "groq", "ollama"}
    groq = Provider.objects.get(slug="groq")
    assert groq.kind == "openai_compatible"  # inferred: groq is no kind of its own
    assert reveal(groq.api_key) == KEYS["GROQ_API_KEY"]
    assert str(groq.api_key).startswith("fernet:")  # stored encrypted
    mini = ProviderModel.objects.get(model_id="gpt-4o-mini")
    assert (mini.alias, mini.status, mini.is_enabled, mini.is_default) == ("4o-mini", "valid", True, True)
    assert mini.capabilities_source == "catalog" and mini.capabilities["vision"] is True
    gpt5 = ProviderModel.objects.get(model_id="gpt-5")
    assert gpt5.capabilities_source == "declared" and gpt5.capabilities["thinking"] == "adaptive"
    gemma = ProviderModel.objects.get(model_id="gemma:2b")
    assert (gemma.status, gemma.is_enabled) == ("invalid", False)
    assert ProviderModel.objects.get(model_id="o4-mini").alias == ""


def test_example_file_imports_over_the_demo_data(keys):
    """`make run` seeds the demo; importing the shipped example next must work (no alias clash)."""
    run("seed_demo")
    run("import_providers", str(EXAMPLE))
    assert ProviderModel.objects.get(is_default=True).qualified_id == "openai/gpt-4o-mini"
    assert ProviderModel.objects.get(alias="opus").qualified_id == "anthropic/claude-opus-4-6"


def test_import_is_idempotent(keys, tmp_path):
    run("import_providers", str(EXAMPLE))
    before = state()
    out, _ = run("import_providers", str(EXAMPLE))
    assert "0 provider(s) and 0 model(s) were created, 0 provider(s) and 0 model(s) were changed" in out
    assert state() == before


def test_dry_run_prints_the_changes_and_writes_nothing(keys, tmp_path):
    make_provider(slug="openai", name="OpenAI", kind="openai", base_url="https://old.example.com/v1")
    before = state()
    out, _ = run("import_providers", str(EXAMPLE), "--dry-run")
    assert "Dry run: nothing was written." in out
    assert "+ provider anthropic" in out
    assert "~ provider openai: base_url: 'https://old.example.com/v1' -> 'https://api.openai.com/v1'" in out
    assert "api_key (changed)" in out and KEYS["OPENAI_API_KEY"] not in out
    assert "+ model ollama/qwen2.5:7b" in out
    assert "~ default model: none -> openai/gpt-4o-mini" in out
    assert state() == before


def test_export_then_import_gives_the_same_state(keys, tmp_path):
    run("import_providers", str(EXAMPLE))
    # Make the state awkward: everything the short forms cannot say.
    provider = Provider.objects.get(slug="groq")
    provider_services.provider_update(
        provider=provider, timeout_seconds=12.5, max_retries=0, extra_headers={"X-Team": "ml"}, organization="org-1"
    )
    model = ProviderModel.objects.get(model_id="llama-3.1-8b-instant")
    provider_services.model_update(
        model=model, name="Llama 8B", sort_order=3, input_price_per_mtok="0.0500", output_price_per_mtok="0.08"
    )
    ProviderModel.objects.filter(model_id="gpt-4.1").update(is_listed_upstream=False, status_detail="gone")
    make_model(Provider.objects.get(slug="ollama"), model_id="house-model", name="", capabilities={})
    before = state()
    path = tmp_path / "export.yaml"
    run("export_providers", str(path))
    document = yaml.safe_load(path.read_text())
    assert document["default_model"] == "openai/gpt-4o-mini"
    assert "gpt-4o-mini" in document["providers"]["openai"]["valid_models"]  # plain models stay short
    assert document["providers"]["ollama"]["invalid_models"] == ["gemma:2b"]

    Provider.objects.all().delete()
    run("import_providers", str(path))
    after = state()
    for slug in after["providers"]:
        after["providers"][slug]["api_key"] = before["providers"][slug]["api_key"]  # keys were not exported
    assert after == before
    # And importing the export over the same state changes nothing.
    out, _ = run("import_providers", str(path))
    assert "0 provider(s) and 0 model(s) were created, 0 provider(s) and 0 model(s) were changed" in out


def test_export_writes_keys_only_when_asked(keys, tmp_path):
    run("import_providers", str(EXAMPLE))
    out, _ = run("export_providers")
    assert "api_key" not in out
    for value in KEYS.values():
        assert value not in out
    path = tmp_path / "with-keys.yaml"
    path.write_text("old")
    path.chmod(0o644)
    run("export_providers", str(path), "--include-keys")
    text = path.read_text()
    assert KEYS["OPENAI_API_KEY"] in text
    assert path.stat().st_mode & 0o777 == 0o600
    Provider.objects.all().delete()
    run("import_providers", str(path))
    assert reveal(Provider.objects.get(slug="anthropic").api_key) == KEYS["ANTHROPIC_API_KEY"]


def test_older_files_without_invalid_models_import_unchanged(tmp_path):
    older = "providers:\n  openai:\n    name: OpenAI\n    api_key: sk-literal-key-0000\n"
    older += "    valid_models:\n      gpt-4o: 4o\n"
    run("import_providers", write(tmp_path, older))
    model = ProviderModel.objects.get()
    assert (model.qualified_id, model.alias, model.status) == ("openai/gpt-4o", "4o", "valid")
    assert reveal(Provider.objects.get().api_key) == "sk-literal-key-0000"


def test_long_form_updates_only_the_fields_it_names(tmp_path):
    provider = make_provider(slug="local", name="Local", kind="openai_compatible", base_url="http://127.0.0.1:1/v1")
    make_model(provider, model_id="m1", name="Keep me", alias="m-one", sort_order=4)
    run(
        "import_providers",
        write(tmp_path, "providers:\n  local:\n    models:\n      - {model_id: m1, is_enabled: false}\n"),
    )
    model = ProviderModel.objects.get(model_id="m1")
    assert (model.name, model.alias, model.sort_order, model.is_enabled) == ("Keep me", "m-one", 4, False)


def test_missing_env_reference_can_be_allowed(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_KEY", raising=False)
    path = write(tmp_path, "providers:\n  groq:\n    api_key: ${NOT_SET_KEY}\n    valid_models: {llama3-8b-8192: }\n")
    out, err = run("import_providers", path, "--allow-missing-keys")
    assert "NOT_SET_KEY is not set" in err
    assert Provider.objects.get(slug="groq").api_key == ""


# --- bad input: a clear message, non-zero exit, nothing written ------------------------------------------


BAD_FILES = [
    ("providers:\n  openai:\n    name: [OpenAI\n", r"line 4, column 1: .*"),
    ("providers:\n  openai:\n    name: OpenAI\n  openai:\n    name: Again\n", r"line 4.*duplicate key 'openai'"),
    ("providers: {}\nmodels: []\n", r"top level: unknown key\(s\) models"),
    ("providers:\n  openai:\n    base_uri: https://x\n", r"providers.openai: unknown key\(s\) base_uri"),
    (
        "providers:\n  openai:\n    models:\n      - {model_id: a, aliases: [x]}\n",
        r"providers.openai.models\[0\]: unknown key\(s\) aliases",
    ),
    ("providers:\n  openai:\n    timeout_seconds: soon\n", r"providers.openai.timeout_seconds: must be a number"),
    ("providers:\n  openai:\n    valid_models: gpt-4o\n", r"valid_models: must be a mapping"),
    (
        "providers:\n  openai:\n    models:\n      - {model_id: a, is_enabled: 'yes'}\n",
        r"models\[0\]\(a\).is_enabled: must be true or false",
    ),
    ("providers:\n  openai:\n    kind: openia\n", r"providers.openai.kind: must be one of"),
    ("providers:\n  Open AI:\n    name: x\n", r"providers.Open AI: a slug is lowercase"),
    (
        "providers:\n  a:\n    valid_models: {m1: same}\n  b:\n    valid_models: {m2: same}\n",
        r"alias 'same' is also given to a/m1",
    ),
    ("providers:\n  a:\n    valid_models: {m1: x}\ndefault_model: a/m2\n", r"default_model: 'a/m2' names no model"),
    ("providers:\n  a:\n    invalid_models: [m1]\ndefault_model: a/m1\n", r"a/m1 is disabled"),
    ("providers:\n  a:\n    api_key: ${UNSET_FOR_TEST}\n", r"environment variable UNSET_FOR_TEST is not set"),
    ("providers:\n  a:\n    api_key: Bearer ${X}\n", r"must be the whole value"),
    ("providers:\n  a:\n    base_api_url: not a url\n", r"providers.a.base_url: Enter a valid URL"),
    ("providers:\n  a:\n    valid_models: {m1: 'bad alias!'}\n", r"alias: Aliases are letters"),
    ("providers:\n  a:\n    valid_models: {m1: }\n    invalid_models: [m1]\n", r"'m1' is listed twice"),
    ("a: !!python/object/apply:os.system ['true']\n", r"line 1, column 4: the tag .*python/object/apply.* not allowed"),
    ("- just\n- a list\n", r"must hold a mapping"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_files_are_refused_with_a_clear_message_and_change_nothing(text, message, tmp_path, monkeypatch):
    monkeypatch.delenv("UNSET_FOR_TEST", raising=False)
    make_model(make_provider(slug="keep", name="Keep"), model_id="keep-model", alias="kept")
    before = state()
    with pytest.raises(CommandError, match=message) as error:
        run("import_providers", write(tmp_path, text))
    assert "\n" not in str(error.value)  # one line
    assert state() == before


def test_alias_already_used_in_the_database_is_refused(tmp_path):
    make_model(make_provider(slug="other", name="Other"), model_id="x", alias="taken")
    before = state()
    with pytest.raises(CommandError, match=r"alias 'taken' of a/m1 is already used by other/x"):
        run("import_providers", write(tmp_path, "providers:\n  a:\n    valid_models: {m1: taken}\n"))
    assert state() == before


def test_alias_bomb_is_refused(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    with pytest.raises(CommandError, match="expands to more than"):
        run("import_providers", write(tmp_path, "\n".join(lines) + "\n"))


def test_deep_nesting_is_refused_before_parsing_recursively(tmp_path):
    with pytest.raises(CommandError, match="nested more than 64 levels deep"):
        run("import_providers", write(tmp_path, "providers: " + "[" * 100_000))


def test_oversized_file_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("providers: {}\n" + "#" * (5 * 1024 * 1024 + 10) + "\n")
    with pytest.raises(CommandError, match="more than the 5242880 accepted"):
        run("import_providers", str(path))


def test_unreadable_file_is_one_clear_line(tmp_path):
    with pytest.raises(CommandError, match=r"missing.yaml: cannot read the file"):
        run("import_providers", str(tmp_path / "missing.yaml"))


def test_a_failure_while_writing_rolls_everything_back(tmp_path):
    """The name of a new provider clashes with a provider the file does not mention: nothing is written."""
    make_provider(slug="existing", name="OpenAI")
    before = state()
    text = "providers:\n  aaa:\n    valid_models: {m1: }\n  openai:\n    valid_models: {m2: }\n"
    with pytest.raises(CommandError, match="'OpenAI' is already the name of provider existing"):
        run("import_providers", write(tmp_path, text))
    assert state() == before


def test_importing_1000_models_is_a_bounded_number_of_queries(tmp_path, django_assert_max_num_queries, capsys):
    body = "\n".join(f"      model-{i:04d}: alias-{i:04d}" for i in range(1000))
    path = write(tmp_path, f"providers:\n  bulk:\n    base_api_url: http://127.0.0.1:9/v1\n    valid_models:\n{body}\n")
    started = time.perf_counter()
    with django_assert_max_num_queries(40):
        out, _ = run("import_providers", path)
    elapsed = time.perf_counter() - started
    assert "1 provider(s) and 1000 model(s) were created" in out
    assert ProviderModel.objects.filter(provider__slug="bulk", status="valid").count() == 1000
    with capsys.disabled():
        print(f"\n[measure] import of a 1000-model YAML: {elapsed * 1000:.0f} ms")
    # Re-importing the same file is as cheap and changes nothing.
    with django_assert_max_num_queries(20):
        out, _ = run("import_providers", path)
    assert "1000 model(s) unchanged" in out
