"""chat/admin.py: the request log is read-only in the admin, with its filters."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.models import RequestLog
from tests import factories


@pytest.fixture
def rows(db):
    common = {"latency_ms": 12.5, "prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    return [
        RequestLog.objects.create(model_name="echo/echo", provider_slug="echo", status_code=200, **common),
        RequestLog.objects.create(
            model_name="openai/gpt-4o", provider_slug="openai", status_code=429, error_category="rate_limit", **common
        ),
    ]


def test_changelist_and_filters(admin_client, rows):
    url = reverse("admin:chat_requestlog_changelist")

    def shown(**query):
        response = admin_client.get(url, query)
        assert response.status_code == 200
        return sorted(row.model_name for row in response.context["cl"].result_list)

    assert shown() == ["echo/echo", "openai/gpt-4o"]
    assert shown(outcome="error") == ["openai/gpt-4o"]
    assert shown(outcome="ok") == ["echo/echo"]
    assert shown(provider_slug="echo") == ["echo/echo"]
    assert shown(status_code="429") == ["openai/gpt-4o"]
    assert shown(error_category="rate_limit") == ["openai/gpt-4o"]


def test_rows_cannot_be_added_or_changed(admin_client, rows):
    assert admin_client.get(reverse("admin:chat_requestlog_add")).status_code == 403
    change = reverse("admin:chat_requestlog_change", args=[rows[0].pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    admin_client.post(change, {"status_code": 500})
    rows[0].refresh_from_db()
    assert rows[0].status_code == 200


def test_only_superusers_delete(client, rows):
    from django.contrib.auth.models import Permission

    staff = factories.make_user(staff=False)
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_requestlog", "delete_requestlog"]))
    client.force_login(staff)
    delete = reverse("admin:chat_requestlog_delete", args=[rows[0].pk])
    assert client.get(reverse("admin:chat_requestlog_changelist")).status_code == 200
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert RequestLog.objects.count() == 2
