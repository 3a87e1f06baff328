"""Key services (access/services.py) and the cached lookup they keep in step (access/selectors.py)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from access import services
from access.keys import hash_key
from access.models import ApiKey
from access.selectors import find_key
from tests.factories import make_api_key, make_user

pytestmark = pytest.mark.django_db


def test_create_returns_the_raw_key_once_and_stores_only_its_hash():
    user = make_user()
    key, raw = services.api_key_create(name="ci", user=user, scopes=["chat", "read", "read"])
    assert key.scopes == ["read", "chat"]  # deduplicated, canonical order
    assert key.key_hash == hash_key(raw)
    assert raw.startswith(f"md_{key.prefix}_")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM access_apikey")
        rows = cursor.fetchall()
    dumped = repr(rows)
    secret = raw.split("_", 2)[2]
    assert raw not in dumped and secret not in dumped
    assert find_key(raw).id == key.id


def test_scopes_accept_a_comma_separated_string():
    key, _ = services.api_key_create(name="cli", user=make_user(), scopes="read, admin")
    assert key.scopes == ["read", "admin"]


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        (["read", "write"], "unknown scope(s): write"),
        ([], "at least one scope"),
        ("", "at least one scope"),
        ([1, 2], "must be a list of scope names"),
        ("superuser", "unknown scope(s): superuser"),
    ],
)
def test_bad_scopes_are_refused_and_nothing_is_written(scopes, message):
    user = make_user()
    with pytest.raises(ValidationError) as info:
        services.api_key_create(name="x", user=user, scopes=scopes)
    assert message in " ".join(info.value.message_dict["scopes"])
    assert not ApiKey.objects.exists()


def test_expiry_must_be_in_the_future():
    with pytest.raises(ValidationError) as info:
        services.api_key_create(
            name="x", user=make_user(), scopes=["read"], expires_at=timezone.now() - timedelta(minutes=1)
        )
    assert "expires_at" in info.value.message_dict
    assert not ApiKey.objects.exists()


def test_name_is_required_and_user_must_be_active():
    with pytest.raises(ValidationError) as info:
        services.api_key_create(name="  ", user=make_user(), scopes=["read"])
    assert "name" in info.value.message_dict
    inactive = make_user()
    inactive.is_active = False
    inactive.save()
    with pytest.raises(ValidationError) as info:
        services.api_key_create(name="x", user=inactive, scopes=["read"])
    assert "user" in info.value.message_dict
    assert not ApiKey.objects.exists()


def test_revocation_takes_effect_at_once_despite_the_cache():
    key, raw = make_api_key()
    assert find_key(raw) is not None  # now cached
    services.api_key_revoke(api_key=key)
    assert find_key(raw) is None
    first = ApiKey.objects.get(pk=key.pk).revoked_at
    services.api_key_revoke(api_key=key)
    assert ApiKey.objects.get(pk=key.pk).revoked_at == first


def test_scope_changes_take_effect_at_once():
    key, raw = make_api_key(scopes=("read",))
    assert not find_key(raw).has_scope("chat")
    services.api_key_update(api_key=key, scopes=["read", "chat"])
    assert find_key(raw).has_scope("chat")
    with pytest.raises(ValidationError):
        services.api_key_update(api_key=key, key_hash="0" * 64)


def test_expired_key_is_refused():
    key, raw = make_api_key(expires_at=timezone.now() + timedelta(hours=1))
    assert find_key(raw) is not None
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    services.api_key_update(api_key=key, name="renamed")  # any change drops the cached row
    assert find_key(raw) is None


def test_deactivating_the_owner_disables_the_key_at_once():
    user = make_user()
    _, raw = make_api_key(user=user)
    assert find_key(raw) is not None
    user.is_active = False
    user.save()  # e.g. in the user admin: access.signals drops the cached lookup
    assert find_key(raw) is None


def test_deleting_a_key_disables_it_at_once():
    key, raw = make_api_key()
    assert find_key(raw) is not None
    key.delete()
    assert find_key(raw) is None


def test_wrong_secret_with_a_real_prefix_is_refused():
    key, raw = make_api_key()
    forged = f"md_{key.prefix}_" + "A" * 43
    assert find_key(forged) is None
    assert find_key(raw) is not None


def test_last_used_is_written_at_most_once_a_minute(django_assert_num_queries):
    key, raw = make_api_key()
    info = find_key(raw)
    with django_assert_num_queries(1):
        services.api_key_record_use(key=info)
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(0):
        services.api_key_record_use(key=info)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
