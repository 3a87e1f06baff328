"""Every way a /v1/chat/completions request fails, as the official `openai` SDK sees it.

Upstream errors (scripted on the fake upstream) map to SPEC §6's categories and
statuses, and the SDK raises the matching exception class; our own refusals
(key, scope, model, body) answer OpenAI's error body, and send nothing upstream.
"""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from django.test import Client

from chat import request_log
from chat.models import RequestLog
from providers import services, snapshot
from tests import factories
from tests.fake_upstream import behaviour as fb

pytestmark = pytest.mark.django_db(transaction=True)

HI = [{"role": "user", "content": "hi"}]


def _last_log() -> RequestLog:
    request_log.flush()
    return RequestLog.objects.order_by("-id").first()


# upstream behaviour → (SDK exception, our status, category)
UPSTREAM_ERRORS = [
    pytest.param(fb.error(400, "Bad field"), openai.BadRequestError, 400, "invalid_request", id="400"),
    pytest.param(fb.error(401, "Incorrect API key"), openai.AuthenticationError, 401, "authentication", id="401"),
    pytest.param(fb.error(403, "Not allowed"), openai.PermissionDeniedError, 403, "permission", id="403"),
    pytest.param(fb.error(404, "No such model"), openai.NotFoundError, 404, "not_found", id="404"),
    pytest.param(fb.error(429, "Slow down", retry_after=3600), openai.RateLimitError, 429, "rate_limit", id="429"),
    pytest.param(fb.error(500, "Boom"), openai.InternalServerError, 502, "upstream_unavailable", id="500"),
    pytest.param(fb.error(503, "Down"), openai.InternalServerError, 502, "upstream_unavailable", id="503"),
    pytest.param(fb.context_length_error(), openai.BadRequestError, 400, "context_length", id="context"),
    pytest.param(fb.slow(3), openai.InternalServerError, 504, "timeout", id="timeout"),
    pytest.param(fb.raw("<html>oops</html>"), openai.InternalServerError, 502, "upstream_unavailable", id="html"),
]


@pytest.mark.parametrize(("behaviour", "exception", "status", "category"), UPSTREAM_ERRORS)
@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_upstream_errors_map_to_categories(
    openai_client, openai_model, anthropic_model, fake_upstream, behaviour, exception, status, category, vendor
):
    model = {"openai": openai_model, "anthropic": anthropic_model}[vendor]
    provider = model.provider
    services.provider_update(provider=provider, timeout_seconds=1)
    fake_upstream.enqueue(behaviour)
    with pytest.raises(exception) as caught:
        openai_client.chat.completions.create(model=model.qualified_id, messages=HI)
    error = caught.value
    assert error.status_code == status
    assert set(error.body) == {"message", "type", "param", "code"}
    assert error.body["message"]
    if category == "rate_limit":
        assert error.response.headers["retry-after"] == "3600"
    if category == "context_length" and vendor == "openai":
        assert error.body["code"] in ("context_length_exceeded", "request_too_large", "context_length")
    assert "sk-fake" not in error.body["message"] and "sk-ant" not in error.body["message"]
    row = _last_log()
    assert (row.status_code, row.error_category, row.model_name) == (status, category, model.qualified_id)


def test_overloaded_anthropic_is_502(openai_client, anthropic_model, fake_upstream):
    fake_upstream.enqueue(fb.overloaded())
    with pytest.raises(openai.InternalServerError) as caught:
        openai_client.chat.completions.create(model="fake-anthropic/claude-sonnet-4-6", messages=HI)
    assert caught.value.status_code == 502
    assert _last_log().error_category == "upstream_unavailable"


def test_unreachable_upstream_is_a_connection_error(openai_client, echo_model):
    provider = factories.make_provider(slug="gone", kind="openai", base_url="http://127.0.0.1:9/v1", max_retries=0)
    factories.make_model(provider, model_id="m")
    with pytest.raises(openai.InternalServerError) as caught:
        openai_client.chat.completions.create(model="gone/m", messages=HI)
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "api_connection_error"
    assert _last_log().error_category == "connection"


@pytest.mark.parametrize("stream_error", [False, True], ids=["connection-cut", "error-event"])
def test_failure_mid_stream_is_one_error_event_then_close(
    openai_client, gateway, chat_key, openai_model, fake_upstream, stream_error
):
    fake_upstream.enqueue(fb.cut(after=3, stream_error=stream_error))
    stream = openai_client.chat.completions.create(model="fake-openai/mini", messages=HI, stream=True)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert received, "the stream had started before it failed"
    assert caught.value.body["type"]
    row = _last_log()
    assert row.status_code == 502 and row.error_category in ("connection", "upstream_unavailable")

    # On the wire: data frames, one error frame, and no [DONE].
    fake_upstream.enqueue(fb.cut(after=3, stream_error=stream_error))
    raw = httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "fake-openai/mini", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {chat_key}"},
    )
    frames = [frame for frame in raw.text.split("\n\n") if frame]
    assert raw.status_code == 200
    assert "[DONE]" not in raw.text
    assert "error" in json.loads(frames[-1].removeprefix("data: "))
    assert all(frame.startswith("data: ") for frame in frames)


def test_failure_before_the_first_token_keeps_its_status(openai_client, openai_model, fake_upstream):
    fake_upstream.enqueue(fb.error(429, retry_after=7))
    with pytest.raises(openai.RateLimitError) as caught:
        openai_client.chat.completions.create(model="fake-openai/mini", messages=HI, stream=True)
    assert caught.value.response.headers["retry-after"] == "7"


# --- our own refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "exception", "code"),
    [
        ("nope/nothing", openai.NotFoundError, "model_not_found"),
        ("fake-openai/gpt-5", openai.NotFoundError, "model_not_found"),
        ("unheard-of", openai.NotFoundError, "model_not_found"),
        ("shared-name", openai.BadRequestError, "model_ambiguous"),
    ],
)
def test_unknown_and_ambiguous_models(openai_client, openai_model, fake_upstream, model, exception, code):
    factories.make_model(openai_model.provider, model_id="shared-name")
    factories.make_model(factories.make_provider(slug="other"), model_id="shared-name")
    with pytest.raises(exception) as caught:
        openai_client.chat.completions.create(model=model, messages=HI)
    assert caught.value.body["code"] == code
    assert caught.value.body["param"] == "model"
    if code == "model_ambiguous":
        assert "fake-openai/shared-name" in caught.value.body["message"]
        assert "other/shared-name" in caught.value.body["message"]
    assert fake_upstream.hit_count() == 0
    assert _last_log().error_category in ("not_found", "invalid_request")


def test_no_model_and_no_default(openai_client, echo_model):
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client.chat.completions.create(model="", messages=HI)
    assert "no default model" in caught.value.body["message"]


def test_disabled_provider(openai_client, openai_model, fake_upstream):
    services.provider_update(provider=openai_model.provider, is_enabled=False)
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client.chat.completions.create(model="fake-openai/gpt-4o-mini", messages=HI)
    assert "disabled" in caught.value.body["message"]
    assert fake_upstream.hit_count() == 0


def test_disabled_model(openai_client, openai_model, fake_upstream):
    services.model_update(model=openai_model, is_enabled=False)
    with pytest.raises(openai.NotFoundError):
        openai_client.chat.completions.create(model="fake-openai/gpt-4o-mini", messages=HI)
    assert fake_upstream.hit_count() == 0


def test_undecryptable_key_is_refused_before_any_call(openai_client, openai_model, fake_upstream, settings):
    settings.FIELD_ENCRYPTION_KEYS = ["Zm9yZWlnbi1rZXktZm9yZWlnbi1rZXktZm9yZWlnbjE="]
    snapshot.invalidate()
    with pytest.raises(openai.AuthenticationError) as caught:
        openai_client.chat.completions.create(model="fake-openai/gpt-4o-mini", messages=HI)
    assert "cannot be decrypted" in caught.value.body["message"]
    assert fake_upstream.hit_count() == 0


def test_missing_token(gateway, echo_model):
    response = httpx2.post(f"{gateway.url}/v1/chat/completions", json={"model": "echo/echo", "messages": HI})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert "didn't provide an API key" in response.json()["error"]["message"]


def test_empty_bearer_token(gateway, echo_model):
    response = httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "echo/echo", "messages": HI},
        headers={"Authorization": "Bearer"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("key", ["sk-not-ours", "md_00000000_" + "x" * 43, "md_" + "a" * 500])
def test_bad_keys_are_401(gateway, echo_model, key):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="echo/echo", messages=HI)
    assert caught.value.body["code"] == "invalid_api_key"
    assert caught.value.body["type"] == "invalid_request_error"


def test_revoked_key(gateway, echo_model):
    from access.services import api_key_revoke

    api_key, raw = factories.make_api_key(scopes=("chat",))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=raw, max_retries=0)
    assert client.chat.completions.create(model="echo/echo", messages=HI).choices
    api_key_revoke(api_key=api_key)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="echo/echo", messages=HI)


def test_key_without_chat_scope(gateway, echo_model):
    _, raw = factories.make_api_key(scopes=("read",))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=raw, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="echo/echo", messages=HI)
    assert "chat" in caught.value.body["message"]


# --- hostile and broken bodies ------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"base_url": "http://evil.example/v1"},
        {"api_key": "sk-steal"},
        {"api_base": "http://evil.example"},
        {"extra_headers": {"X-Evil": "1"}},
        {"default_headers": {"X-Evil": "1"}},
        {"organization": "org-evil"},
        {"metadata": {"nested": {"deeper": [{"baseURL": "http://evil.example"}]}}},
    ],
)
def test_upstream_steering_fields_are_400_and_nothing_is_sent(openai_client, openai_model, fake_upstream, extra):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(model="fake-openai/mini", messages=HI, extra_body=extra)
    assert caught.value.body["code"] == "forbidden_field"
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(
            model="fake-openai/mini", messages=[{"role": "user", "content": "hi", **extra}], stream=True
        )
    assert fake_upstream.hit_count() == 0
    assert _last_log().error_category == "invalid_request"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b"{not json", "application/json", 400, "could not parse"),
        ('{"model": "\xe9"}'.encode("latin-1"), "application/json", 400, "UTF-8"),
        (b"[]", "application/json", 400, "JSON object"),
        (b"", "application/json", 400, "empty"),
        (b"{}", "application/json", 400, "messages is required"),
        (b" " * (10 * 1024 * 1024 + 1), "application/json", 413, "larger than"),
    ],
)
def test_unreadable_bodies(gateway, chat_key, echo_model, body, content_type, status, words):
    response = httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {chat_key}", "Content-Type": content_type},
    )
    assert response.status_code == status
    assert words in response.json()["error"]["message"]
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"temperature": "warm"}, "temperature"),
        ({"n": 3}, "n"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"max_tokens": 5, "max_completion_tokens": 6}, "max_completion_tokens"),
        ({"preset": "ludicrous"}, "preset"),
    ],
)
def test_invalid_requests_name_the_field(openai_client, echo_model, fields, param):
    body = {"model": "echo/echo", "messages": HI, **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.post("/chat/completions", body=body, cast_to=object)
    assert caught.value.body["param"] == param


def test_get_is_405(gateway, chat_key):
    response = httpx2.get(f"{gateway.url}/v1/chat/completions", headers={"Authorization": f"Bearer {chat_key}"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


# --- the playground: a staff session with its CSRF token ----------------------------------


CSRF = "abcdefghijklmnopqrstuvwxyzABCDEF"


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.mark.parametrize(
    ("staff", "csrf_header", "status"),
    [(True, True, 200), (True, False, 403), (False, True, 403)],
    ids=["staff-with-csrf", "staff-without-csrf", "not-staff"],
)
def test_session_callers(gateway, echo_model, staff, csrf_header, status):
    cookies = {"sessionid": _session_cookie(factories.make_user(staff=staff)), "csrftoken": CSRF}
    headers = {"X-CSRFToken": CSRF} if csrf_header else {}
    response = httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "echo/echo", "messages": HI},
        headers=headers,
        cookies=cookies,
    )
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["choices"][0]["message"]["content"] == "Echo: hi"
