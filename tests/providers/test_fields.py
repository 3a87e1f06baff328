"""Secrets at rest: `EncryptedTextField` and the MultiFernet helpers of `providers.crypto`."""

from __future__ import annotations

import json

import pytest
from django.core import serializers
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers import crypto
from providers.fields import EncryptedSecret, reveal
from providers.models import Provider
from providers.snapshot import get_snapshot
from tests.factories import make_provider

pytestmark = pytest.mark.django_db

SECRET = "sk-proj-very-secret-key-0123456789-ABCD"
TEST_KEY = "bW9kZWxkZXNrLXRlc3Qta2V5LTAwMDAwMDAwMDAwMDA="  # tests/settings.py
NEW_KEY = "lqzC9KuXEJXChQNWDOKWmAU_YIKL4H4pIDzXFXfm5Gs="
OTHER_KEY = "UlqTlsS3kBNYD-sdNxiGCOaiExaU3O8uuTDBVk5Cvps="


def raw_column(provider_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM providers_provider WHERE id = %s", [provider_id])
        return cursor.fetchone()[0]


def test_raw_column_holds_only_ciphertext():
    with CaptureQueriesContext(connection) as queries:
        provider = make_provider(api_key=SECRET)

    raw = raw_column(provider.pk)
    assert raw.startswith("fernet:")
    assert SECRET not in raw and SECRET[-8:] not in raw
    assert all(SECRET not in str(q["sql"]) for q in queries.captured_queries)  # not even in the INSERT
    assert crypto.decrypt(raw) == SECRET


def test_loaded_and_saved_values_are_ciphertext_until_revealed():
    created = make_provider(api_key=SECRET)
    # After save, the instance no longer holds the plaintext either.
    assert isinstance(created.api_key, EncryptedSecret)
    assert SECRET not in created.api_key

    loaded = Provider.objects.get(pk=created.pk)
    assert isinstance(loaded.api_key, EncryptedSecret)
    assert str(loaded.api_key) == raw_column(created.pk)
    assert repr(loaded.api_key) == "<EncryptedSecret>"
    assert loaded.api_key.reveal() == SECRET == reveal(loaded.api_key)
    assert (loaded.has_api_key, loaded.api_key_hint) == (True, "ABCD")


def test_saving_an_untouched_row_keeps_the_same_ciphertext():
    provider = Provider.objects.get(pk=make_provider(api_key=SECRET).pk)
    before = raw_column(provider.pk)
    provider.name = "Renamed"
    provider.save()
    assert raw_column(provider.pk) == before  # not encrypted twice


def test_empty_key_is_stored_empty():
    provider = make_provider(api_key="", kind="echo")
    assert raw_column(provider.pk) == ""
    assert Provider.objects.get(pk=provider.pk).has_api_key is False
    assert reveal("") == ""


def test_serialization_writes_ciphertext():
    provider = make_provider(api_key=SECRET)
    dumped = serializers.serialize("json", Provider.objects.filter(pk=provider.pk))
    assert SECRET not in dumped
    assert json.loads(dumped)[0]["fields"]["api_key"] == raw_column(provider.pk)


def test_wrong_encryption_key_is_a_clear_error_and_an_inactive_provider(settings):
    provider = make_provider(api_key=SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [OTHER_KEY]

    loaded = Provider.objects.get(pk=provider.pk)  # loading never fails
    with pytest.raises(crypto.DecryptionError, match="cannot be decrypted with FIELD_ENCRYPTION_KEYS"):
        loaded.api_key.reveal()
    assert loaded.api_key.can_decrypt is False
    assert loaded.api_key_hint == ""
    assert loaded.inactive_reason == "key cannot be decrypted"
    info = get_snapshot().providers[provider.pk]
    assert (info.is_active, info.inactive_reason) == (False, "key cannot be decrypted")


def test_a_value_that_is_not_our_ciphertext_is_refused_not_returned():
    provider = make_provider(api_key=SECRET)
    with connection.cursor() as cursor:  # e.g. a plaintext key written by hand with SQL
        cursor.execute("UPDATE providers_provider SET api_key = %s WHERE id = %s", ["sk-plain-in-db", provider.pk])
    loaded = Provider.objects.get(pk=provider.pk)
    with pytest.raises(crypto.DecryptionError):
        loaded.api_key.reveal()
    assert loaded.inactive_reason == "key cannot be decrypted"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("fernet:not-a-token")


def test_malformed_or_missing_encryption_keys_are_improperly_configured(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        crypto.encrypt(SECRET)
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is empty"):
        crypto.encrypt(SECRET)


def test_rotation_first_key_encrypts_every_key_decrypts(settings):
    provider = make_provider(api_key=SECRET)
    old_token = raw_column(provider.pk)

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, TEST_KEY]
    assert crypto.decrypt(old_token) == SECRET  # the old key still decrypts
    new_token = crypto.rotate(old_token)
    assert new_token != old_token and new_token.startswith("fernet:")
    assert crypto.encrypt("x") != crypto.encrypt("x")  # fresh IV each time

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # the old key removed after rotation
    assert crypto.decrypt(new_token) == SECRET
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(old_token)
    assert crypto.rotate("") == ""
    with pytest.raises(crypto.DecryptionError):
        crypto.rotate("sk-plain")
