"""The admin index dashboard (templates/admin/index.html) and the request log summary (chat/admin_summary.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission

from tests import factories
from tests.chat.test_reports import log_row

pytestmark = pytest.mark.django_db

SUMMARY_URL = "/admin/chat/requestlog/summary/"


@pytest.fixture
def staff_client(client):
    client.force_login(factories.make_user(staff=True))
    return client


def test_index_shows_the_dashboard(staff_client, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    echo = factories.make_provider(name="Echo", slug="echo", kind="echo", api_key="")
    factories.make_model(echo, model_id="echo-1", name="Echo One", is_default=True)
    factories.make_provider(name="OpenAI", slug="openai", kind="openai", api_key="")
    log_row("echo/echo-1")
    log_row("echo/echo-1", status_code=502, error_category="upstream_unavailable")

    page = staff_client.get("/admin/").content.decode()

    assert "ModelDesk status" in page
    assert "Echo One" in page and "echo/echo-1" in page
    assert "Inactive: no API key" in page
    assert '<span class="md-big">2</span> requests' in page
    assert "1 error (50 %)" in page
    assert 'href="/chat/"' in page and f'href="{SUMMARY_URL}"' in page
    assert page.index("ModelDesk status") < page.index('id="content-main"')  # above the app list


def test_index_without_default_or_traffic(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert "Requests that name no model fail" in page
    assert '<span class="md-big">0</span> requests' in page
    assert "No provider yet" in page


def test_summary_view(staff_client):
    log_row("openai/gpt-4o-mini", latency_ms=1500.0, prompt_tokens=3, completion_tokens=4)
    log_row("openai/gpt-4o-mini", status_code=429, error_category="rate_limit", latency_ms=500.0)
    log_row("anthropic/claude-haiku-4-5", age=timedelta(days=3))

    page = staff_client.get(SUMMARY_URL).content.decode()
    assert "Request log: summary by model" in page
    assert "openai/gpt-4o-mini" in page
    assert "50.0 %" in page and "1.00 s" in page
    assert "claude-haiku" not in page  # older than the default 24 hours

    week = staff_client.get(SUMMARY_URL, {"period": "7d"}).content.decode()
    assert "anthropic/claude-haiku-4-5" in week
    assert '<strong aria-current="page">Last 7 days</strong>' in week

    # An unknown period falls back to the default one instead of failing.
    assert staff_client.get(SUMMARY_URL, {"period": "nope"}).status_code == 200


def test_changelist_links_to_the_summary(staff_client):
    page = staff_client.get("/admin/chat/requestlog/").content.decode()
    assert f'href="{SUMMARY_URL}"' in page and "Summary by model" in page


def test_summary_needs_the_view_permission(client):
    user = factories.make_user()
    user.is_staff = True  # staff but no permission on the request log
    user.save()
    client.force_login(user)
    assert client.get(SUMMARY_URL).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_requestlog"))
    assert client.get(SUMMARY_URL).status_code == 200


def test_summary_needs_a_staff_login(client):
    response = client.get(SUMMARY_URL)
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
