"""The Anthropic adapter over HTTP against the fake upstream (which validates requests as Anthropic does)."""

from __future__ import annotations

import json

import pytest

from providers.adapters import errors
from providers.adapters.anthropic_sdk import AnthropicAdapter
from providers.adapters.base import (
    ChatRequest,
    Finish,
    ReasoningDelta,
    StreamStarted,
    TextDelta,
    ThinkingConfig,
    ToolCallDelta,
    UsageEvent,
)
from tests.fake_upstream import behaviour as fb
from tests.providers.adapters.support import ANTHROPIC_KEY, ask, collect, run

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_complete_sends_key_version_system_and_default_max_tokens(fake_upstream, anthropic_provider):
    request = ChatRequest(
        model="claude-haiku-4-5",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "ping"}],
        temperature=0.3,
        stop=["END"],
    )
    result = run(AnthropicAdapter(anthropic_provider(extra_headers={"X-Team": "blue"})).complete(request))

    sent = fake_upstream.last_request
    assert sent.path == "/v1/messages"
    assert sent.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"
    assert sent.headers["anthropic-version"]
    assert sent.headers["x-team"] == "blue"
    assert sent.json == {
        "model": "claude-haiku-4-5",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "ping"}],
        "max_tokens": 4096,
        "stop_sequences": ["END"],
    }
    assert result.body["choices"][0]["message"] == {"role": "assistant", "content": "pong"}
    assert result.body["choices"][0]["finish_reason"] == "stop"
    assert result.body["usage"] == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    assert result.upstream_request_id.startswith("req_")


def test_max_tokens_defaults_to_the_models_output_limit(fake_upstream, anthropic_provider):
    run(AnthropicAdapter(anthropic_provider()).complete(ask("claude-3-haiku-20240307", max_output_tokens=4096)))
    assert fake_upstream.last_request.json["max_tokens"] == 4096
    run(AnthropicAdapter(anthropic_provider()).complete(ask("claude-haiku-4-5", max_output_tokens=64000)))
    assert fake_upstream.last_request.json["max_tokens"] == 64000


def test_budget_thinking_is_sent_and_comes_back_as_reasoning_content(fake_upstream, anthropic_provider):
    request = ask(
        "claude-sonnet-4-6",
        "ping",
        max_tokens=1000,
        temperature=0.7,
        thinking=ThinkingConfig(mode="budget", budget_tokens=2048),
        capabilities={"thinking": "budget"},
        max_output_tokens=64000,
    )
    result = run(AnthropicAdapter(anthropic_provider()).complete(request))

    sent = fake_upstream.last_request.json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    # max_tokens raised above the budget (room kept for the answer).
    assert sent["max_tokens"] == 3048
    message = result.body["choices"][0]["message"]
    assert message["content"] == "pong"
    assert message["reasoning_content"] == "Let me think about this request step by step."
    assert message["thinking_blocks"][0]["signature"] == "fake-signature-0123"

    hidden = run(AnthropicAdapter(anthropic_provider()).complete(_replace(request, show_thinking=False)))
    assert set(hidden.body["choices"][0]["message"]) == {"role", "content"}


def _replace(request: ChatRequest, **changes) -> ChatRequest:
    from dataclasses import replace

    return replace(request, **changes)


def test_adaptive_model_gets_adaptive_thinking_with_the_effort(fake_upstream, anthropic_provider):
    request = ask(
        "claude-opus-4-7",
        reasoning_effort="high",
        thinking=ThinkingConfig(mode="budget", budget_tokens=4096),
        capabilities={"thinking": "adaptive"},
    )
    run(AnthropicAdapter(anthropic_provider()).complete(request))
    sent = fake_upstream.last_request.json
    assert sent["thinking"] == {"type": "adaptive"}
    assert sent["output_config"] == {"effort": "high"}


def test_model_without_thinking_gets_none(fake_upstream, anthropic_provider):
    request = ask(
        "claude-3-haiku-20240307",
        thinking=ThinkingConfig(mode="budget", budget_tokens=2048),
        capabilities={"thinking": "none"},
    )
    result = run(AnthropicAdapter(anthropic_provider()).complete(request))
    assert "thinking" not in fake_upstream.last_request.json
    assert "reasoning_content" not in result.body["choices"][0]["message"]


def test_tools_go_in_anthropic_shape_and_tool_use_comes_back_as_tool_calls(fake_upstream, anthropic_provider):
    fake_upstream.enqueue(fb.answer("", tool_calls=[fb.tool_call("get_weather", {"city": "Paris"}, id="toolu_1")]))
    request = ask(
        "claude-haiku-4-5", "weather?", tools=[WEATHER_TOOL], tool_choice="required", parallel_tool_calls=False
    )
    result = run(AnthropicAdapter(anthropic_provider()).complete(request))

    sent = fake_upstream.last_request.json
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather of a city",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    choice = result.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    ]


def test_tool_round_trip_sends_tool_use_and_merged_tool_results(fake_upstream, anthropic_provider):
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "toolu_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_b", "content": "rain"},
    ]
    result = run(
        AnthropicAdapter(anthropic_provider()).complete(
            ChatRequest(model="claude-haiku-4-5", messages=messages, tools=[WEATHER_TOOL])
        )
    )

    sent = fake_upstream.last_request.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == [
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    assert sent[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_a", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_b", "content": "rain"},
    ]
    assert result.body["choices"][0]["message"]["content"] == "Tool result: sunny rain"


def test_signed_thinking_blocks_go_back_with_the_next_turn(fake_upstream, anthropic_provider):
    thinking = ThinkingConfig(mode="budget", budget_tokens=1024)
    adapter = AnthropicAdapter(anthropic_provider())
    fake_upstream.enqueue(fb.answer("", tool_calls=[fb.tool_call("get_weather", {"city": "Paris"}, id="toolu_x")]))
    first = run(adapter.complete(ask("claude-haiku-4-5", "weather?", tools=[WEATHER_TOOL], thinking=thinking)))
    answer = first.body["choices"][0]["message"]
    messages = [
        {"role": "user", "content": "weather?"},
        answer,
        {"role": "tool", "tool_call_id": "toolu_x", "content": "sunny"},
    ]
    run(
        adapter.complete(
            ChatRequest(model="claude-haiku-4-5", messages=messages, tools=[WEATHER_TOOL], thinking=thinking)
        )
    )

    assistant = fake_upstream.last_request.json["messages"][1]["content"]
    assert [block["type"] for block in assistant] == ["thinking", "tool_use"]
    assert assistant[0]["signature"] == "fake-signature-0123"


def test_images_become_base64_or_url_sources(fake_upstream, anthropic_provider):
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    request = ChatRequest(model="claude-haiku-4-5", messages=[{"role": "user", "content": content}])
    run(AnthropicAdapter(anthropic_provider()).complete(request))
    assert fake_upstream.last_request.json["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_stream_maps_thinking_text_and_tool_fragments_with_stable_indexes(fake_upstream, anthropic_provider):
    fake_upstream.enqueue(
        fb.answer(
            "Let me check.",
            thinking="I should call the tool.",
            tool_calls=[fb.tool_call("get_weather", {"city": "Paris"}), fb.tool_call("get_weather", {"city": "Rome"})],
            usage=(30, 12),
        )
    )
    events = run(collect(AnthropicAdapter(anthropic_provider()).stream(ask("claude-haiku-4-5", tools=[WEATHER_TOOL]))))

    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "I should call the tool."
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me check."
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    starts = [c for c in calls if c.name]
    assert [(c.index, c.name) for c in starts] == [(0, "get_weather"), (1, "get_weather")]
    assert all(c.id.startswith("toolu_") for c in starts)
    arguments = ["".join(c.arguments for c in calls if c.index == i) for i in (0, 1)]
    assert [json.loads(a) for a in arguments] == [{"city": "Paris"}, {"city": "Rome"}]
    assert events[-2:] == [Finish("tool_calls"), UsageEvent(events[-1].usage)]
    # input tokens from message_start, output tokens from message_delta
    assert (events[-1].usage.prompt_tokens, events[-1].usage.completion_tokens) == (30, 12)


def test_leaving_a_stream_closes_the_upstream_request(fake_upstream, anthropic_provider):
    fake_upstream.enqueue(fb.answer("one two three four five six seven eight", chunk_delay=0.2))

    async def read_one():
        stream = AnthropicAdapter(anthropic_provider()).stream(ask("claude-haiku-4-5"))
        events = [await anext(stream), await anext(stream)]
        await stream.aclose()
        return events

    assert run(read_one()) == [StreamStarted(), TextDelta("one ")]
    assert fake_upstream.last_request.wait_disconnected(2)


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (fb.cut(after=6), errors.ConnectionError),
        (fb.cut(after=6, stream_error=True), errors.UpstreamUnavailableError),
    ],
)
def test_a_stream_failing_midway(fake_upstream, anthropic_provider, behaviour, error):
    fake_upstream.enqueue(behaviour)
    with pytest.raises(error):
        run(collect(AnthropicAdapter(anthropic_provider()).stream(ask("claude-haiku-4-5"))))


def test_list_models_follows_every_page_with_metadata(fake_upstream, anthropic_provider):
    models = run(AnthropicAdapter(anthropic_provider()).list_models())

    assert [m.model_id for m in models] == [m["id"] for m in fake_upstream.anthropic_models]
    assert fake_upstream.hit_count("/v1/models") == 3  # 5 models, pages of 2
    assert [r.query.get("after_id") for r in fake_upstream.requests_for("/v1/models")] == [
        None,
        "claude-sonnet-4-6",
        "claude-3-haiku-20240307",
    ]
    opus = models[0]
    assert (opus.name, opus.context_window, opus.max_output_tokens) == ("Claude Opus 4.7", 200_000, 128_000)
    assert opus.created == 1759104000
    assert opus.capabilities["thinking"]["types"]["adaptive"]["supported"] is True
    assert models[-1].lifecycle == "retired"


def test_ping(fake_upstream, anthropic_provider):
    adapter = AnthropicAdapter(anthropic_provider())
    ok = run(adapter.ping("claude-haiku-4-5"))
    assert (ok.ok, ok.answer) == (True, "pong")
    assert fake_upstream.last_request.json["max_tokens"] == 10
    failed = run(adapter.ping("claude-retired-2"))
    assert failed.ok is False and "claude-retired-2" in failed.error


def test_bad_history_is_refused_before_anything_is_sent(fake_upstream, anthropic_provider):
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{"}}],
        },
    ]
    with pytest.raises(errors.InvalidRequestError) as caught:
        run(AnthropicAdapter(anthropic_provider()).complete(ChatRequest(model="claude-haiku-4-5", messages=messages)))
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"
    assert fake_upstream.requests == []
