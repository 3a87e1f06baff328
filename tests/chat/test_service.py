"""chat/service.py: the Python API (`complete`, `stream`, async twins) over the same dispatcher as /v1."""

from __future__ import annotations

import asyncio

import pytest

from chat import request_log, service
from chat.errors import ChatError
from chat.models import RequestLog
from tests.fake_upstream import behaviour as fb

pytestmark = pytest.mark.django_db(transaction=True)


def test_complete_and_stream_sync(echo_model):
    answer = service.complete(prompt="hi there", model="echo/echo")
    assert answer["choices"][0]["message"]["content"] == "Echo: hi there"
    assert answer["model"] == "echo/echo"
    chunks = list(service.stream(prompt="hi there", model="echo/echo", stream_options={"include_usage": True}))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Echo: hi there"
    assert chunks[-1]["usage"]["total_tokens"] == 5
    request_log.flush()
    assert list(RequestLog.objects.values_list("source", "stream", "api_key_id")) == [
        ("python", True, None),
        ("python", False, None),
    ]


def test_system_prompt_and_messages(openai_model, fake_upstream):
    service.complete(
        messages=[{"role": "user", "content": "hi"}], system="Be brief.", model="fake-openai/mini", temperature=0
    )
    sent = fake_upstream.last_request.json
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["temperature"] == 0


def test_async_twins(openai_model, fake_upstream):
    async def run():
        answer = await service.acomplete(prompt="ping", model="fake-openai/mini")
        parts = [
            c["choices"][0]["delta"].get("content") or "" async for c in service.astream(prompt="ping", model="mini")
        ]
        return answer, "".join(parts)

    answer, streamed = asyncio.run(run())
    assert answer["choices"][0]["message"]["content"] == streamed == "pong"


def test_the_sdk_client_survives_several_event_loops(openai_model, fake_upstream):
    """`complete()` runs its own loop each call; the cached upstream client must not be bound to a closed one."""
    for _ in range(3):
        assert service.complete(prompt="ping", model="fake-openai/mini")["choices"][0]["message"]["content"] == "pong"


def test_failures_are_chat_errors(openai_model, fake_upstream):
    with pytest.raises(ChatError) as caught:
        service.complete(prompt="x", model="nope/none")
    assert (caught.value.status_code, caught.value.category) == (404, "not_found")
    fake_upstream.enqueue(fb.cut(after=2))
    with pytest.raises(ChatError) as caught:
        list(service.stream(prompt="x", model="fake-openai/mini"))
    assert caught.value.status_code == 502
    with pytest.raises(ChatError) as caught:
        service.complete(prompt="x", model="fake-openai/mini", base_url="http://evil")
    assert caught.value.info.code == "forbidden_field"
    with pytest.raises(TypeError):
        service.complete(model="fake-openai/mini")
