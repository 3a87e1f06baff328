"""The OpenAI adapter (openai, openai_compatible, azure_openai) over HTTP against the fake upstream."""

from __future__ import annotations

import json
import time

import pytest

from providers.adapters import errors
from providers.adapters.base import (
    ChatRequest,
    Finish,
    ReasoningDelta,
    StreamStarted,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from providers.adapters.openai_sdk import OpenAIAdapter, build_params
from providers.adapters.registry import adapter_class
from tests.fake_upstream import behaviour as fb
from tests.providers.adapters.support import OPENAI_KEY, ask, collect, run

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize("kind", ["openai", "openai_compatible", "azure_openai"])
def test_one_adapter_class_serves_the_three_kinds(kind):
    assert adapter_class(kind) is OpenAIAdapter


def test_complete_sends_model_key_headers_and_returns_an_openai_body(fake_upstream, openai_provider):
    provider = openai_provider(extra_headers={"X-Team": "blue"}, organization="org-123")
    result = run(OpenAIAdapter(provider).complete(ask("gpt-4o-mini", "ping", max_tokens=20, temperature=0.2)))

    sent = fake_upstream.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent.headers["x-team"] == "blue"
    assert sent.headers["openai-organization"] == "org-123"
    assert sent.json["model"] == "gpt-4o-mini"
    assert sent.json["max_completion_tokens"] == 20
    assert sent.json["temperature"] == 0.2
    assert "stream" not in sent.json
    message = result.body["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "pong"}
    assert result.body["object"] == "chat.completion"
    assert result.body["choices"][0]["finish_reason"] == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (1, 1)
    assert result.body["usage"]["total_tokens"] == 2
    assert result.upstream_request_id.startswith("req_")


def test_the_operators_openai_environment_does_not_leak_into_another_provider(
    fake_upstream, openai_provider, monkeypatch
):
    monkeypatch.setenv("OPENAI_ORG_ID", "org-from-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-from-env")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-key-should-not-be-used")
    provider = openai_provider(kind="openai_compatible", slug="groq", key="gsk-groq-0123456789")
    run(OpenAIAdapter(provider).complete(ask("llama-3", max_tokens=5)))

    sent = fake_upstream.last_request
    assert sent.headers["authorization"] == "Bearer gsk-groq-0123456789"
    assert "openai-organization" not in sent.headers
    assert "openai-project" not in sent.headers
    # Compatible servers get max_tokens (many do not know max_completion_tokens).
    assert sent.json["max_tokens"] == 5


def test_keyless_compatible_server_gets_a_placeholder_key(fake_upstream, openai_provider):
    provider = openai_provider(kind="openai_compatible", slug="ollama", key=None)
    result = run(OpenAIAdapter(provider).complete(ask("llama3.2", "ping")))
    assert result.body["choices"][0]["message"]["content"] == "pong"
    assert fake_upstream.last_request.headers["authorization"] == "Bearer no-key"


def test_azure_uses_the_deployment_path_api_version_and_api_key_header(fake_upstream, openai_provider):
    provider = openai_provider(kind="azure_openai", base_url=fake_upstream.url, api_version="2024-10-21")
    result = run(OpenAIAdapter(provider).complete(ask("my-gpt4o-deployment", "ping")))

    sent = fake_upstream.last_request
    assert sent.path == "/openai/deployments/my-gpt4o-deployment/chat/completions"
    assert sent.query["api-version"] == "2024-10-21"
    assert sent.headers["api-key"] == OPENAI_KEY
    assert result.body["choices"][0]["message"]["content"] == "pong"


def test_azure_without_endpoint_is_a_configuration_error(fake_upstream, openai_provider):
    provider = openai_provider(kind="azure_openai", base_url="")
    with pytest.raises(errors.ConfigurationError, match="endpoint"):
        run(OpenAIAdapter(provider).complete(ask("dep")))
    assert fake_upstream.requests == []


def test_tool_call_answer(fake_upstream, openai_provider):
    fake_upstream.enqueue(fb.answer(tool_calls=[fb.tool_call("get_weather", {"city": "Paris"}, id="call_1")]))
    request = ask("gpt-4o", "weather in Paris?", tools=[WEATHER_TOOL], tool_choice="auto", parallel_tool_calls=False)
    result = run(OpenAIAdapter(openai_provider()).complete(request))

    sent = fake_upstream.last_request.json
    assert sent["tools"] == [WEATHER_TOOL]
    assert (sent["tool_choice"], sent["parallel_tool_calls"]) == ("auto", False)
    choice = result.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    ]


def test_history_fields_of_ours_are_not_sent_upstream(fake_upstream, openai_provider):
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "reasoning_content": "thought", "thinking_blocks": []},
        {"role": "user", "content": "ping"},
    ]
    run(OpenAIAdapter(openai_provider()).complete(ChatRequest(model="gpt-4o", messages=messages)))
    assert fake_upstream.last_request.json["messages"][1] == {"role": "assistant", "content": "hello"}


def test_stream_yields_text_tool_call_fragments_finish_and_usage(fake_upstream, openai_provider):
    fake_upstream.enqueue(
        fb.answer("Checking.", tool_calls=[fb.tool_call("get_weather", {"city": "Paris"}), fb.tool_call("t2", {})])
    )
    events = run(collect(OpenAIAdapter(openai_provider()).stream(ask("gpt-4o", tools=[WEATHER_TOOL]))))

    sent = fake_upstream.last_request.json
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Checking."
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(c.index, c.id is not None, c.name) for c in calls if c.name] == [(0, True, "get_weather"), (1, True, "t2")]
    arguments = {i: "".join(c.arguments for c in calls if c.index == i) for i in (0, 1)}
    assert json.loads(arguments[0]) == {"city": "Paris"}
    assert json.loads(arguments[1]) == {}
    assert [e for e in events if isinstance(e, Finish)] == [Finish("tool_calls")]
    assert isinstance(events[-1], UsageEvent)
    assert events[-1].usage.completion_tokens > 0


def test_reasoning_content_of_compatible_servers_is_forwarded_unless_hidden(fake_upstream, openai_provider):
    provider = openai_provider(kind="openai_compatible", slug="deepseek")
    adapter = OpenAIAdapter(provider)
    fake_upstream.set_behaviour("deepseek-reasoner", fb.answer("42", thinking="Six times seven."))

    events = run(collect(adapter.stream(ask("deepseek-reasoner"))))
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "Six times seven."
    result = run(adapter.complete(ask("deepseek-reasoner")))
    assert result.body["choices"][0]["message"]["reasoning_content"] == "Six times seven."

    hidden = run(collect(adapter.stream(ask("deepseek-reasoner", show_thinking=False))))
    assert not [e for e in hidden if isinstance(e, ReasoningDelta)]
    result = run(adapter.complete(ask("deepseek-reasoner", show_thinking=False)))
    assert "reasoning_content" not in result.body["choices"][0]["message"]


def test_leaving_a_stream_closes_the_upstream_request(fake_upstream, openai_provider):
    fake_upstream.enqueue(fb.answer("one two three four five six seven eight", chunk_delay=0.2))

    async def read_two():
        stream = OpenAIAdapter(openai_provider()).stream(ask("gpt-4o"))
        first = [await anext(stream), await anext(stream)]
        await stream.aclose()
        return first

    assert len(run(read_two())) == 2
    assert fake_upstream.last_request.wait_disconnected(2)


def test_a_stream_cut_in_the_middle_is_a_connection_error(fake_upstream, openai_provider):
    fake_upstream.enqueue(fb.cut(after=3))
    received = []

    async def read():
        async for event in OpenAIAdapter(openai_provider()).stream(ask("gpt-4o")):
            received.append(event)

    with pytest.raises(errors.ConnectionError):
        run(read())
    assert [type(e) for e in received] == [StreamStarted, TextDelta, TextDelta]


def test_the_stream_is_reported_open_as_soon_as_the_upstream_answers(fake_upstream, openai_provider):
    """`StreamStarted` comes with the upstream's 200, before its first token (time to first byte)."""
    fake_upstream.enqueue(fb.answer("late words", first_token_delay=0.5))

    async def first_event():
        stream = OpenAIAdapter(openai_provider()).stream(ask("gpt-4o"))
        started = time.perf_counter()
        event = await anext(stream)
        waited = time.perf_counter() - started
        rest = [e async for e in stream]
        return event, waited, rest

    event, waited, rest = run(first_event())
    assert event == StreamStarted()
    assert waited < 0.4
    assert "".join(e.text for e in rest if isinstance(e, TextDelta)) == "late words"


def test_an_error_event_mid_stream_is_mapped(fake_upstream, openai_provider):
    fake_upstream.enqueue(fb.cut(after=3, stream_error=True))
    with pytest.raises(errors.UpstreamUnavailableError, match="mid-stream"):
        run(collect(OpenAIAdapter(openai_provider()).stream(ask("gpt-4o"))))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("<html><body>Bad gateway</body></html>", "text/html"), ('{"id": "chatcmpl-1", "choi', "application/json")],
)
def test_a_200_that_is_not_a_completion_is_upstream_unavailable(fake_upstream, openai_provider, body, content_type):
    fake_upstream.enqueue(fb.raw(body, content_type=content_type))
    with pytest.raises(errors.UpstreamUnavailableError) as caught:
        run(OpenAIAdapter(openai_provider()).complete(ask("gpt-4o")))
    assert caught.value.status_code == 502


def test_list_models_with_openrouter_style_metadata(fake_upstream, openai_provider):
    fake_upstream.set_models(
        openai=[
            "gpt-4o",
            {
                "id": "anthropic/claude-3.5-sonnet",
                "name": "Claude 3.5 Sonnet",
                "context_length": 200000,
                "pricing": {"prompt": "0.000003", "completion": "0.000015"},
                "top_provider": {"max_completion_tokens": 8192},
            },
        ]
    )
    models = run(OpenAIAdapter(openai_provider()).list_models())

    assert [m.model_id for m in models] == ["gpt-4o", "anthropic/claude-3.5-sonnet"]
    assert models[0].created == 1_715_367_049
    rich = models[1]
    assert (rich.name, rich.context_window, rich.max_output_tokens) == ("Claude 3.5 Sonnet", 200000, 8192)
    assert (rich.input_price_per_mtok, rich.output_price_per_mtok) == (3.0, 15.0)


def test_ping_answers_pong_or_reports_the_failure(fake_upstream, openai_provider):
    adapter = OpenAIAdapter(openai_provider())
    ok = run(adapter.ping("gpt-4o-mini"))
    assert (ok.ok, ok.answer, ok.error) == (True, "pong", None)
    assert fake_upstream.last_request.json["max_completion_tokens"] == 10
    failed = run(adapter.ping("gpt-retired"))
    assert failed.ok is False
    assert "does not exist" in failed.error


def test_one_client_per_provider_and_loop_is_reused_and_closed(fake_upstream, openai_provider):
    adapter = OpenAIAdapter(openai_provider())

    async def twice():
        first = adapter.client
        await adapter.complete(ask("gpt-4o"))
        await adapter.complete(ask("gpt-4o"))
        same = adapter.client is first
        await adapter.aclose()
        return same, first.is_closed()

    assert run(twice()) == (True, True)


def test_build_params_leaves_out_what_the_request_does_not_set():
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "x"}])
    params = build_params(request, kind="openai", stream=False)
    assert params == {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    # parallel_tool_calls without tools is refused by OpenAI: never sent alone.
    params = build_params(
        ChatRequest(model="m", messages=[], parallel_tool_calls=True, tool_choice="auto"), kind="openai", stream=False
    )
    assert "parallel_tool_calls" not in params and "tool_choice" not in params
