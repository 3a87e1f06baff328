"""POST /v1/chat/completions through the official `openai` SDK, against uvicorn, over the fake upstream.

Answers, streams, tools and thinking, for the echo, OpenAI and Anthropic kinds.
Errors have their own module (test_errors.py); the request log too (test_request_log.py).
"""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from providers import services
from tests.fake_upstream import behaviour as fb

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _reassemble(stream) -> dict:
    """Content, reasoning, tool calls, finish reason and usage of a streamed answer."""
    out = {"content": "", "reasoning": "", "tool_calls": {}, "finish_reason": None, "usage": None, "roles": [],
           "models": set(), "ids": set()}  # fmt: skip
    for chunk in stream:
        out["models"].add(chunk.model)
        out["ids"].add(chunk.id)
        if chunk.usage is not None:
            out["usage"] = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            if delta.role:
                out["roles"].append(delta.role)
            out["content"] += delta.content or ""
            out["reasoning"] += (delta.model_extra or {}).get("reasoning_content") or ""
            for call in delta.tool_calls or ():
                entry = out["tool_calls"].setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = entry["id"] or call.id
                entry["name"] += (call.function.name or "") if call.function else ""
                entry["arguments"] += (call.function.arguments or "") if call.function else ""
            if choice.finish_reason:
                out["finish_reason"] = choice.finish_reason
    return out


# --- echo (offline demo) ------------------------------------------------------------------


def test_echo_answer(openai_client, echo_model):
    answer = openai_client.chat.completions.create(
        model="echo/echo", messages=[{"role": "user", "content": "hello there"}]
    )
    assert answer.choices[0].message.content == "Echo: hello there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "echo/echo"
    assert answer.id.startswith("chatcmpl-")
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (2, 3, 5)


def test_echo_stream_word_by_word_with_usage(openai_client, echo_model):
    stream = openai_client.chat.completions.create(
        model="echo/echo",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    out = _reassemble(stream)
    assert out["content"] == "Echo: one two three"
    assert out["roles"] == ["assistant"]
    assert out["finish_reason"] == "stop"
    assert out["usage"].total_tokens == 3 + 4
    assert out["models"] == {"echo/echo"} and len(out["ids"]) == 1


def test_default_model_when_none_is_given(openai_client, echo_model):
    services.set_default_model(model=echo_model)
    answer = openai_client.chat.completions.create(model="", messages=[{"role": "user", "content": "hi"}])
    assert answer.model == "echo/echo"


# --- OpenAI upstream ----------------------------------------------------------------------


def test_openai_answer_and_what_was_sent(openai_client, openai_model, fake_upstream):
    answer = openai_client.chat.completions.create(
        model="fake-openai/gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}],
        temperature=0.2,
        max_completion_tokens=50,
    )
    assert answer.choices[0].message.content == "Hello from gpt-4o-mini! This is the fake upstream."
    assert answer.model == "fake-openai/gpt-4o-mini"
    sent = fake_upstream.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.json["model"] == "gpt-4o-mini"
    assert sent.headers["authorization"] == "Bearer sk-fake-openai-0001"
    assert sent.json["temperature"] == 0.2
    assert sent.json["messages"][0] == {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize("model", ["mini", "gpt-4o-mini", "fake-openai/mini"])
def test_aliases_and_unprefixed_ids_resolve(openai_client, openai_model, fake_upstream, model):
    answer = openai_client.chat.completions.create(model=model, messages=[{"role": "user", "content": "ping"}])
    assert answer.choices[0].message.content == "pong"
    assert answer.model == "fake-openai/gpt-4o-mini"


def test_defaults_and_presets_fill_what_the_request_leaves_out(openai_client, openai_model, fake_upstream):
    services.runtime_settings_update({"temperature": 0.9, "systemPrompt": "You are terse."})
    openai_client.chat.completions.create(model="fake-openai/mini", messages=[{"role": "user", "content": "a"}])
    sent = fake_upstream.last_request.json
    assert sent["temperature"] == 0.9
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}
    openai_client.chat.completions.create(
        model="fake-openai/mini", messages=[{"role": "user", "content": "a"}], extra_body={"preset": "fast"}
    )
    assert fake_upstream.last_request.json["temperature"] == 0.3
    openai_client.chat.completions.create(
        model="fake-openai/mini",
        messages=[{"role": "user", "content": "a"}],
        temperature=1.7,
        extra_body={"preset": "fast"},
    )
    assert fake_upstream.last_request.json["temperature"] == 1.7


def test_openai_stream_reassembled(openai_client, openai_model, fake_upstream):
    stream = openai_client.chat.completions.create(
        model="fake-openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    out = _reassemble(stream)
    assert out["content"] == "Hello from gpt-4o-mini! This is the fake upstream."
    assert out["finish_reason"] == "stop"
    assert out["usage"] is not None and out["usage"].completion_tokens > 0
    assert fake_upstream.last_request.stream is True


def test_no_usage_chunk_unless_asked(openai_client, echo_model):
    chunks = list(
        openai_client.chat.completions.create(
            model="echo/echo", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


def test_async_client_answer_and_stream(async_openai_client, openai_model, fake_upstream):
    async def run():
        answer = await async_openai_client.chat.completions.create(
            model="fake-openai/mini", messages=[{"role": "user", "content": "ping"}]
        )
        stream = await async_openai_client.chat.completions.create(
            model="fake-openai/mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        await async_openai_client.close()
        return answer, "".join(parts)

    answer, streamed = asyncio.run(run())
    assert answer.choices[0].message.content == "pong"
    assert streamed == "Hello from gpt-4o-mini! This is the fake upstream."


@pytest.mark.parametrize("stream", [False, True])
def test_openai_tool_call_round_trip(openai_client, openai_model, fake_upstream, stream):
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    fake_upstream.enqueue(fb.answer("", tool_calls=[fb.tool_call("get_weather", {"city": "Paris"}, id="call_w1")]))
    response = openai_client.chat.completions.create(
        model="fake-openai/mini", messages=messages, tools=[WEATHER_TOOL], stream=stream
    )
    if stream:
        out = _reassemble(response)
        call = out["tool_calls"][0]
        call_id, name, arguments, finish = call["id"], call["name"], call["arguments"], out["finish_reason"]
    else:
        tool_call = response.choices[0].message.tool_calls[0]
        call_id, name, arguments = tool_call.id, tool_call.function.name, tool_call.function.arguments
        finish = response.choices[0].finish_reason
    assert (call_id, name, json.loads(arguments), finish) == ("call_w1", "get_weather", {"city": "Paris"}, "tool_calls")
    assert fake_upstream.last_request.json["tools"][0]["function"]["name"] == "get_weather"

    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "18 degrees, sunny"},
    ]
    answer = openai_client.chat.completions.create(model="fake-openai/mini", messages=messages, tools=[WEATHER_TOOL])
    assert answer.choices[0].message.content == "Tool result: 18 degrees, sunny"
    sent = fake_upstream.last_request.json["messages"]
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_w1", "content": "18 degrees, sunny"}


# --- Anthropic upstream -------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_tool_call_round_trip(openai_client, anthropic_model, fake_upstream, stream):
    messages = [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Oslo?"}]
    fake_upstream.enqueue(fb.answer("", tool_calls=[fb.tool_call("get_weather", {"city": "Oslo"}, id="toolu_1")]))
    response = openai_client.chat.completions.create(
        model="fake-anthropic/claude-sonnet-4-6", messages=messages, tools=[WEATHER_TOOL], stream=stream
    )
    if stream:
        out = _reassemble(response)
        call = out["tool_calls"][0]
        call_id, name, arguments, finish = call["id"], call["name"], call["arguments"], out["finish_reason"]
    else:
        tool_call = response.choices[0].message.tool_calls[0]
        call_id, name, arguments = tool_call.id, tool_call.function.name, tool_call.function.arguments
        finish = response.choices[0].finish_reason
    assert (call_id, name, json.loads(arguments), finish) == ("toolu_1", "get_weather", {"city": "Oslo"}, "tool_calls")
    sent = fake_upstream.last_request
    assert sent.path == "/v1/messages"
    key = sent.headers.get("x-api-key") or sent.headers["authorization"].removeprefix("Bearer ")
    assert key == "sk-ant-fake-0001"
    assert sent.json["system"] in ("Use tools.", [{"type": "text", "text": "Use tools."}])
    assert sent.json["tools"][0]["name"] == "get_weather"
    assert sent.json["tools"][0]["input_schema"] == WEATHER_TOOL["function"]["parameters"]

    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "-3 degrees"},
    ]
    answer = openai_client.chat.completions.create(
        model="fake-anthropic/claude-sonnet-4-6", messages=messages, tools=[WEATHER_TOOL]
    )
    assert answer.choices[0].message.content == "Tool result: -3 degrees"
    history = fake_upstream.last_request.json["messages"]
    assert history[1]["role"] == "assistant"
    assert history[1]["content"][-1] == {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                         "input": {"city": "Oslo"}}  # fmt: skip
    assert history[2]["role"] == "user"
    assert history[2]["content"][0]["type"] == "tool_result"
    assert history[2]["content"][0]["tool_use_id"] == "toolu_1"


THINKING = {"type": "enabled", "budget_tokens": 2048}


def test_anthropic_thinking_shown(openai_client, anthropic_model, fake_upstream):
    fake_upstream.enqueue(fb.answer("42", thinking="Let me think about it."))
    answer = openai_client.chat.completions.create(
        model="fake-anthropic/claude-sonnet-4-6",
        messages=[{"role": "user", "content": "The answer?"}],
        extra_body={"thinking": THINKING},
    )
    message = answer.choices[0].message
    assert message.content == "42"
    assert message.model_extra["reasoning_content"] == "Let me think about it."
    sent = fake_upstream.last_request.json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["max_tokens"] > 2048


def test_anthropic_thinking_streamed(openai_client, anthropic_model, fake_upstream):
    fake_upstream.enqueue(fb.answer("42", thinking="Let me think about it."))
    out = _reassemble(
        openai_client.chat.completions.create(
            model="fake-anthropic/claude-sonnet-4-6",
            messages=[{"role": "user", "content": "The answer?"}],
            stream=True,
            extra_body={"thinking": THINKING},
        )
    )
    assert (out["reasoning"], out["content"]) == ("Let me think about it.", "42")


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_thinking_hidden_by_the_setting(openai_client, anthropic_model, fake_upstream, stream):
    services.runtime_settings_update({"show_thinking_process": False})
    fake_upstream.enqueue(fb.answer("42", thinking="Secret musings."))
    response = openai_client.chat.completions.create(
        model="fake-anthropic/claude-sonnet-4-6",
        messages=[{"role": "user", "content": "The answer?"}],
        stream=stream,
        extra_body={"thinking": THINKING},
    )
    if stream:
        out = _reassemble(response)
        assert (out["reasoning"], out["content"]) == ("", "42")
    else:
        assert response.choices[0].message.content == "42"
        assert "reasoning_content" not in (response.choices[0].message.model_extra or {})
    assert fake_upstream.last_request.json["thinking"]["type"] == "enabled"


def test_adaptive_budget_from_the_defaults(openai_client, anthropic_model, fake_upstream):
    services.runtime_settings_update(
        {"thinking_budget_tokens": 2000, "adaptive_thinking_budget": True, "max_thinking_budget_tokens": 3000}
    )
    openai_client.chat.completions.create(
        model="fake-anthropic/claude-sonnet-4-6", messages=[{"role": "user", "content": "hi"}], max_tokens=4000
    )
    assert fake_upstream.last_request.json["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    openai_client.chat.completions.create(
        model="fake-anthropic/claude-sonnet-4-6", messages=[{"role": "user", "content": "hi"}], max_tokens=20000
    )
    assert fake_upstream.last_request.json["thinking"] == {"type": "enabled", "budget_tokens": 3000}


def test_adaptive_model_gets_adaptive_thinking(openai_client, anthropic_model, fake_upstream):
    from tests import factories

    opus = factories.make_model(
        anthropic_model.provider,
        model_id="claude-opus-4-7",
        max_output_tokens=128000,
        capabilities={"thinking": "adaptive"},
    )
    answer = openai_client.chat.completions.create(
        model=opus.qualified_id,
        messages=[{"role": "user", "content": "hi"}],
        reasoning_effort="high",
        extra_body={"thinking": THINKING},
    )
    assert answer.choices[0].message.content
    assert fake_upstream.last_request.json["thinking"]["type"] == "adaptive"
    assert "budget_tokens" not in fake_upstream.last_request.json["thinking"]


def test_images_are_passed_to_anthropic(openai_client, anthropic_model, fake_upstream):
    pixel = (
        "data:image/png;base64,"
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="
    )
    openai_client.chat.completions.create(
        model="fake-anthropic/claude-sonnet-4-6",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": pixel}},
                ],
            }
        ],
    )
    blocks = fake_upstream.last_request.json["messages"][0]["content"]
    assert [block["type"] for block in blocks] == ["text", "image"]
    assert blocks[1]["source"]["type"] == "base64"


def test_sdk_retries_are_ours_to_configure(openai_client, openai_model, fake_upstream):
    """The gateway itself never retries: one client request, one upstream call (max_retries=0)."""
    fake_upstream.enqueue(fb.error(500))
    with pytest.raises(openai.InternalServerError):
        openai_client.chat.completions.create(model="fake-openai/mini", messages=[{"role": "user", "content": "x"}])
    assert fake_upstream.hit_count(path="/v1/chat/completions") == 1
