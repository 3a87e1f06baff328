"""Bearer/Token authentication and scopes over HTTP (access/authentication.py, access/permissions.py)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from access import services
from access.models import ApiKey
from providers.models import Provider
from tests.access.conftest import client_with
from tests.factories import make_api_key, make_provider, make_user

pytestmark = pytest.mark.django_db

CONFIG = "/api/config/providers/"
NEW_PROVIDER = {"name": "Groq", "slug": "groq", "kind": "openai_compatible", "api_key": "gsk-0123456789"}


def test_a_read_key_reads(read_key):
    make_provider(name="OpenAI", slug="openai")
    response = client_with(read_key).get(CONFIG)
    assert response.status_code == 200
    assert [p["slug"] for p in response.json()["results"]] == ["openai"]


def test_the_token_keyword_works_too(read_key):
    assert client_with(read_key, keyword="Token").get(CONFIG).status_code == 200
    assert client_with(read_key, keyword="bearer").get(CONFIG).status_code == 200


def test_no_credentials_is_a_401_with_a_challenge():
    response = client_with(None).get(CONFIG)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


HOSTILE_KEYS = [
    "",
    "not-a-key",
    "md_1234abcd_" + "A" * 43,  # well-formed, unknown
    "md_1234abcd_' OR 1=1 --",
    "' OR '1'='1",
    "md_1234abcd_" + "a" * 30 + "'; DROP TABLE access_apikey; --",
    "x" * 10_240,
    "md_1234abcd_" + "a" * 10_240,
    "md_1234abcd_" + "a" * 20 + "\x00" + "a" * 22,
    "\x00" * 64,
    "sk-proj-" + "a" * 48,
]


@pytest.mark.parametrize("raw", HOSTILE_KEYS, ids=range(len(HOSTILE_KEYS)))
def test_malformed_unknown_or_hostile_keys_are_a_quick_401(raw, read_key):
    started = time.monotonic()
    response = client_with(raw).get(CONFIG)
    elapsed = time.monotonic() - started
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid, revoked or expired API key."}
    assert elapsed < 1.0
    assert ApiKey.objects.count() == 1  # the SQL-laden ones did nothing


def test_a_revoked_key_is_a_401(owner):
    key, raw = make_api_key(user=owner)
    client = client_with(raw)
    assert client.get(CONFIG).status_code == 200
    services.api_key_revoke(api_key=key)
    assert client.get(CONFIG).status_code == 401


def test_an_expired_key_is_a_401(owner):
    key, raw = make_api_key(user=owner, expires_at=timezone.now() + timedelta(days=1))
    assert client_with(raw).get(CONFIG).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    key.refresh_from_db()
    key.save()  # any save drops the cached lookup (as the admin's would)
    assert client_with(raw).get(CONFIG).status_code == 401


def test_a_read_key_cannot_write_even_for_a_staff_owner():
    _, raw = make_api_key(user=make_user(staff=True), scopes=("read", "chat"))
    response = client_with(raw).post(CONFIG, NEW_PROVIDER, format="json")
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]
    assert not Provider.objects.exists()


def test_a_chat_only_key_cannot_read_the_config():
    _, raw = make_api_key(scopes=("chat",))
    assert client_with(raw).get(CONFIG).status_code == 403


def test_an_admin_key_writes(admin_key):
    response = client_with(admin_key).post(CONFIG, NEW_PROVIDER, format="json")
    assert response.status_code == 201
    assert Provider.objects.filter(slug="groq").exists()


def test_a_staff_session_writes_and_gets_the_browsable_api(client):
    client.force_login(make_user(staff=True))
    assert client.post(CONFIG, NEW_PROVIDER, content_type="application/json").status_code == 201
    page = client.get(CONFIG, HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert b"Groq" in page.content and b"gsk-0123456789" not in page.content


def test_session_writes_need_the_csrf_token():
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user(staff=True))
    assert client.post(CONFIG, NEW_PROVIDER, format="json").status_code == 403
    assert not Provider.objects.exists()


def test_a_non_staff_session_reads_but_cannot_write(client):
    client.force_login(make_user())
    assert client.get(CONFIG).status_code == 200
    response = client.post(CONFIG, NEW_PROVIDER, content_type="application/json")
    assert response.status_code == 403
    assert not Provider.objects.exists()


def test_a_warm_key_costs_no_query(read_key, django_assert_num_queries):
    client = client_with(read_key)
    client.get("/api/config/presets/")  # the key lookup and last-used write happen here
    with django_assert_num_queries(0):
        assert client.get("/api/config/presets/").status_code == 200


def test_use_is_recorded(owner):
    key, raw = make_api_key(user=owner)
    assert key.last_used_at is None
    client_with(raw).get(CONFIG)
    key.refresh_from_db()
    assert key.last_used_at is not None
