"""Planted provider keys at rest: no table holds them in clear, nor `dumpdata`, nor the YAML export;
a wrong FIELD_ENCRYPTION_KEYS stops calls upstream with the reason; rotation A → B, then A removed, works.

Everything after a real chat request through both adapters (so the request log
has rows), with content logging on (the place where a careless copy would land).
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import openai
import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from chat import request_log
from providers import snapshot
from tests import factories
from tests.reliability.conftest import ANTHROPIC_SECRET, OPENAI_SECRET, ciphertexts, leaked

pytestmark = pytest.mark.django_db(transaction=True)

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def used(openai_client, planted, settings) -> dict[str, Any]:
    """The planted providers after one chat request each (content logged), as a live install would be."""
    settings.LOG_CHAT_CONTENT = True
    for model in planted.values():
        assert openai_client.chat.completions.create(model=model.qualified_id, messages=HI).choices
    request_log.flush()
    return planted


def _every_row_as_text() -> str:
    """Every row of every table, read with raw SQL (what a database dump or a stolen backup shows)."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608  (table names from introspection)
            chunks.append(f"{table}: {cursor.fetchall()!r}")
    return "\n".join(chunks)


def test_no_table_holds_a_key_in_clear(used):
    rows = _every_row_as_text()
    assert "requestlog" in rows.lower() and "Hello from" in rows  # the scan did read the log with its content
    assert not leaked(rows)
    tokens = ciphertexts()
    assert len(tokens) == 2 and all(token.startswith("fernet:") for token in tokens)


def test_dumpdata_holds_ciphertext_only(used):
    out = StringIO()
    call_command("dumpdata", stdout=out)
    assert not leaked(out.getvalue())
    assert all(token in out.getvalue() for token in ciphertexts())  # the backup restores the keys (encrypted)


def test_the_yaml_export_holds_no_key_unless_asked(used):
    out = StringIO()
    call_command("export_providers", "-", stdout=out)
    assert "planted-openai" in out.getvalue()
    assert not leaked(out.getvalue(), *ciphertexts())
    asked = StringIO()
    call_command("export_providers", "-", "--include-keys", stdout=asked)
    assert OPENAI_SECRET in asked.getvalue()  # the control: the export does see the keys


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_a_wrong_encryption_key_stops_the_call_and_says_why(openai_client, planted, fake_upstream, settings, vendor):
    model = planted[vendor]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    snapshot.invalidate()
    with pytest.raises(openai.AuthenticationError) as caught:
        openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
    assert "key cannot be decrypted" in caught.value.body["message"]
    assert fake_upstream.hit_count() == 0
    assert not leaked(caught.value.response.text, *ciphertexts())
    # Staff see the reason on the provider.
    _, raw = factories.make_api_key(scopes=("admin",))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    listed = {p["slug"]: p for p in api.get("/api/config/providers/").json()["results"]}
    assert listed[model.provider.slug]["inactive_reason"] == "key cannot be decrypted"


def test_rotation_from_a_to_b_then_a_removed(openai_client, planted, fake_upstream, settings):
    key_a = list(django_settings.FIELD_ENCRYPTION_KEYS)
    key_b = Fernet.generate_key().decode()
    before = ciphertexts()
    settings.FIELD_ENCRYPTION_KEYS = [key_b, *key_a]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "Re-encrypted 2 secret(s)" in out.getvalue()
    assert not leaked(out.getvalue())
    assert set(ciphertexts()).isdisjoint(before)

    settings.FIELD_ENCRYPTION_KEYS = [key_b]  # A removed
    snapshot.invalidate()
    for vendor, secret in (("openai", OPENAI_SECRET), ("anthropic", ANTHROPIC_SECRET)):
        answer = openai_client.chat.completions.create(model=planted[vendor].qualified_id, messages=HI)
        assert answer.choices[0].message.content
        sent = fake_upstream.last_request.headers
        assert secret in (sent.get("authorization", "").removeprefix("Bearer "), sent.get("x-api-key"))

    settings.FIELD_ENCRYPTION_KEYS = key_a  # and A alone no longer opens them
    snapshot.invalidate()
    with pytest.raises(openai.AuthenticationError):
        openai_client.chat.completions.create(model=planted["openai"].qualified_id, messages=HI)
