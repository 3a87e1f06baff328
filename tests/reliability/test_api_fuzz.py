"""Schemathesis over /api/schema/: every operation, with a staff (admin-scope) key and with a read-only key.

No 5xx, no accepted invalid input (negative cases must be refused), no ignored
auth (schemathesis probes each operation without a key and with a wrong one),
statuses and bodies as the schema documents them. The read-only key may read
but every write answers 403 and changes nothing. Bounded and deterministic:
a few derandomized examples per operation and mode, no shrinking.

Schemathesis's pytest integration (`from_fixture(...).parametrize()`) does not
run under pytest 9 (it reads `Function._nodeid`, gone), so the operations are
driven with `operation.as_strategy()` and Hypothesis's `@given` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
)

from configsite.wsgi import application
from tests import factories
from tests.models_registry.conftest import table_state

pytestmark = pytest.mark.django_db

#: Examples per operation and generation mode: 19 operations x 2 modes x 4 stay within seconds.
MAX_EXAMPLES = 4
FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
#: Operations that call the provider's upstream: pointed at a provider the fake upstream serves.
UPSTREAM_CALLING = ("/test/", "/discover/")
CHECKS = [not_a_server_error, negative_data_rejection, ignored_auth, response_schema_conformance]


def _routes(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def assert_documented_status(case: Any, response: Any) -> None:
    """The status is one the operation documents; 404 on `{id}` routes too (drf-spectacular leaves it out)."""
    documented = {int(code) for code in case.operation.responses.status_codes if code.isdigit()}
    if "{" in case.path:
        documented.add(404)
    assert response.status_code in documented, (case.method, case.formatted_path, response.status_code, documented)


@pytest.fixture
def keys(db: None, fake_upstream: Any) -> dict[str, Any]:
    """Raw keys (`admin`, `read`) and rows for the generated path parameters to find."""
    served = factories.make_provider(
        name="Fuzz", slug="fuzz", kind="openai", base_url=f"{fake_upstream.url}/v1", timeout_seconds=2, max_retries=0
    )
    factories.make_model(served, model_id="gpt-4o-mini")
    factories.make_model(factories.make_provider(), model_id="m-1")
    _, admin = factories.make_api_key(scopes=("admin",))
    _, read = factories.make_api_key(scopes=("read",))
    return {"admin": admin, "read": read, "served": served}


@pytest.fixture
def api_schema(keys: dict[str, Any]) -> Iterator[Any]:
    """The schema as /api/schema/ serves it, bound to the WSGI application (requests run in-process).

    The application's request signals would close the test's database connection after each
    request; django.test.Client disconnects them for the same reason.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/schema/",
            application,
            headers={"Authorization": f"Bearer {keys['admin']}", "Accept": "application/vnd.oai.openapi+json"},
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _aim_at_the_fake_upstream(case: Any, keys: dict[str, Any]) -> None:
    """A generated id may name a provider a fuzzed POST created, whose base_url leads nowhere."""
    if case.path.endswith(UPSTREAM_CALLING) and str(case.path_parameters.get("id", "")).isdigit():
        case.path_parameters["id"] = keys["served"].pk


def fuzz(schema: Any, check: Callable[[Any], None], examples: int = MAX_EXAMPLES) -> tuple[list[str], int]:
    """Run `check` on generated cases of every operation, positive and negative; the failures, and the count."""
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(FUZZ, max_examples=examples)
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                check(case)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # every operation runs; failures are reported together
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    return failures, len(operations)


def test_every_operation_with_an_admin_key(api_schema, keys):
    def check(case: Any) -> None:
        _aim_at_the_fake_upstream(case, keys)
        auth = {"Authorization": f"Bearer {keys['admin']}"}
        response = case.call(headers=auth)
        case.validate_response(response, checks=CHECKS, headers=auth)
        assert_documented_status(case, response)

    failures, operations = fuzz(api_schema, check)
    assert operations >= 18
    assert not failures, "\n\n".join(failures)


def test_every_operation_with_a_read_only_key(api_schema, keys):
    before = table_state()

    def check(case: Any) -> None:
        _aim_at_the_fake_upstream(case, keys)
        auth = {"Authorization": f"Bearer {keys['read']}"}
        response = case.call(headers=auth)
        if case.method.upper() in ("GET", "HEAD", "OPTIONS"):
            case.validate_response(response, checks=CHECKS, headers=auth)
            assert_documented_status(case, response)
        else:
            if not _routes(case.formatted_path):
                assert response.status_code == 404  # e.g. /models/0.7/: no view, nothing to authorize
                return
            # The scope is checked before the body or the id: refused whatever was sent.
            assert response.status_code == 403, (case.method, case.formatted_path, response.status_code)
            assert "admin" in response.json()["detail"]

    failures, _ = fuzz(api_schema, check, examples=2)  # the scope is checked first: few examples tell
    assert not failures, "\n\n".join(failures)
    assert table_state() == before
