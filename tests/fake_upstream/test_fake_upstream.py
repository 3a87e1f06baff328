"""The fake upstream speaks each vendor's wire format well enough for the official SDKs to parse it."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.fake_upstream import behaviour as fb


@pytest.fixture
def openai_client(fake_upstream):
    return openai.OpenAI(base_url=fake_upstream.url + "/v1", api_key="sk-test", max_retries=0)


@pytest.fixture
def anthropic_client(fake_upstream):
    return anthropic.Anthropic(base_url=fake_upstream.url, api_key="sk-ant-test", max_retries=0)


def test_default_answers_pong_and_records_the_request(fake_upstream, openai_client):
    answer = openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ping"}])
    assert answer.choices[0].message.content == "pong"
    request = fake_upstream.last_request
    assert (request.path, request.model, request.headers["authorization"]) == (
        "/v1/chat/completions",
        "gpt-4o-mini",
        "Bearer sk-test",
    )


def test_openai_stream_with_tool_call_and_usage(fake_upstream, openai_client):
    fake_upstream.enqueue(fb.answer("", tool_calls=[fb.tool_call("get_weather", {"city": "Paris"})]))
    chunks = list(
        openai_client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "weather?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    arguments = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert arguments == '{"city": "Paris"}'
    assert chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_anthropic_stream_with_thinking_and_tool_use(fake_upstream, anthropic_client):
    fake_upstream.enqueue(fb.answer("Let me look.", tool_calls=[fb.tool_call("lookup", {"q": "x"})], thinking="Hmm."))
    with anthropic_client.messages.stream(
        model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        message = stream.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert message.content[0].signature == "fake-signature-0123"
    assert message.content[2].input == {"q": "x"}
    assert message.stop_reason == "tool_use"


def test_anthropic_models_are_paginated(fake_upstream, anthropic_client):
    page = anthropic_client.models.list()
    assert page.has_more
    assert [m.id for m in anthropic_client.models.list()] == [m["id"] for m in fake_upstream.anthropic_models]
    assert fake_upstream.hit_count("/v1/models") == 1 + 3


def test_anthropic_validation_rejects_a_small_budget(anthropic_client):
    with pytest.raises(anthropic.BadRequestError, match="budget_tokens"):
        anthropic_client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=2000,
            messages=[{"role": "user", "content": "hi"}],
            thinking={"type": "enabled", "budget_tokens": 100},
        )


@pytest.mark.parametrize(
    ("behaviour", "exception"),
    [
        (fb.error(429, retry_after=3600), openai.RateLimitError),
        (fb.context_length_error(), openai.BadRequestError),
        (fb.overloaded(), openai.InternalServerError),
        (fb.raw("<html>oops</html>"), None),
    ],
)
def test_openai_errors(fake_upstream, openai_client, behaviour, exception):
    fake_upstream.enqueue(behaviour)
    if exception is None:
        # An HTML 200: the SDK hands back the text instead of a completion.
        assert openai_client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        return
    with pytest.raises(exception):
        openai_client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])


def test_hang_records_the_client_leaving(fake_upstream, openai_client):
    fake_upstream.enqueue(fb.hang())
    with pytest.raises(openai.APITimeoutError):
        openai_client.with_options(timeout=0.3).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    assert fake_upstream.last_request.wait_disconnected(2)


def test_required_key(fake_upstream, openai_client):
    fake_upstream.api_key = "sk-other"
    with pytest.raises(openai.AuthenticationError):
        openai_client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
