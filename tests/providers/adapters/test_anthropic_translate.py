"""The pure OpenAI → Anthropic translation (no I/O): messages, tools, thinking, stop reasons, usage."""

from __future__ import annotations

import pytest

from providers.adapters.anthropic_translate import (
    JSON_OBJECT_INSTRUCTION,
    build_params,
    finish_reason,
    message_body,
    thinking_modes,
    translate_messages,
    translate_tool_choice,
    usage_of,
)
from providers.adapters.base import ChatRequest, ThinkingConfig
from providers.adapters.errors import InvalidRequestError


def request(**fields) -> ChatRequest:
    fields.setdefault("model", "claude-x")
    fields.setdefault("messages", [{"role": "user", "content": "hi"}])
    return ChatRequest(**fields)


def test_system_and_developer_messages_become_the_system_prompt():
    system, messages = translate_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "hi"},
        ]
    )
    assert system == "Be brief.\n\nUse French."
    assert messages == [{"role": "user", "content": "hi"}]


def test_consecutive_turns_of_one_role_are_merged():
    _, messages = translate_messages(
        [
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}]},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": "three"},
        ]
    )
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
        {"role": "assistant", "content": "three"},
    ]


def test_tool_results_join_a_following_user_message():
    _, messages = translate_messages(
        [
            {"role": "assistant", "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": "42"}]},
            {"role": "user", "content": "thanks"},
        ]
    )
    assert messages[0] == {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}
    assert messages[1] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "42"}]},
            {"type": "text", "text": "thanks"},
        ],
    }


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ({"role": "tool", "content": "x"}, "messages[0].tool_call_id"),
        ({"role": "function", "content": "x"}, "messages[0].role"),
        ({"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}, "messages[0].content"),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}, None),
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AAAA"}}]},
            None,
        ),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]}, None),
        (
            {"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "[1]"}}]},
            "messages[0].tool_calls[0].function.arguments",
        ),
    ],
)
def test_what_anthropic_cannot_take_is_an_invalid_request_naming_the_field(message, param):
    with pytest.raises(InvalidRequestError) as caught:
        translate_messages([message])
    assert caught.value.status_code == 400
    if param:
        assert caught.value.param == param
    else:
        assert caught.value.param.startswith("messages[0].content[0].image_url")


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        ({"type": "function", "function": {"name": "f"}}, None, {"type": "tool", "name": "f"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        ("auto", True, {"type": "auto"}),
    ],
)
def test_tool_choice(choice, parallel, expected):
    assert translate_tool_choice(choice, parallel) == expected


def test_tool_choice_without_tools_is_not_sent():
    params = build_params(request(tool_choice="required"))
    assert "tool_choice" not in params and "tools" not in params


@pytest.mark.parametrize(("stop", "expected"), [("END", ["END"]), (["a", "b"], ["a", "b"]), (None, None)])
def test_stop_becomes_stop_sequences(stop, expected):
    assert build_params(request(stop=stop)).get("stop_sequences") == expected


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        (None, "stop"),
    ],
)
def test_stop_reasons(stop_reason, finish):
    assert finish_reason(stop_reason) == finish


def test_usage_counts_cached_prompt_tokens_as_openai_does():
    usage = usage_of(
        {"input_tokens": 10, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 100, "output_tokens": 7}
    )
    assert usage.as_openai() == {"prompt_tokens": 115, "completion_tokens": 7, "total_tokens": 122}


@pytest.mark.parametrize(
    ("capability", "modes"),
    [
        (None, None),
        ("none", set()),
        (False, set()),
        ("budget", {"budget"}),
        (True, {"budget"}),
        ("adaptive", {"adaptive"}),
        (
            {"supported": True, "types": {"enabled": {"supported": False}, "adaptive": {"supported": True}}},
            {"adaptive"},
        ),
        ({"supported": False, "types": {"enabled": {"supported": False}, "adaptive": {"supported": False}}}, set()),
    ],
)
def test_thinking_modes_from_capabilities(capability, modes):
    capabilities = {} if capability is None else {"thinking": capability}
    assert thinking_modes(capabilities) == modes


@pytest.mark.parametrize(
    ("fields", "thinking", "max_tokens"),
    [
        # a budget within max_tokens is sent as is
        (
            {"max_tokens": 8000, "thinking": ThinkingConfig("budget", 2000)},
            {"type": "enabled", "budget_tokens": 2000},
            8000,
        ),
        # below Anthropic's minimum → 1024
        (
            {"max_tokens": 8000, "thinking": ThinkingConfig("budget", 100)},
            {"type": "enabled", "budget_tokens": 1024},
            8000,
        ),
        # budget ≥ max_tokens → max_tokens raised to keep the answer's room
        (
            {"max_tokens": 500, "thinking": ThinkingConfig("budget", 3000)},
            {"type": "enabled", "budget_tokens": 3000},
            3500,
        ),
        # … within the model's output limit, the budget clamped below it
        (
            {"max_tokens": 4000, "thinking": ThinkingConfig("budget", 8000), "max_output_tokens": 8192},
            {"type": "enabled", "budget_tokens": 8000},
            8192,
        ),
        (
            {"max_tokens": 4096, "thinking": ThinkingConfig("budget", 8192), "max_output_tokens": 8192},
            {"type": "enabled", "budget_tokens": 4096},
            8192,
        ),
        # no room for the minimum budget at all → no thinking
        ({"max_tokens": 1000, "thinking": ThinkingConfig("budget", 1024), "max_output_tokens": 1000}, None, 1000),
        # adaptive asked of a budget model → a budget (half of max_tokens)
        (
            {"max_tokens": 10000, "thinking": ThinkingConfig("adaptive"), "capabilities": {"thinking": "budget"}},
            {"type": "enabled", "budget_tokens": 5000},
            10000,
        ),
        # a model that does not think
        ({"thinking": ThinkingConfig("budget", 2000), "capabilities": {"thinking": "none"}}, None, 4096),
        # reasoning_effort alone on a budget model → a budget for that effort
        (
            {"max_tokens": 20000, "reasoning_effort": "medium", "capabilities": {"thinking": "budget"}},
            {"type": "enabled", "budget_tokens": 4096},
            20000,
        ),
        # reasoning_effort alone on a model of unknown thinking → nothing
        ({"reasoning_effort": "high"}, None, 4096),
        ({"thinking": ThinkingConfig("budget", 2000), "reasoning_effort": "none"}, None, 4096),
    ],
)
def test_budget_thinking_respects_anthropic_limits(fields, thinking, max_tokens):
    params = build_params(request(**fields))
    assert params.get("thinking") == thinking
    assert params["max_tokens"] == max_tokens
    if thinking:
        assert 1024 <= thinking["budget_tokens"] < params["max_tokens"]


def test_adaptive_models_get_adaptive_thinking_and_the_effort():
    params = build_params(
        request(thinking=ThinkingConfig("budget", 5000, effort="minimal"), capabilities={"thinking": "adaptive"})
    )
    assert params["thinking"] == {"type": "adaptive"}
    assert params["output_config"] == {"effort": "low"}
    params = build_params(request(reasoning_effort="high", capabilities={"thinking": "adaptive"}))
    assert (params["thinking"], params["output_config"]) == ({"type": "adaptive"}, {"effort": "high"})


def test_a_forced_tool_choice_drops_thinking():
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    params = build_params(request(tools=[tool], tool_choice="required", thinking=ThinkingConfig("budget", 2000)))
    assert "thinking" not in params
    assert params["tool_choice"] == {"type": "any"}


def test_sampling_parameters_are_not_sent():
    params = build_params(request(temperature=0.2, top_p=0.5))
    assert "temperature" not in params and "top_p" not in params


def test_response_formats():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    params = build_params(
        request(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
    )
    assert params["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    params = build_params(
        request(
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            response_format={"type": "json_object"},
        )
    )
    assert params["system"] == f"Be brief.\n\n{JSON_OBJECT_INSTRUCTION}"
    with pytest.raises(InvalidRequestError):
        build_params(request(response_format={"type": "json_schema", "json_schema": {"name": "x"}}))


def test_user_becomes_metadata():
    assert build_params(request(user="u-1"))["metadata"] == {"user_id": "u-1"}


def test_thinking_blocks_of_history_are_sent_only_with_thinking_and_only_when_signed():
    history = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": "a",
            "reasoning_content": "hmm",
            "thinking_blocks": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "thinking", "thinking": "unsigned"},
                {"type": "redacted_thinking", "data": "opaque"},
            ],
        },
        {"role": "user", "content": "more"},
    ]
    with_thinking = build_params(request(messages=history, thinking=ThinkingConfig("budget", 1024)))
    assert with_thinking["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "a"},
    ]
    without = build_params(request(messages=history))
    assert without["messages"][1] == {"role": "assistant", "content": "a"}


def test_message_body():
    message = {
        "id": "msg_1",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "Let me see.", "signature": "sig"},
            {"type": "text", "text": "Calling. "},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    body, usage = message_body(message, request())
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": "Calling. ",
        "reasoning_content": "Let me see.",
        "thinking_blocks": [{"type": "thinking", "thinking": "Let me see.", "signature": "sig"}],
        "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
    }
    assert (usage.prompt_tokens, usage.completion_tokens) == (3, 4)
    hidden, _ = message_body(message, request(show_thinking=False))
    assert "reasoning_content" not in hidden["choices"][0]["message"]
