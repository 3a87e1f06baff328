"""chat/validation.py and chat/body.py: what a /v1 body must look like, as pure functions."""

from __future__ import annotations

import json

import pytest

from chat.body import MAX_BODY_BYTES, find_steering_field, read_body
from chat.errors import InvalidRequest, PayloadTooLarge
from chat.validation import validate_request

USER = [{"role": "user", "content": "hi"}]


def _body(**fields):
    return {"model": "echo/echo", "messages": USER, **fields}


def test_minimal_request():
    parsed = validate_request(_body())
    assert parsed.model == "echo/echo"
    assert parsed.messages == USER
    assert parsed.stream is False and parsed.include_usage is False and parsed.params == {}


def test_forwarded_fields_are_kept_and_max_completion_tokens_wins_its_alias():
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    parsed = validate_request(
        _body(
            temperature=0.5,
            top_p=1,
            max_completion_tokens=100,
            stop=["x"],
            tools=tools,
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            parallel_tool_calls=False,
            response_format={"type": "json_object"},
            user="u1",
            reasoning_effort="low",
            stream=True,
            stream_options={"include_usage": True},
            seed=3,
            n=1,
        )
    )
    assert parsed.params["max_tokens"] == 100
    assert parsed.params["tools"] == tools
    assert parsed.params["reasoning_effort"] == "low"
    assert parsed.stream and parsed.include_usage
    assert "seed" not in parsed.params


def test_developer_role_becomes_system_and_reasoning_is_not_sent_back():
    parsed = validate_request(
        _body(
            messages=[
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello", "reasoning_content": "thought"},
                {"role": "user", "content": "again"},
            ]
        )
    )
    assert parsed.messages[0]["role"] == "system"
    assert "reasoning_content" not in parsed.messages[2]


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"messages": []}, "messages", "at least one"),
        ({"messages": None}, "messages", "required"),
        ({"messages": "hi"}, "messages", "array"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "robot"),
        ({"messages": [{"role": "function", "content": "x", "name": "f"}]}, "messages[0].role", "tool"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "required"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content", "number"),
        ({"messages": [{"role": "user", "content": "x", "extra": 1}]}, "messages[0]", "extra"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages[0].content[0].type", "audio"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///x"}}]}]},
            "messages[0].content[0].image_url.url",
            "data:image",
        ),
        (
            {"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}]},
            "messages[0].content[0].type",
            "text",
        ),
        (
            {"messages": [{"role": "tool", "content": "42", "tool_call_id": "call_1"}]},
            "messages[0].tool_call_id",
            "no earlier",
        ),
        ({"model": 4}, "model", "string"),
        ({"temperature": "hot"}, "temperature", "string"),
        ({"temperature": 3}, "temperature", "from 0 to 2"),
        ({"top_p": True}, "top_p", "boolean"),
        ({"max_tokens": 0}, "max_tokens", "at least 1"),
        ({"max_tokens": 1.5}, "max_tokens", "whole number"),
        ({"max_tokens": 10, "max_completion_tokens": 20}, "max_completion_tokens", "not both"),
        ({"n": 2}, "n", "several choices"),
        ({"stream": "yes"}, "stream", "boolean"),
        ({"stream_options": {"include_usage": True}}, "stream_options", "only allowed when stream"),
        ({"stream": True, "stream_options": {"include_usage": "1"}}, "stream_options.include_usage", "boolean"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools[0].function.name", "letters"),
        ({"tool_choice": "required"}, "tool_choice", "needs tools"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "a"}}],
                "tool_choice": {"type": "function", "function": {"name": "b"}},
            },
            "tool_choice.function.name",
            "not in tools",
        ),
        ({"response_format": {"type": "xml"}}, "response_format.type", "json_object"),
        ({"reasoning_effort": "max"}, "reasoning_effort", "one of"),
        ({"thinking": {"type": "enabled", "budget_tokens": 100}}, "thinking.budget_tokens", "1024"),
        ({"thinking": {"type": "sometimes"}}, "thinking.type", "enabled, adaptive"),
        ({"logprobs": True}, "logprobs", "not supported"),
        ({"functions": []}, "functions", "tools"),
        ({"frobnicate": 1}, "frobnicate", "Unrecognized"),
    ],
)
def test_bad_fields_are_named(fields, param, words):
    with pytest.raises(InvalidRequest) as caught:
        validate_request(_body(**fields))
    assert caught.value.param == param
    assert words in caught.value.message


def test_tool_round_trip_history_is_valid():
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    assert validate_request(_body(messages=messages)).messages[2]["tool_call_id"] == "call_1"


# --- body reading and the steering guard ---------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "empty"),
        (b"{not json", "could not parse"),
        (b"[1, 2]", "JSON object"),
        (b'{"a": NaN}', "could not parse"),
        ('{"model": "é"}'.encode("latin-1"), "UTF-8"),
        (b"[" * 100_000, "could not parse"),
    ],
)
def test_unreadable_bodies_are_400(raw, words):
    with pytest.raises(InvalidRequest) as caught:
        read_body(raw)
    assert words in caught.value.message


def test_oversized_bodies_are_413_before_parsing():
    with pytest.raises(PayloadTooLarge):
        read_body(b"{}", content_length=str(MAX_BODY_BYTES + 1))
    with pytest.raises(PayloadTooLarge):
        read_body(b" " * (MAX_BODY_BYTES + 1))


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"base_url": "http://evil"}, "base_url"),
        ({"api_key": "sk-x"}, "api_key"),
        ({"baseURL": "http://evil"}, "baseURL"),
        ({"Api-Base": "http://evil"}, "Api-Base"),
        ({"extra_headers": {}}, "extra_headers"),
        ({"default_headers": {}}, "default_headers"),
        ({"organization": "org"}, "organization"),
        ({"messages": [{"role": "user", "content": "x", "headers": {"x": "y"}}]}, "messages[0].headers"),
        ({"metadata": {"deep": [{"api_key": "k"}]}}, "metadata.deep[0].api_key"),
        (
            {
                "tools": [
                    {"type": "function", "function": {"name": "t", "parameters": {"type": "object", "api_base": 1}}}
                ]
            },
            "tools[0].function.parameters.api_base",
        ),
    ],
)
def test_steering_fields_anywhere_are_refused(body, path):
    assert find_steering_field(body)[1] == path
    with pytest.raises(InvalidRequest) as caught:
        read_body(json.dumps(body).encode())
    assert caught.value.param == path
    assert caught.value.code == "forbidden_field"


def test_tool_argument_names_are_not_fields():
    """An HTTP tool may well take an argument called `headers`: a schema's property names are data."""
    schema = {
        "type": "object",
        "properties": {"headers": {"type": "object"}, "url": {"type": "string"}},
        "required": ["headers"],
    }
    body = {"tools": [{"type": "function", "function": {"name": "http", "parameters": schema}}]}
    assert find_steering_field(body) is None
    schema["properties"]["url"]["base_url"] = "x"  # but a field inside a property's schema is still a field
    assert find_steering_field(body) is not None
