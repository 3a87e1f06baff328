"""The management commands of SPEC §9 owned by models_registry, through call_command and a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from providers import crypto
from providers import services as provider_services
from providers.fields import reveal
from providers.models import Provider, ProviderModel
from tests.factories import make_model, make_provider
from tests.models_registry.upstreams import OPENAI_KEY, closed_port_url, models_state, openai_provider

ROOT = Path(__file__).resolve().parents[2]


def run(*args: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args: Any) -> tuple[str, str, str]:
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as error:
        call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), str(error.value)


@pytest.fixture
def catalog_state(db):
    """Two providers: one active with a default, an alias and a disabled model; one without a key."""
    openai = make_provider(slug="openai", name="OpenAI", kind="openai", api_key="sk-stored-key-000001")
    default = make_model(openai, model_id="gpt-4o-mini", alias="4o-mini")
    make_model(openai, model_id="gpt-4o", alias="4o")
    make_model(openai, model_id="gpt-3.5-turbo", is_enabled=False)
    provider_services.set_default_model(model=default)
    keyless = make_provider(slug="anthropic", name="Anthropic", kind="anthropic", api_key="")
    make_model(keyless, model_id="claude-sonnet-4-5")
    return openai


# --- list_models / set_default_model ---------------------------------------------------------------------


def test_list_models_marks_the_default_and_hides_what_cannot_be_served(catalog_state, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    out, _ = run("list_models")
    lines = out.splitlines()
    assert lines[0].split() == ["*", "openai/gpt-4o-mini", "4o-mini", "unknown"]
    assert any(line.split() == ["openai/gpt-4o", "4o", "unknown"] for line in lines)
    assert "gpt-3.5-turbo" not in out and "anthropic" not in out
    out, _ = run("list_models", "--all")
    assert "openai/gpt-3.5-turbo" in out and "(disabled)" in out
    assert "anthropic/claude-sonnet-4-5" in out and "provider inactive: no API key" in out
    assert "sk-stored-key" not in out


def test_list_models_json_is_one_document(catalog_state):
    out, err = run("list_models", "--json")
    document = json.loads(out)
    assert document["default_model"] == "openai/gpt-4o-mini"
    by_id = {m["qualified_id"]: m for m in document["models"]}
    assert set(by_id) == {"openai/gpt-4o", "openai/gpt-4o-mini"}
    assert by_id["openai/gpt-4o-mini"]["is_default"] is True and by_id["openai/gpt-4o-mini"]["alias"] == "4o-mini"
    assert err == ""
    everything = json.loads(run("list_models", "--all", "--json")[0])
    assert len(everything["models"]) == 4


def test_set_default_model_by_model_string(catalog_state):
    out, _ = run("set_default_model", "4o")
    assert out.strip() == "Default model: openai/gpt-4o"
    assert ProviderModel.objects.get(is_default=True).model_id == "gpt-4o"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("gpt-5", "Invalid model: gpt-5"),
        ("openai/nope", "Invalid model for provider openai: nope"),
        ("gpt-3.5-turbo", "Invalid model: gpt-3.5-turbo"),  # disabled: not servable
    ],
)
def test_set_default_model_refuses_what_it_cannot_find(catalog_state, model, message):
    _, _, error = run_failing("set_default_model", model)
    assert error == message
    assert ProviderModel.objects.get(is_default=True).model_id == "gpt-4o-mini"


# --- rotate_encryption_key -------------------------------------------------------------------------------


def test_rotation_re_encrypts_every_secret_and_the_old_key_can_go(db, settings):
    old = list(django_settings.FIELD_ENCRYPTION_KEYS)
    first = make_provider(slug="one", api_key="sk-first-secret-0001")
    second = make_provider(slug="two", api_key="sk-second-secret-002")
    make_provider(slug="none", api_key="")
    tokens = dict(Provider.objects.values_list("slug", "api_key"))
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, *old]

    out, _ = run("rotate_encryption_key", "--dry-run")
    assert "Would re-encrypt 2 secret(s)" in out and "provider one: api_key" in out
    assert dict(Provider.objects.values_list("slug", "api_key")) == tokens

    out, _ = run("rotate_encryption_key")
    assert "Re-encrypted 2 secret(s)" in out and "sk-first" not in out
    rotated = dict(Provider.objects.values_list("slug", "api_key"))
    assert rotated["one"] != tokens["one"] and rotated["none"] == ""

    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is removed
    first.refresh_from_db()
    second.refresh_from_db()
    assert (reveal(first.api_key), reveal(second.api_key)) == ("sk-first-secret-0001", "sk-second-secret-002")
    assert first.is_active and second.is_active


def test_rotation_stops_at_a_secret_no_key_decrypts_and_writes_nothing(db, settings):
    make_provider(slug="good", api_key="sk-good-secret-00001")
    lost = Fernet(Fernet.generate_key()).encrypt(b"sk-lost-secret").decode()
    make_provider(slug="lost-one")
    Provider.objects.filter(slug="lost-one").update(api_key=crypto.TOKEN_PREFIX + lost)
    tokens = dict(Provider.objects.values_list("slug", "api_key"))
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *django_settings.FIELD_ENCRYPTION_KEYS]
    _, _, error = run_failing("rotate_encryption_key")
    assert error.startswith("provider lost-one: the stored api_key cannot be decrypted")
    assert "Nothing was changed" in error and "sk-lost" not in error
    assert dict(Provider.objects.values_list("slug", "api_key")) == tokens


# --- check_providers ---------------------------------------------------------------------------------------


def test_check_providers_reports_each_provider(fake_upstream, db):
    openai_provider(fake_upstream)
    make_provider(slug="off", name="Off", is_enabled=False)
    out, err = run("check_providers")
    lines = dict((line.split()[1], line) for line in out.splitlines())
    assert lines["openai"].startswith("ok    openai") and lines["openai"].endswith(" ms")
    assert lines["off"].startswith("skip  off") and "inactive: disabled" in lines["off"]
    assert err == ""  # no progress lines when stderr is not a terminal


def test_check_providers_exits_non_zero_when_an_active_provider_fails(fake_upstream, db):
    openai_provider(fake_upstream)
    make_provider(slug="broken", name="Broken", base_url=closed_port_url())
    out, _, error = run_failing("check_providers", "--json")
    document = json.loads(out)
    assert document["ok"] is False
    by_slug = {row["provider"]: row for row in document["providers"]}
    assert by_slug["openai"]["ok"] is True and by_slug["broken"]["ok"] is False
    assert "connect" in by_slug["broken"]["error"].lower()
    assert error == "1 active provider(s) failed: broken"
    assert OPENAI_KEY not in out


def test_check_providers_with_an_unknown_slug(db):
    assert run_failing("check_providers", "--provider", "ghost")[2] == "No provider with slug 'ghost'."


# --- discover_models -----------------------------------------------------------------------------------


def test_discover_models_json_is_one_document(fake_upstream, db):
    openai_provider(fake_upstream)
    out, err = run("discover_models", "--json", "--validate")
    document = json.loads(out)
    assert document["ok"] is True
    (result,) = document["providers"]
    assert (result["provider"], result["invalid"], len(result["added"])) == ("openai", ["gpt-retired"], 4)
    assert err == ""


def test_discover_models_text_dry_run_and_verbose(fake_upstream, db):
    provider = openai_provider(fake_upstream)
    before = models_state(provider)
    out, _ = run("discover_models", "--provider", "openai", "--dry-run", "--verbosity", "2")
    assert out.splitlines()[0].startswith("openai: 4 listed (upstream), 4 would add")
    assert "  + gpt-4o-mini" in out
    assert models_state(provider) == before


def test_discover_models_fails_clearly(fake_upstream, db):
    openai_provider(fake_upstream)
    make_provider(slug="broken", name="Broken", base_url=closed_port_url())
    out, _, error = run_failing("discover_models", "--json")
    document = json.loads(out)
    assert [r["ok"] for r in document["providers"]] == [False, True]  # Broken, OpenAI (by name)
    assert error.startswith("discovery failed for broken: ") and "\n" not in error
    assert ProviderModel.objects.filter(provider__slug="broken").count() == 0
    assert run_failing("discover_models", "--provider", "ghost")[2] == "No provider with slug 'ghost'."
    assert run_failing("discover_models", "--concurrency", "0")[2] == "--concurrency must be at least 1"


def test_discover_models_with_a_non_json_upstream_fails_and_changes_nothing(fake_upstream, db):
    from tests.fake_upstream import behaviour as fb

    provider = openai_provider(fake_upstream)
    make_model(provider, model_id="gpt-4o")
    before = models_state(provider)
    fake_upstream.enqueue(fb.raw("<html>upstream proxy error</html>"), endpoint="models", times=5)
    _, _, error = run_failing("discover_models", "--provider", "openai")
    assert error.startswith("discovery failed for openai: ") and "\n" not in error
    assert models_state(provider) == before


# --- a real process ------------------------------------------------------------------------------------


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_commands_in_a_real_process(fake_upstream, tmp_path):
    """Exit codes, stdout/stderr separation and JSON, as a shell script sees them (own SQLite file)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CACHE_URL": "locmem://",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "FAKE_KEY": "sk-subprocess-key-0001",
    }
    assert manage(env, "migrate", "--noinput", "-v0").returncode == 0
    providers_file = tmp_path / "providers.yaml"
    providers_file.write_text(
        f"providers:\n  fake:\n    kind: openai\n    base_api_url: {fake_upstream.url}/v1\n"
        "    api_key: ${FAKE_KEY}\n    valid_models:\n      gpt-4o-mini: mini\ndefault_model: fake/mini\n"
    )
    done = manage(env, "import_providers", str(providers_file))
    assert done.returncode == 0, done.stderr
    assert "1 provider(s) and 1 model(s) were created" in done.stdout

    done = manage(env, "discover_models", "--json", "--validate")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["providers"][0]
    assert result["invalid"] == ["gpt-retired"] and "gpt-4o" in result["added"]
    assert "sk-subprocess-key" not in done.stdout + done.stderr  # stderr: progress and logs only

    providers_file.write_text("providers:\n  fake:\n    valid_models: {gpt-4o: mini2}\n   bad_indent: 1\n")
    done = manage(env, "import_providers", str(providers_file))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().startswith("CommandError: providers.yaml: line 4, column 4:")
    assert len(done.stderr.strip().splitlines()) == 1
