"""Hostile providers files: refused with one clear line, before any write (not a single INSERT/UPDATE/DELETE).

tests/models_registry/test_yaml_io.py covers the format's errors one by one;
this table is the attacker's view: code-execution tags anywhere, alias bombs
where values are expected, duplicate keys that would pick a winner silently,
two defaults, and a well-formed file that must still not be half-applied.
"""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers.models import Provider, ProviderModel
from tests import factories
from tests.models_registry.conftest import table_state

pytestmark = pytest.mark.django_db

GOOD = "providers:\n  groq:\n    kind: openai_compatible\n    base_api_url: https://api.groq.com/openai/v1\n"


def bomb(under: str) -> str:
    """A billion-laughs document whose expansion lands under `under` (10^9 strings once expanded)."""
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]
    return "\n".join(lines) + f"\n{under}*a9\n"


HOSTILE = [
    ("python-object-apply", "providers: !!python/object/apply:os.system ['touch /tmp/pwned']\n", r"tag"),
    ("python-name-deep", GOOD + "    name: !!python/name:os.system\n", r"tag"),
    ("python-module", GOOD + "    extra_headers: !!python/module:os\n", r"tag"),
    ("python-object-new", "default_model: !!python/object/new:subprocess.Popen [['true']]\n", r"tag"),
    ("custom-tag", GOOD + "    api_key: !vault secret/openai\n", r"tag"),
    ("bomb-top", bomb("providers: "), r"expands to more than"),
    ("bomb-in-valid-models", bomb("providers:\n  groq:\n    valid_models: "), r"expands to more than"),
    ("duplicate-provider", GOOD + "  groq:\n    name: Again\n", r"duplicate key 'groq'"),
    ("duplicate-field", GOOD + "    base_api_url: https://evil.example/v1\n", r"duplicate key 'base_api_url'"),
    (
        "two-defaults-duplicate-key",
        GOOD + "    valid_models: {m1: a, m2: b}\ndefault_model: groq/m1\ndefault_model: groq/m2\n",
        r"duplicate key 'default_model'",
    ),
    ("two-defaults-as-a-list", GOOD + "    valid_models: {m1: a, m2: b}\ndefault_model: [groq/m1, groq/m2]\n",
     r"default_model: must be a model string"),
    (
        "is-default-in-long-form",
        GOOD + "    models:\n      - {model_id: m1, is_default: true}\n      - {model_id: m2, is_default: true}\n",
        r"unknown key\(s\) is_default",
    ),
    ("deep-nesting", "providers: " + "{a: " * 200 + "}" * 200 + "\n", r"nested more than"),
    ("not-yaml-binary", "\x00\x01\x02providers", r"."),
    ("good-then-broken", GOOD + "    valid_models: {m1: a}\n  second:\n    timeout_seconds: soon\n",
     r"timeout_seconds: must be a number"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), [pytest.param(t, m, id=i) for i, t, m in HOSTILE])
def test_hostile_file_is_refused_before_any_write(tmp_path: Path, text: str, message: str):
    provider = factories.make_provider(slug="groq", name="Groq", kind="openai_compatible")
    factories.make_model(provider, model_id="keep", alias="kept", is_default=True)
    before = table_state()
    path = tmp_path / "providers.yaml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with CaptureQueriesContext(connection) as queries, pytest.raises(CommandError) as refused:
        call_command("import_providers", str(path), stdout=StringIO(), stderr=StringIO())
    assert re.search(message, str(refused.value)), str(refused.value)
    assert "\n" not in str(refused.value)  # one clear line
    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert not writes, writes
    assert table_state() == before
    assert ProviderModel.objects.get(is_default=True).model_id == "keep"


def test_the_control_file_imports(tmp_path: Path):
    """The table's base document is valid: its refusals are about what was added."""
    path = tmp_path / "providers.yaml"
    path.write_text(GOOD + "    valid_models: {m1: a, m2: b}\ndefault_model: groq/m2\n")
    call_command("import_providers", str(path), stdout=StringIO(), stderr=StringIO())
    assert Provider.objects.get(slug="groq").base_url == "https://api.groq.com/openai/v1"
    assert ProviderModel.objects.get(is_default=True).qualified_id == "groq/m2"
