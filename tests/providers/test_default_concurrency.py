"""Two defaults can never exist: concurrent `set_default_model` calls, watched by an observer.

Real threads with their own database connections, committing for real (transaction=True).
20 switchers need PostgreSQL; SQLite serializes every writer, so a 2-thread variant runs there.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from providers import services
from providers.exceptions import Conflict
from providers.models import ProviderModel
from tests.default_race import DEADLINE_SECONDS, RaceResult, count_defaults, race
from tests.factories import make_model, make_provider


def race_default_switches(threads: int, rounds: int) -> RaceResult:
    """Run `threads` switchers, `rounds` switches each, while an observer counts defaults."""
    provider = make_provider()
    models = [make_model(provider) for _ in range(threads)]
    services.set_default_model(model=models[0])

    def switch(index: int, target: ProviderModel) -> str:
        try:
            assert services.set_default_model(model=target).is_default
        except Conflict:
            return "conflict"  # a clean 409, allowed
        return "ok"

    return race([switch] * threads, models, rounds)


def assert_exactly_one_default_throughout(result: RaceResult) -> None:
    assert not result.stuck, f"threads still waiting after {DEADLINE_SECONDS}s (deadlock?): {result.stuck}"
    assert not result.errors, f"unexpected exceptions: {result.errors!r}"
    assert result.observations, "the observer never looked"
    assert set(result.observations) == {1}, "an observer saw no default or two defaults"
    assert count_defaults() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_switches_keep_exactly_one_default():
    if connection.vendor != "postgresql":
        pytest.skip("20 concurrent writers need PostgreSQL; SQLite serializes writers (see the 2-thread variant)")
    result = race_default_switches(threads=20, rounds=5)
    assert_exactly_one_default_throughout(result)
    assert result.outcomes.count("conflict") < 20 * 5  # the switches mostly succeed: they queue, not fail


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_switches_keep_exactly_one_default():
    result = race_default_switches(threads=2, rounds=10)
    assert_exactly_one_default_throughout(result)


@pytest.mark.django_db(transaction=True)
def test_disabling_while_switching_never_leaves_a_disabled_default():
    """A bulk disable racing a switch: the default is never a disabled model."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL)")
    provider = make_provider()
    models = [make_model(provider) for _ in range(6)]
    services.set_default_model(model=models[0])
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def switch() -> None:
        try:
            start.wait(timeout=DEADLINE_SECONDS)
            for model in models[1:]:
                try:
                    services.set_default_model(model=model)
                except Exception as exc:  # a disabled target is refused with a ValidationError
                    if exc.__class__.__name__ not in {"ValidationError", "Conflict"}:
                        raise
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def disable() -> None:
        try:
            start.wait(timeout=DEADLINE_SECONDS)
            for model in reversed(models[1:]):
                services.models_set_enabled(model_ids=[model.pk], enabled=False)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=switch, daemon=True), threading.Thread(target=disable, daemon=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE_SECONDS)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert not ProviderModel.objects.filter(is_default=True, is_enabled=False).exists()
    assert count_defaults() <= 1
