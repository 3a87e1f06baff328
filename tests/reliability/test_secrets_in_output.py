"""Planted provider keys never come out: not in any API response, admin page, DEBUG log record,
error body (even when the upstream echoes the key back, as OpenAI's 401 does), or the technical 500 page.

The plaintext must never appear; the ciphertext neither (outside a backup, it has no business in output).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import openai
import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.views.debug import technical_500_response
from rest_framework.test import APIClient

from chat import request_log
from providers import services
from providers.models import Provider
from tests import factories
from tests.fake_upstream import behaviour as fb
from tests.reliability.conftest import ANTHROPIC_SECRET, OPENAI_SECRET, ciphertexts, leaked

pytestmark = pytest.mark.django_db(transaction=True)

HI = [{"role": "user", "content": "hi"}]
#: Loggers that could see a key: the SDKs (they log request options at DEBUG), their HTTP client, ours.
LOGGERS = ["", "openai", "anthropic", "httpx2", "httpcore", "django", "providers", "chat", "models_registry", "access"]


def _echo_the_key(fake_upstream: Any) -> None:
    """The upstream refuses every call and quotes the key it got, as OpenAI's 401 does."""
    fake_upstream.enqueue(fb.error(401, f"Incorrect API key provided: {OPENAI_SECRET} / {ANTHROPIC_SECRET}."),
                          endpoint="any", times=50)  # fmt: skip


def _assert_clean(where: str, content: bytes | str) -> None:
    found = leaked(content, *ciphertexts())
    assert not found, f"{where} shows {found}"


# --- the API: every route ------------------------------------------------------------------------


def _routes() -> list[tuple[str, str]]:
    """(name, regex-ish route) of every URL pattern outside the admin."""
    found: list[tuple[str, str]] = []

    def walk(patterns: list, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if str(entry.pattern) != "admin/":
                    walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                found.append((entry.name, prefix + str(entry.pattern)))

    walk(get_resolver().url_patterns, "")
    return found


def _url(name: str, route: str, provider: Provider, model: Any) -> str:
    if "<path:model>" in route:
        return f"/v1/models/{model.qualified_id}"
    pk = model.pk if name.startswith("providermodel") else provider.pk
    url = "/" + re.sub(r"\(\?P<pk>[^)]*\)", str(pk), route).replace("^", "").replace("$", "")
    return url.replace("//", "/")


def test_no_api_response_shows_a_key(planted, fake_upstream):
    _, raw = factories.make_api_key(scopes=("admin", "read", "chat"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    staff = Client()
    staff.force_login(factories.make_user(staff=True))
    provider, model = planted["openai"].provider, planted["openai"]
    _echo_the_key(fake_upstream)
    visited = set()
    for name, route in _routes():
        if name == "v1-chat-completions":
            continue  # tests/reliability/test_upstream_faults.py and below
        url = _url(name, route, provider, model)
        method = "post" if name in ("provider-test", "provider-discover", "providermodel-set-default") else "get"
        response = getattr(api, method)(url, format="json")
        assert response.status_code < 500, (url, response.status_code)
        _assert_clean(url, response.content)
        if method == "get":
            _assert_clean(f"{url} (staff session, HTML)", staff.get(url, HTTP_ACCEPT="text/html").content)
        visited.add(name)
    assert {"provider-test", "provider-discover", "provider-detail", "v1-model", "schema", "index"} <= visited
    # The echoing upstream was called by test/discover, and its message was scrubbed on the way out.
    assert fake_upstream.hit_count() >= 2
    tested = api.post(f"/api/config/providers/{provider.pk}/test/").json()
    assert tested["ok"] is False and "[redacted]" in tested["error"]


# --- the admin: every page a superuser can open --------------------------------------------------


def test_no_admin_page_shows_a_key(openai_client, planted, fake_upstream):
    assert openai_client.chat.completions.create(model=planted["openai"].qualified_id, messages=HI)
    request_log.flush()
    client = Client()
    client.force_login(factories.make_user("root", staff=True))
    pages = [reverse("admin:index")]
    for model_class in admin.site._registry:
        opts = model_class._meta
        base = f"admin:{opts.app_label}_{opts.model_name}"
        pages += [reverse(f"{base}_changelist"), reverse(f"{base}_changelist") + "?q=sk"]
        pages.append(reverse(f"{base}_add"))  # a 403 for read-only admins (the request log)
        for pk in model_class._default_manager.values_list("pk", flat=True)[:5]:
            pages += [reverse(f"{base}_{view}", args=[pk]) for view in ("change", "history", "delete")]
    pages.append("/chat/")  # the playground
    for page in pages:
        response = client.get(page)
        assert response.status_code in (200, 302, 403), (page, response.status_code)
        _assert_clean(page, response.content)
    assert len(pages) > 20

    # The provider page's buttons and actions, with the upstream quoting the key back.
    _echo_the_key(fake_upstream)
    provider = planted["openai"].provider
    for view in ("test_connection", "discover_models"):
        response = client.post(reverse(f"admin:providers_provider_{view}", args=[provider.pk]), follow=True)
        assert response.status_code == 200
        _assert_clean(view, response.content)
    changelist = reverse("admin:providers_provider_changelist")
    for action in ("test_connection", "discover_provider_models"):
        response = client.post(changelist, {"action": action, "_selected_action": [provider.pk]}, follow=True)
        _assert_clean(action, response.content)
    assert fake_upstream.hit_count() >= 4


# --- logs at DEBUG, errors -------------------------------------------------------------------------


def _record_text(record: logging.LogRecord) -> str:
    return logging.Formatter("%(name)s %(message)s").format(record) + repr(record.args) + repr(record.__dict__)


def test_no_log_record_at_debug_shows_a_key(openai_client, planted, fake_upstream, caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    for model in planted.values():
        openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
        list(openai_client.chat.completions.create(model=model.qualified_id, messages=HI, stream=True))
        fake_upstream.enqueue(fb.error(401, f"Incorrect API key provided: {OPENAI_SECRET} {ANTHROPIC_SECRET}"))
        with pytest.raises(openai.AuthenticationError) as caught:
            openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
        _assert_clean("error body", caught.value.response.text)
        fake_upstream.enqueue(fb.error(500, "boom"), times=5)
        with pytest.raises(openai.InternalServerError):
            openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
    services.provider_update(provider=planted["openai"].provider, api_key=OPENAI_SECRET)  # a key change, logged?
    request_log.flush()
    sdk_records = [r for r in caplog.records if r.name.startswith(("openai", "anthropic", "httpx2"))]
    assert any(r.levelno == logging.DEBUG for r in sdk_records), "the SDKs' DEBUG records were not captured"
    for record in caplog.records:
        _assert_clean(f"log record {record.name}:{record.lineno}", _record_text(record))


# --- the technical 500 page (DEBUG=True) ---------------------------------------------------------


def test_the_debug_error_page_hides_keys_in_locals_and_post(settings):
    """An error raised with the key in scope: the service's `data`, the admin form's POST."""
    settings.DEBUG = True
    request = RequestFactory().post(
        "/admin/providers/provider/add/",
        {"name": "Leaky", "slug": "bad slug!", "kind": "openai", "api_key": OPENAI_SECRET},
    )
    request.user = factories.make_user(staff=True)
    try:
        services.provider_create(name="Leaky", slug="bad slug!", kind="openai", api_key=OPENAI_SECRET)
    except Exception:
        page = technical_500_response(request, *sys.exc_info())
    else:
        pytest.fail("the invalid provider was accepted")
    text = page.content.decode()
    assert "provider_create" in text and "Leaky" in text  # the page does show the frames and the POST
    assert OPENAI_SECRET not in text


def test_the_debug_error_page_survives_odd_locals(settings):
    """The filter walks locals: a structure that contains itself, or a key under an innocent name."""
    settings.DEBUG = True
    loop: dict[str, Any] = {"note": f"Bearer {OPENAI_SECRET}"}
    loop["self"] = loop
    innocent = ["header", ("nested", OPENAI_SECRET)]
    try:
        raise RuntimeError(f"boom with {len(loop)} {len(innocent)}")
    except RuntimeError:
        page = technical_500_response(RequestFactory().get("/"), *sys.exc_info())
    text = page.content.decode()
    assert "boom with 2 2" in text and "innocent" in text
    assert OPENAI_SECRET not in text
