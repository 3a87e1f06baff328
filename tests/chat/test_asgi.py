"""chat/asgi.py: under uvicorn the chat endpoint skips the middleware stack; everything else keeps it."""

from __future__ import annotations

import httpx2
import pytest

pytestmark = pytest.mark.django_db(transaction=True)

HI = [{"role": "user", "content": "hi"}]


def test_chat_endpoint_skips_the_middleware_stack(gateway, chat_key, echo_model):
    auth = {"Authorization": f"Bearer {chat_key}"}
    chat = httpx2.post(f"{gateway.url}/v1/chat/completions", json={"model": "echo/echo", "messages": HI}, headers=auth)
    models = httpx2.get(f"{gateway.url}/v1/models", headers=auth)
    assert chat.status_code == 200
    # XFrameOptionsMiddleware marks every response that went through the stack.
    assert "x-frame-options" not in chat.headers
    assert chat.headers["x-content-type-options"] == "nosniff"
    assert models.headers["x-frame-options"] == "DENY"


def test_stream_headers_allow_no_buffering(gateway, chat_key, echo_model):
    with httpx2.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "echo/echo", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {chat_key}", "Accept-Encoding": "gzip"},
    ) as response:
        body = response.read()
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in response.headers and "content-length" not in response.headers
    assert body.endswith(b"data: [DONE]\n\n")


def test_fast_path_still_checks_allowed_hosts(gateway, chat_key, echo_model, settings):
    settings.ALLOWED_HOSTS = ["gateway.example"]
    response = httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "echo/echo", "messages": HI},
        headers={"Authorization": f"Bearer {chat_key}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_host"


def test_the_view_also_works_through_the_full_stack(client, chat_key, echo_model):
    """WSGI and the test client run every middleware; the answer is the same."""
    response = client.post(
        "/v1/chat/completions",
        {"model": "echo/echo", "messages": HI},
        content_type="application/json",
        headers={"Authorization": f"Bearer {chat_key}"},
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Echo: hi"
