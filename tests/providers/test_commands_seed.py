"""`seed_demo` and `ensure_admin`, the two commands `make run` runs before serving."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from providers import services
from providers.models import Provider, ProviderModel
from providers.snapshot import get_snapshot
from tests.factories import make_provider

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def rows() -> list[tuple]:
    providers = list(
        Provider.objects.order_by("slug").values_list("slug", "name", "kind", "base_url", "is_enabled", "updated_at")
    )
    models = list(
        ProviderModel.objects.order_by("provider__slug", "model_id").values_list(
            "provider__slug", "model_id", "name", "alias", "is_enabled", "is_default", "capabilities", "updated_at"
        )
    )
    return providers + models


def test_seed_demo_on_a_fresh_install():
    out = run("seed_demo")

    assert "Added 4 demo provider(s) (openai, anthropic, ollama, echo)" in out
    assert "Default model: echo/echo-1" in out
    ollama = Provider.objects.get(slug="ollama")
    assert (ollama.kind, ollama.base_url) == ("openai_compatible", "http://127.0.0.1:11434/v1")
    assert Provider.objects.get(slug="echo").kind == "echo"
    for slug in ("openai", "anthropic", "ollama"):
        assert Provider.objects.get(slug=slug).models.count() >= 2
    sonnet = ProviderModel.objects.get(model_id="claude-sonnet-4-5")
    assert sonnet.capabilities["vision"] is True and sonnet.context_window == 200_000
    assert sonnet.input_price_per_mtok is not None
    assert ProviderModel.objects.get(is_default=True).qualified_id == "echo/echo-1"
    # Works offline: echo and the local Ollama are active without keys, the vendors are not.
    snapshot = get_snapshot()
    assert snapshot.default_model.qualified_id == "echo/echo-1"
    assert {p.slug for p in snapshot.active_providers()} == {"echo", "ollama"}


def test_seed_demo_twice_changes_nothing():
    run("seed_demo")
    before = rows()

    out = run("seed_demo")

    assert "Demo data skipped: the configuration already has 4 provider(s)" in out
    assert rows() == before


def test_seed_demo_never_overwrites_an_operators_edits():
    run("seed_demo")
    openai = Provider.objects.get(slug="openai")
    services.provider_update(provider=openai, name="OpenAI (prod)", base_url="https://proxy.example.com/v1")
    mini = ProviderModel.objects.get(model_id="gpt-4o-mini")
    services.model_update(model=mini, alias="mini", is_enabled=False)
    services.set_default_model(model=ProviderModel.objects.get(model_id="llama3.2"))
    services.provider_delete(provider=Provider.objects.get(slug="anthropic"), force=True)
    before = rows()

    run("seed_demo")
    assert rows() == before

    out = run("seed_demo", "--force")  # brings back only what is missing
    assert "Added 1 demo provider(s) (anthropic)" in out
    after = rows()
    assert [r for r in after if r[0] != "anthropic"] == [r for r in before if r[0] != "anthropic"]
    assert ProviderModel.objects.get(is_default=True).model_id == "llama3.2"
    assert run("seed_demo", "--force") == "Demo data already present: nothing added.\n"


def test_seed_demo_leaves_an_existing_configuration_alone():
    make_provider(slug="openai", name="My OpenAI")
    assert "--force adds the missing demo providers" in run("seed_demo")
    assert Provider.objects.count() == 1

    run("seed_demo", "--force")
    assert Provider.objects.get(slug="openai").name == "My OpenAI"
    assert not Provider.objects.get(slug="openai").models.exists()
    assert ProviderModel.objects.get(is_default=True).qualified_id == "echo/echo-1"


def test_ensure_admin_creates_the_superuser_once_with_a_generated_password(monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    out = run("ensure_admin")

    line = next(line for line in out.splitlines() if "with password:" in line)
    password = line.rsplit(": ", 1)[1]
    assert len(password) >= 12
    assert "shown once" in out
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff and user.check_password(password)

    again = run("ensure_admin")
    assert again == "Superuser 'admin' already exists; password unchanged.\n"
    assert password not in again
    user.refresh_from_db()
    assert user.check_password(password)


def test_ensure_admin_uses_admin_password_and_never_prints_it(monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "chosen-Password-42")
    out = run("ensure_admin")

    assert "chosen-Password-42" not in out
    assert "password from ADMIN_PASSWORD" in out
    assert get_user_model().objects.get(username="admin").check_password("chosen-Password-42")
