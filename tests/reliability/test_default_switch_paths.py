"""Concurrent default switches through every path a user has: admin action and button, API, YAML import, command.

tests/providers/test_default_concurrency.py races the service itself; this
module races the entry points built on it, which add their own transactions,
error handling and (for the YAML import) writes to other rows before the switch.
Real threads, each with its own database connection, commit for real
(transaction=True) while an observer counts the defaults: exactly one at every
observation, every call succeeds or refuses cleanly (a 409, an admin message,
a one-line CommandError), nothing raises anything else, nothing deadlocks.
20 switchers per path on PostgreSQL; SQLite serializes writers, so 2 there.
"""

from __future__ import annotations

import copy
import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from models_registry.yaml_io import export_document
from providers import services
from providers.models import ProviderModel
from tests import factories
from tests.default_race import DEADLINE_SECONDS, Switch, count_defaults
from tests.default_race import race as shared_race

pytestmark = pytest.mark.django_db(transaction=True)

OK, CONFLICT = "ok", "conflict"


def _threads() -> int:
    return 20 if connection.vendor == "postgresql" else 2


def _refusal(text: str) -> str:
    """A refusal is clean when it says what happened: a concurrent change to retry."""
    if "try again" in text or "in progress" in text or "Conflicting change" in text:
        return CONFLICT
    raise AssertionError(f"unexpected refusal: {text}")


# --- the paths --------------------------------------------------------------------------------


def admin_path(models: list[ProviderModel], threads: int) -> Switch:
    """Odd threads use the changelist action, even ones the change page's "Set as default" button."""
    user = factories.make_user("race-admin", staff=True)
    clients = []
    for _ in range(threads):
        client = Client()
        client.force_login(user)
        clients.append(client)
    changelist = reverse("admin:providers_providermodel_changelist")

    def switch(index: int, target: ProviderModel) -> str:
        client = clients[index]
        if index % 2:
            response = client.post(changelist, {"action": "set_as_default", "_selected_action": [target.pk]})
        else:
            response = client.post(reverse("admin:providers_providermodel_set_default", args=[target.pk]))
        assert response.status_code == 302, response.status_code
        notes = [str(m) for m in get_messages(response.wsgi_request)]
        if any(n.startswith("Default model set") for n in notes):
            return OK
        return _refusal(" ".join(notes))

    return switch


def api_path(models: list[ProviderModel], threads: int) -> Switch:
    clients = []
    for _ in range(threads):
        _, raw = factories.make_api_key(scopes=("admin",))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        clients.append(client)

    def switch(index: int, target: ProviderModel) -> str:
        response = clients[index].post(f"/api/config/models/{target.pk}/set-default/")
        if response.status_code == 200:
            assert response.json()["is_default"] is True
            return OK
        assert response.status_code == 409, (response.status_code, response.content)
        return _refusal(response.json()["detail"])

    return switch


def yaml_path(models: list[ProviderModel], threads: int, tmp_path: Path) -> Switch:
    """Each import also renames a model (row locks taken before the switch), as a real file would."""
    base = export_document()
    slug = models[0].provider.slug

    def switch(index: int, target: ProviderModel) -> str:
        doc = copy.deepcopy(base)
        entry = doc["providers"][slug]
        entry.pop("valid_models", None)
        entry["models"] = [
            {"model_id": m.model_id, "name": f"{m.model_id} renamed by {index} at {time.monotonic_ns()}"}
            for m in models
        ]
        doc["default_model"] = target.qualified_id
        path = tmp_path / f"providers-{index}.yaml"
        path.write_text(yaml.safe_dump(doc))
        try:
            call_command("import_providers", str(path), stdout=io.StringIO())
        except CommandError as exc:
            return _refusal(str(exc))
        return OK

    return switch


def command_path(models: list[ProviderModel], threads: int) -> Switch:
    def switch(index: int, target: ProviderModel) -> str:
        out = io.StringIO()
        try:
            call_command("set_default_model", target.qualified_id, stdout=out)
        except CommandError as exc:
            return _refusal(str(exc))
        assert out.getvalue().startswith(f"Default model: {target.qualified_id}")
        return OK

    return switch


# --- the race ---------------------------------------------------------------------------------


def race(switches: list[Switch], models: list[ProviderModel], rounds: int) -> dict[str, Any]:
    """The shared race (tests/default_race.py), then what every path must show."""
    threads = len(switches)
    result = shared_race(switches, models, rounds, poll=0.002)
    stuck, errors, observations, outcomes = result.stuck, result.errors, result.observations, result.outcomes
    assert not stuck, f"threads still waiting after {DEADLINE_SECONDS}s (deadlock?): {stuck}"
    assert not errors, f"unexpected exceptions: {errors!r}"
    assert observations, "the observer never looked"
    assert set(observations) == {1}, f"an observer saw no default or two defaults: {sorted(set(observations))}"
    assert count_defaults() == 1
    assert len(outcomes) == threads * rounds
    assert outcomes.count(OK) >= 1
    return {"outcomes": outcomes, "observations": len(observations)}


@pytest.fixture
def models() -> list[ProviderModel]:
    provider = factories.make_provider(name="Race", slug="race", kind="openai", api_key="sk-race-0123456789")
    created = [factories.make_model(provider, model_id=f"race-{i}", name=f"Race {i}") for i in range(6)]
    services.set_default_model(model=created[0])
    return created


PATHS = ["admin", "api", "yaml", "command"]


def _build(name: str, models: list[ProviderModel], threads: int, tmp_path: Path) -> Switch:
    if name == "yaml":
        return yaml_path(models, threads, tmp_path)
    return {"admin": admin_path, "api": api_path, "command": command_path}[name](models, threads)


@pytest.mark.parametrize("path", PATHS)
def test_concurrent_switches_through_one_path(models, tmp_path, path):
    threads = _threads()
    switch = _build(path, models, threads, tmp_path)
    race([switch] * threads, models, rounds=3)


def test_concurrent_switches_through_every_path_at_once(models, tmp_path):
    threads = _threads()
    builders = {name: _build(name, models, threads, tmp_path) for name in PATHS}
    switches = [builders[PATHS[i % len(PATHS)]] for i in range(max(threads, len(PATHS)))]
    race(switches, models, rounds=3)


def test_the_provider_page_saving_its_models_while_switches_run(models):
    """The admin's provider page saves the provider, then its inline models (one of them perhaps the
    default, disabled) in one transaction, while other admins switch the default and enable or
    disable models through the API.

    Never two defaults, never a disabled one, every save and switch answered (no deadlock error).
    """
    from tests.providers.test_admin import change_form_data

    provider = models[0].provider
    threads = _threads()
    api = api_path(models, threads)
    user = factories.make_user("page-admin", staff=True)
    page = Client()
    page.force_login(user)
    url = reverse("admin:providers_provider_change", args=[provider.pk])
    start = threading.Barrier(threads + 1)
    errors: list[BaseException] = []
    observations: list[tuple[int, int]] = []

    def save_page() -> None:
        try:
            start.wait(timeout=DEADLINE_SECONDS)
            for step in range(6):
                provider.refresh_from_db()
                off = f"models-{step % len(models)}-is_enabled"
                data = change_form_data(provider, name=f"Race {step}", **{off: None})
                response = page.post(url, data)
                assert response.status_code == 302, response.status_code
                observations.append(
                    (count_defaults(), ProviderModel.objects.filter(is_default=True, is_enabled=False).count())
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    _, raw = factories.make_api_key(scopes=("admin",))

    def switch(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        try:
            start.wait(timeout=DEADLINE_SECONDS)
            for step in range(3):
                target = models[(index + step) % len(models)]
                try:
                    api(index, target)
                except AssertionError as exc:  # a disabled target is a clean 400 here
                    if "400" not in str(exc):
                        raise
                # And a model enabled or disabled through the API (a write that may drop the default).
                toggled = client.patch(f"/api/config/models/{target.pk}/", {"is_enabled": step % 2 == 1}, format="json")
                assert toggled.status_code in (200, 409), (toggled.status_code, toggled.content)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=save_page, daemon=True)]
    workers += [threading.Thread(target=switch, args=(i,), daemon=True) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=DEADLINE_SECONDS)
    assert not [t for t in workers if t.is_alive()], "deadlock?"
    assert not errors, f"unexpected exceptions: {errors!r}"
    assert all(defaults <= 1 and disabled == 0 for defaults, disabled in observations), observations
    assert count_defaults() <= 1
