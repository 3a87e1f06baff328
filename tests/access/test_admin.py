"""The API key admin (access/admin.py): create shows the key once, lists never show it, revoke works."""

import re

import pytest
from django.urls import reverse

from access.keys import hash_key
from access.models import ApiKey
from access.selectors import find_key
from tests.factories import make_api_key, make_user

pytestmark = pytest.mark.django_db

ADD = reverse("admin:access_apikey_add")
LIST = reverse("admin:access_apikey_changelist")


@pytest.fixture
def staff_client(client):
    client.force_login(make_user("root", staff=True))
    return client


def _raw_key_in(html: str) -> str:
    match = re.search(r'value="(md_[a-f0-9]{8}_[A-Za-z0-9_-]+)"', html)
    assert match, "the new key is shown on the page"
    return match.group(1)


def test_create_shows_the_full_key_once(staff_client):
    owner = make_user("alice")
    response = staff_client.post(ADD, {"name": "laptop", "user": owner.pk, "scopes": ["read", "chat"]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    raw = _raw_key_in(html)
    assert "shown only once" in html
    key = ApiKey.objects.get()
    assert (key.name, key.user, key.scopes) == ("laptop", owner, ["read", "chat"])
    assert key.key_hash == hash_key(raw)
    assert find_key(raw).id == key.pk
    # Nowhere else: not in the list, the change page, or the history.
    for url in (LIST, reverse("admin:access_apikey_change", args=[key.pk])):
        page = staff_client.get(url).content.decode()
        assert raw not in page and raw.split("_", 2)[2] not in page
        assert key.key_hash not in page
        assert f"md_{key.prefix}_" in page
    history = staff_client.get(reverse("admin:access_apikey_history", args=[key.pk])).content.decode()
    assert raw not in history


def test_the_add_form_validates_and_writes_nothing_on_error(staff_client):
    owner = make_user("bob")
    response = staff_client.post(ADD, {"name": "", "user": owner.pk, "scopes": []})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() >= {"name", "scopes"}
    response = staff_client.post(ADD, {"name": "x", "user": owner.pk, "scopes": ["root"]})
    assert "scopes" in response.context["adminform"].form.errors
    response = staff_client.post(
        ADD, {"name": "x", "user": owner.pk, "scopes": ["read"], "expires_at_0": "2000-01-01", "expires_at_1": "00:00"}
    )
    assert "expires_at" in response.context["adminform"].form.errors
    assert not ApiKey.objects.exists()


def test_the_list_shows_prefix_scopes_owner_and_status(staff_client):
    key, raw = make_api_key(user=make_user("carol"), scopes=("read", "admin"), name="deploy")
    html = staff_client.get(LIST).content.decode()
    assert "deploy" in html and "carol" in html and "read, admin" in html and f"md_{key.prefix}_" in html
    assert raw not in html and key.key_hash not in html
    assert staff_client.get(LIST, {"status": "active"}).context["cl"].result_count == 1
    assert staff_client.get(LIST, {"status": "revoked"}).context["cl"].result_count == 0


def test_revoke_action(staff_client):
    key, raw = make_api_key()
    other, other_raw = make_api_key()
    assert find_key(raw) is not None  # cached: the action must drop it
    response = staff_client.post(LIST, {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True)
    assert "1 key revoked." in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert find_key(raw) is None
    assert find_key(other_raw) is not None


def test_editing_scopes_takes_effect_at_once(staff_client):
    key, raw = make_api_key(scopes=("read",))
    assert not find_key(raw).has_scope("chat")
    url = reverse("admin:access_apikey_change", args=[key.pk])
    response = staff_client.post(url, {"name": key.name, "scopes": ["read", "chat"]})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.scopes == ["read", "chat"]
    assert find_key(raw).has_scope("chat")
