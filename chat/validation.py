"""Strict validation of a chat completion request (OpenAI Chat Completions shape, SPEC §6).

Pure functions: a parsed JSON object in, a `ParsedRequest` out, or an
`InvalidRequest` (400) whose message names the field and whose `param` is its
path (`messages[2].content[0].image_url.url`). Nothing here knows providers,
defaults or presets: chat/params.py applies those to what was asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chat.body import json_type
from chat.errors import InvalidRequest

#: Forwarded to the adapters (when given).
FORWARDED = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "user",
        "reasoning_effort",
    }
)
#: OpenAI parameters accepted for compatibility and not forwarded (they change no answer we can give).
IGNORED = frozenset(
    {"seed", "presence_penalty", "frequency_penalty", "logit_bias", "metadata", "store", "service_tier"}
    | {"prompt_cache_key", "safety_identifier", "verbosity", "logprobs", "top_logprobs", "modalities"}
)
OWN = frozenset({"model", "messages", "stream", "stream_options", "n", "max_completion_tokens", "preset", "thinking"})
#: Known OpenAI parameters we cannot honour: refused by name rather than silently dropped.
UNSUPPORTED = {
    "functions": "use `tools`",
    "function_call": "use `tool_choice`",
    "audio": "audio output is not supported",
    "prediction": "predicted outputs are not supported",
    "web_search_options": "web search is not supported",
}
ROLES = ("system", "developer", "user", "assistant", "tool")
MESSAGE_FIELDS = {
    "system": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    # `thinking_blocks`: signed Anthropic thinking from an earlier answer, sent back with tool results.
    "assistant": {"role", "content", "name", "tool_calls", "refusal", "reasoning_content", "thinking_blocks"},
    "tool": {"role", "content", "tool_call_id"},
}
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_STOP_SEQUENCES = 4


@dataclass(slots=True)
class ParsedRequest:
    """What the client asked for, validated; `params` holds only the forwarded fields it gave."""

    model: str | None
    messages: list[dict[str, Any]]
    stream: bool = False
    include_usage: bool = False
    preset: str | None = None
    thinking: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _fail(message: str, param: str | None) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _expect(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise _fail(f"{path} must be {what}, not {json_type(value)}.", path)
    if not isinstance(value, kind):
        raise _fail(f"{path} must be {what}, not {json_type(value)}.", path)
    return value


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    _expect(value, (int, float), name, f"a number from {low} to {high}")
    if not low <= value <= high:
        raise _fail(f"{name} must be from {low} to {high}, not {value}.", name)
    return value


def _positive_int(value: Any, path: str) -> int:
    _expect(value, int, path, "a whole number")
    if value < 1:
        raise _fail(f"{path} must be at least 1, not {value}.", path)
    return value


def validate_request(body: dict[str, Any]) -> ParsedRequest:
    """Validate a parsed body; raise `InvalidRequest` naming the first wrong field."""
    for name in body:
        if name in UNSUPPORTED:
            raise _fail(f"{name} is not supported: {UNSUPPORTED[name]}.", name)
        if name not in FORWARDED and name not in IGNORED and name not in OWN:
            raise _fail(f"Unrecognized request argument supplied: {name}", name)
    model = body.get("model")
    if model is not None:
        _expect(model, str, "model", "a string (provider/model, a model id or an alias)")
    parsed = ParsedRequest(model=model or None, messages=validate_messages(body.get("messages")))
    _check_ignored(body)
    if body.get("stream") is not None:
        parsed.stream = _expect(body["stream"], bool, "stream", "a boolean")
    parsed.include_usage = _stream_options(body.get("stream_options"), stream=parsed.stream)
    n = body.get("n")
    if n is not None and _positive_int(n, "n") != 1:
        raise _fail("n must be 1: several choices per request are not supported.", "n")
    params = parsed.params
    for name, low, high in (("temperature", 0, 2), ("top_p", 0, 1)):
        value = _number(body, name, low, high)
        if value is not None:
            params[name] = value
    max_tokens = _max_tokens(body)
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if body.get("stop") is not None:
        params["stop"] = _stop(body["stop"])
    tools = _tools(body.get("tools"))
    if tools is not None:
        params["tools"] = tools
    if body.get("tool_choice") is not None:
        params["tool_choice"] = _tool_choice(body["tool_choice"], tools)
    if body.get("parallel_tool_calls") is not None:
        params["parallel_tool_calls"] = _expect(body["parallel_tool_calls"], bool, "parallel_tool_calls", "a boolean")
    if body.get("response_format") is not None:
        params["response_format"] = _response_format(body["response_format"])
    if body.get("user") is not None:
        params["user"] = _expect(body["user"], str, "user", "a string")
    if body.get("reasoning_effort") is not None:
        effort = body["reasoning_effort"]
        if effort not in REASONING_EFFORTS:
            raise _fail(f"reasoning_effort must be one of {', '.join(REASONING_EFFORTS)}.", "reasoning_effort")
        params["reasoning_effort"] = effort
    if body.get("preset") is not None:
        parsed.preset = _expect(body["preset"], str, "preset", "a string (a preset name)")
    if body.get("thinking") is not None:
        parsed.thinking = _thinking(body["thinking"])
    return parsed


def _check_ignored(body: dict[str, Any]) -> None:
    if body.get("logprobs") not in (None, False):
        raise _fail("logprobs is not supported.", "logprobs")
    if body.get("top_logprobs") not in (None, 0):
        raise _fail("top_logprobs is not supported.", "top_logprobs")
    modalities = body.get("modalities")
    if modalities not in (None, ["text"]):
        raise _fail('modalities must be ["text"]: only text output is supported.', "modalities")


def _stream_options(value: Any, *, stream: bool) -> bool:
    if value is None:
        return False
    if not stream:
        raise _fail("stream_options is only allowed when stream is true.", "stream_options")
    _expect(value, dict, "stream_options", "an object")
    for key in value:
        if key not in ("include_usage", "include_obfuscation"):
            raise _fail(f"stream_options.{key} is not a known option (include_usage).", f"stream_options.{key}")
    include = value.get("include_usage", False)
    if include is None:
        return False
    return _expect(include, bool, "stream_options.include_usage", "a boolean")


def _max_tokens(body: dict[str, Any]) -> int | None:
    max_tokens, max_completion = body.get("max_tokens"), body.get("max_completion_tokens")
    if max_tokens is not None:
        _positive_int(max_tokens, "max_tokens")
    if max_completion is not None:
        _positive_int(max_completion, "max_completion_tokens")
    if max_tokens is not None and max_completion is not None and max_tokens != max_completion:
        raise _fail(
            "Give max_completion_tokens or max_tokens (the older name), not both with different values.",
            "max_completion_tokens",
        )
    return max_completion if max_completion is not None else max_tokens


def _stop(value: Any) -> str | list[str]:
    if isinstance(value, str):
        return value
    _expect(value, list, "stop", "a string or an array of strings")
    if len(value) > MAX_STOP_SEQUENCES:
        raise _fail(f"stop takes at most {MAX_STOP_SEQUENCES} sequences.", "stop")
    for index, item in enumerate(value):
        _expect(item, str, f"stop[{index}]", "a string")
    return value


def _text_parts(content: list[Any], path: str, allowed: tuple[str, ...]) -> None:
    if not content:
        raise _fail(f"{path} must not be an empty array.", path)
    for index, part in enumerate(content):
        part_path = f"{path}[{index}]"
        _expect(part, dict, part_path, "a content part object")
        kind = part.get("type")
        if kind not in allowed:
            raise _fail(
                f"{part_path}.type must be one of {', '.join(allowed)}, not {kind!r}.",
                f"{part_path}.type",
            )
        if kind in ("text", "refusal"):
            if set(part) - {"type", kind}:
                raise _fail(
                    f"{part_path} has unknown fields: {', '.join(sorted(set(part) - {'type', kind}))}.", part_path
                )
            _expect(part.get(kind), str, f"{part_path}.{kind}", "a string")
        else:
            _image_part(part, part_path)


def _image_part(part: dict[str, Any], path: str) -> None:
    if set(part) - {"type", "image_url"}:
        raise _fail(f"{path} has unknown fields: {', '.join(sorted(set(part) - {'type', 'image_url'}))}.", path)
    image = _expect(part.get("image_url"), dict, f"{path}.image_url", 'an object {"url": …}')
    if set(image) - {"url", "detail"}:
        raise _fail(f"{path}.image_url has unknown fields.", f"{path}.image_url")
    url = _expect(image.get("url"), str, f"{path}.image_url.url", "a string")
    if not (url.startswith(("https://", "http://")) or re.match(r"^data:image/[a-z0-9.+-]+;base64,", url)):
        raise _fail(
            f"{path}.image_url.url must be an http(s) URL or a data:image/…;base64, URL.", f"{path}.image_url.url"
        )
    if image.get("detail") not in (None, "auto", "low", "high"):
        raise _fail(f"{path}.image_url.detail must be auto, low or high.", f"{path}.image_url.detail")


def _content(message: dict[str, Any], role: str, path: str) -> None:
    content = message.get("content")
    path = f"{path}.content"
    if content is None:
        if role == "assistant" and message.get("tool_calls"):
            return
        raise _fail(f"{path} is required.", path)
    if isinstance(content, str):
        return
    _expect(content, list, path, "a string or an array of content parts")
    allowed = {"user": ("text", "image_url"), "assistant": ("text", "refusal")}.get(role, ("text",))
    _text_parts(content, path, allowed)


def _tool_calls(value: Any, path: str) -> list[str]:
    _expect(value, list, path, "an array")
    ids = []
    for index, call in enumerate(value):
        call_path = f"{path}[{index}]"
        _expect(call, dict, call_path, "a tool call object")
        if set(call) - {"id", "type", "function"}:
            raise _fail(f"{call_path} has unknown fields.", call_path)
        ids.append(_expect(call.get("id"), str, f"{call_path}.id", "a string"))
        if call.get("type", "function") != "function":
            raise _fail(f'{call_path}.type must be "function".', f"{call_path}.type")
        function = _expect(call.get("function"), dict, f"{call_path}.function", "an object")
        _expect(function.get("name"), str, f"{call_path}.function.name", "a string")
        _expect(function.get("arguments"), str, f"{call_path}.function.arguments", "a string (JSON text)")
    return ids


def validate_messages(messages: Any) -> list[dict[str, Any]]:
    """Check roles, fields, content parts and tool-call pairing; `developer` becomes `system`."""
    if messages is None:
        raise _fail("messages is required.", "messages")
    _expect(messages, list, "messages", "an array of messages")
    if not messages:
        raise _fail("messages must contain at least one message.", "messages")
    cleaned: list[dict[str, Any]] = []
    open_calls: set[str] = set()
    for index, message in enumerate(messages):
        path = f"messages[{index}]"
        _expect(message, dict, path, "a message object")
        role = message.get("role")
        if role == "function":
            raise _fail(f"{path}.role 'function' is no longer supported: use 'tool' messages.", f"{path}.role")
        if role not in ROLES:
            raise _fail(f"{path}.role must be one of {', '.join(ROLES)}, not {role!r}.", f"{path}.role")
        role = "system" if role == "developer" else role
        unknown = set(message) - MESSAGE_FIELDS[role]
        if unknown:
            raise _fail(f"{path} has unknown fields for a {role} message: {', '.join(sorted(unknown))}.", path)
        if message.get("name") is not None:
            _expect(message["name"], str, f"{path}.name", "a string")
        _content(message, role, path)
        if role == "assistant" and message.get("thinking_blocks") is not None:
            blocks = _expect(message["thinking_blocks"], list, f"{path}.thinking_blocks", "an array")
            for number, block in enumerate(blocks):
                _expect(block, dict, f"{path}.thinking_blocks[{number}]", "a thinking block object")
        if role == "assistant" and message.get("tool_calls") is not None:
            open_calls.update(_tool_calls(message["tool_calls"], f"{path}.tool_calls"))
        if role == "tool":
            call_id = _expect(message.get("tool_call_id"), str, f"{path}.tool_call_id", "a string")
            if call_id not in open_calls:
                raise _fail(
                    f"{path} answers tool call {call_id!r}, which no earlier assistant message made.",
                    f"{path}.tool_call_id",
                )
        # Earlier answers' reasoning is shown to the client, never sent back upstream.
        cleaned.append({k: v for k, v in message.items() if k != "reasoning_content"} | {"role": role})
    return cleaned


def _tools(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    _expect(value, list, "tools", "an array of tools")
    names: set[str] = set()
    for index, tool in enumerate(value):
        path = f"tools[{index}]"
        _expect(tool, dict, path, "a tool object")
        if tool.get("type") != "function" or set(tool) - {"type", "function"}:
            raise _fail(f'{path} must be {{"type": "function", "function": {{…}}}}.', path)
        function = _expect(tool.get("function"), dict, f"{path}.function", "an object")
        if set(function) - {"name", "description", "parameters", "strict"}:
            unknown = ", ".join(sorted(set(function) - {"name", "description", "parameters", "strict"}))
            raise _fail(f"{path}.function has unknown fields: {unknown}.", f"{path}.function")
        name = _expect(function.get("name"), str, f"{path}.function.name", "a string")
        if not TOOL_NAME_RE.match(name):
            raise _fail(f"{path}.function.name must be 1-64 letters, digits, _ or -.", f"{path}.function.name")
        if name in names:
            raise _fail(f"{path}.function.name {name!r} is used by another tool.", f"{path}.function.name")
        names.add(name)
        if function.get("description") is not None:
            _expect(function["description"], str, f"{path}.function.description", "a string")
        if function.get("parameters") is not None:
            _expect(function["parameters"], dict, f"{path}.function.parameters", "a JSON Schema object")
        if function.get("strict") is not None:
            _expect(function["strict"], bool, f"{path}.function.strict", "a boolean")
    return value


def _tool_choice(value: Any, tools: list[dict[str, Any]] | None) -> str | dict[str, Any]:
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise _fail("tool_choice must be none, auto, required or a function object.", "tool_choice")
        if value != "none" and not tools:
            raise _fail(f"tool_choice {value!r} needs tools.", "tool_choice")
        return value
    _expect(value, dict, "tool_choice", "a string or an object")
    function = value.get("function")
    if value.get("type") != "function" or not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise _fail('tool_choice must be {"type": "function", "function": {"name": …}}.', "tool_choice")
    if function["name"] not in {t["function"]["name"] for t in tools or ()}:
        raise _fail(f"tool_choice names {function['name']!r}, which is not in tools.", "tool_choice.function.name")
    return value


def _response_format(value: Any) -> dict[str, Any]:
    _expect(value, dict, "response_format", "an object")
    kind = value.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise _fail("response_format.type must be text, json_object or json_schema.", "response_format.type")
    if kind == "json_schema":
        schema = _expect(value.get("json_schema"), dict, "response_format.json_schema", "an object")
        _expect(schema.get("name"), str, "response_format.json_schema.name", "a string")
        if schema.get("schema") is not None:
            _expect(schema["schema"], dict, "response_format.json_schema.schema", "a JSON Schema object")
    elif set(value) - {"type"}:
        raise _fail(f"response_format of type {kind} takes no other field.", "response_format")
    return value


def _thinking(value: Any) -> dict[str, Any]:
    _expect(value, dict, "thinking", 'an object such as {"type": "enabled", "budget_tokens": 2048}')
    kind = value.get("type")
    if kind == "enabled":
        if set(value) - {"type", "budget_tokens"}:
            raise _fail("thinking of type enabled takes only budget_tokens.", "thinking")
        budget = value.get("budget_tokens")
        if budget is not None:
            _positive_int(budget, "thinking.budget_tokens")
            if budget < 1024:
                raise _fail("thinking.budget_tokens must be at least 1024.", "thinking.budget_tokens")
        return {"type": "enabled", "budget_tokens": budget}
    if kind in ("adaptive", "disabled"):
        if set(value) - {"type"}:
            raise _fail(f"thinking of type {kind} takes no other field.", "thinking")
        return {"type": kind}
    raise _fail("thinking.type must be enabled, adaptive or disabled.", "thinking.type")
