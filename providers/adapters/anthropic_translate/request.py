"""OpenAI Chat Completions request → Anthropic Messages request (pure functions, no I/O, no SDK).

`build_params()` turns a `ChatRequest` into the keyword arguments of
`messages.create`. Input the translation cannot express is an
`InvalidRequestError` naming the field, raised before anything is sent.

Thinking follows what the model accepts (`capabilities.thinking`): `budget`
models get `{"type": "enabled", "budget_tokens": N}` with 1024 ≤ N < max_tokens,
`adaptive` models get `{"type": "adaptive"}` and the effort in
`output_config.effort`, `none` models get no thinking. Anthropic refuses a forced
tool choice together with thinking, so thinking is left out then. Sampling
parameters (`temperature`, `top_p`) are not sent: the current Messages API (the
installed SDK's `messages.create`) has none.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from providers.adapters.base import ChatRequest
from providers.adapters.errors import InvalidRequestError

#: max_tokens when neither the request nor the model gives one (Anthropic requires it).
DEFAULT_MAX_TOKENS = 4096
#: Anthropic's smallest thinking budget.
MIN_THINKING_BUDGET = 1024
#: Budget for a reasoning effort on a budget-thinking model, when no budget is given.
EFFORT_BUDGETS = {"low": 1024, "medium": 4096, "high": 16000, "xhigh": 24000, "max": 32000}
#: OpenAI reasoning_effort → Anthropic effort.
EFFORTS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "max"}
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
JSON_OBJECT_INSTRUCTION = "Answer with a single JSON object and nothing else."
_DATA_URL = re.compile(r"^data:(?P<type>[\w/+.-]+)(?:;[\w=-]+)*;base64,(?P<data>.*)$", re.DOTALL)


def _invalid(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code="invalid_request")


# --- request ---------------------------------------------------------------------------


def build_params(request: ChatRequest) -> dict[str, Any]:
    """The keyword arguments of `messages.create` (without `stream`)."""
    model_limit = request.max_output_tokens
    max_tokens = request.max_tokens or model_limit or DEFAULT_MAX_TOKENS
    tools = translate_tools(request.tools)
    tool_choice = translate_tool_choice(request.tool_choice, request.parallel_tool_calls) if tools else None
    forced_tool = (tool_choice or {}).get("type") in ("any", "tool")
    thinking, effort, max_tokens = shape_thinking(request, max_tokens, model_limit, forced_tool=forced_tool)
    system, messages = translate_messages(request.messages, with_thinking=thinking is not None)
    params: dict[str, Any] = {"model": request.model, "messages": messages, "max_tokens": max_tokens}
    if thinking is not None:
        params["thinking"] = thinking
    output_config: dict[str, Any] = {}
    if effort is not None:
        output_config["effort"] = effort
    response_format = request.response_format or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise _invalid("response_format.json_schema.schema must be a JSON schema object.", "response_format")
        output_config["format"] = {"type": "json_schema", "schema": schema}
    elif response_format.get("type") == "json_object":
        # Anthropic has no "any JSON object" mode: say it in the system prompt.
        system = f"{system}\n\n{JSON_OBJECT_INSTRUCTION}" if system else JSON_OBJECT_INSTRUCTION
    if output_config:
        params["output_config"] = output_config
    if system:
        params["system"] = system
    # temperature and top_p are not sent: the Messages API of anthropic 2.x (API version
    # 2026-10-21) has no sampling parameters (the SDK's `messages.create` takes none), and
    # generation defaults and presets set a temperature for every request.
    if request.stop:
        params["stop_sequences"] = [request.stop] if isinstance(request.stop, str) else list(request.stop)
    if tools:
        params["tools"] = tools
        if tool_choice is not None:
            params["tool_choice"] = tool_choice
    if request.user:
        params["metadata"] = {"user_id": request.user}
    return params


def thinking_modes(capabilities: dict[str, Any]) -> set[str] | None:
    """The thinking types a model accepts (`budget`, `adaptive`), or None when unknown.

    `capabilities.thinking` is `none`/`budget`/`adaptive` (or a bool), or Anthropic's
    own `{"supported": …, "types": {"enabled": {"supported": …}, "adaptive": …}}`.
    """
    value = capabilities.get("thinking")
    if value is None:
        return None
    if isinstance(value, dict):
        types = value.get("types") or {}
        modes = set()
        if (types.get("enabled") or {}).get("supported"):
            modes.add("budget")
        if (types.get("adaptive") or {}).get("supported"):
            modes.add("adaptive")
        if not types and value.get("supported"):
            modes.add("budget")
        return modes
    if value is True or value == "budget":
        return {"budget"}
    if value == "adaptive":
        return {"adaptive"}
    return set()


def shape_thinking(
    request: ChatRequest, max_tokens: int, model_limit: int | None, *, forced_tool: bool = False
) -> tuple[dict[str, Any] | None, str | None, int]:
    """(thinking param or None, output effort or None, max_tokens) for what the model accepts."""
    asked = request.thinking
    effort = EFFORTS.get((asked.effort if asked else None) or request.reasoning_effort or "")
    modes = thinking_modes(request.capabilities)
    if request.reasoning_effort == "none" or forced_tool:
        # Anthropic refuses thinking with a forced tool choice: the forced tool call wins.
        return None, None, max_tokens
    if asked is None:
        if effort is None or not modes:
            return None, None, max_tokens
        mode = "adaptive" if "adaptive" in modes else "budget"
    else:
        if modes is not None and not modes:
            return None, None, max_tokens
        mode = asked.mode if modes is None or asked.mode in modes else next(iter(sorted(modes)))
    if mode == "adaptive":
        return {"type": "adaptive"}, effort, max_tokens
    budget = (asked.budget_tokens if asked else None) or EFFORT_BUDGETS.get(effort or "") or max_tokens // 2
    budget = max(budget, MIN_THINKING_BUDGET)
    if budget >= max_tokens:
        # Keep the room asked for the answer on top of the budget, within what the model can produce.
        max_tokens = budget + max_tokens
        if model_limit:
            max_tokens = min(max_tokens, model_limit)
    if budget >= max_tokens:
        budget = max(max_tokens // 2, MIN_THINKING_BUDGET)
        if budget >= max_tokens:
            return None, None, max_tokens
    return {"type": "enabled", "budget_tokens": budget}, None, max_tokens


def translate_messages(
    messages: list[dict[str, Any]], *, with_thinking: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """(system prompt, Anthropic messages): system messages lifted out, tool results as user turns,
    consecutive turns of one role merged (Anthropic alternates user and assistant).

    `with_thinking`: an assistant message's signed `thinking_blocks` (from an earlier
    answer of ours) go first in its content, as Anthropic requires when a tool-use
    loop continues with thinking on.
    """
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        where = f"messages[{index}]"
        if role in ("system", "developer"):
            text = _text_only(message.get("content"), f"{where}.content")
            if text:
                system.append(text)
            continue
        if role == "user":
            blocks = content_blocks(message.get("content"), f"{where}.content")
        elif role == "assistant":
            blocks = _assistant_blocks(message, where)
            if with_thinking:
                blocks = _signed_thinking(message.get("thinking_blocks")) + blocks
        elif role == "tool":
            if not message.get("tool_call_id"):
                raise _invalid(f"{where}.tool_call_id is required for a tool message.", f"{where}.tool_call_id")
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message["tool_call_id"]}
            content = message.get("content")
            result["content"] = content if isinstance(content, str) else content_blocks(content, f"{where}.content")
            blocks, role = [result], "user"
        else:
            raise _invalid(f"{where}.role {role!r} cannot be sent to Anthropic.", f"{where}.role")
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return "\n\n".join(system), [_compact(m) for m in out]


def _compact(message: dict[str, Any]) -> dict[str, Any]:
    """A lone text block back to a plain string (what people write, and what tests read)."""
    content = message["content"]
    if len(content) == 1 and content[0]["type"] == "text" and set(content[0]) == {"type", "text"}:
        return {**message, "content": content[0]["text"]}
    return message


def _signed_thinking(blocks: Any) -> list[dict[str, Any]]:
    """The thinking blocks Anthropic will take back: signed thinking, or redacted thinking with its data."""
    if not isinstance(blocks, list):
        return []
    kept = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "thinking" and block.get("signature"):
            kept.append({"type": "thinking", "thinking": block.get("thinking") or "", "signature": block["signature"]})
        elif block.get("type") == "redacted_thinking" and block.get("data"):
            kept.append({"type": "redacted_thinking", "data": block["data"]})
    return kept


def _assistant_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    content = message.get("content")
    blocks = [] if content is None else content_blocks(content, f"{where}.content", assistant=True)
    for number, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        arguments = function.get("arguments") or "{}"
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            raise _invalid(
                f"{where}.tool_calls[{number}].function.arguments is not valid JSON.",
                f"{where}.tool_calls[{number}].function.arguments",
            ) from None
        if not isinstance(parsed, dict):
            raise _invalid(
                f"{where}.tool_calls[{number}].function.arguments must be a JSON object.",
                f"{where}.tool_calls[{number}].function.arguments",
            )
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": parsed})
    return blocks


def content_blocks(content: Any, where: str, *, assistant: bool = False) -> list[dict[str, Any]]:
    """Anthropic content blocks for OpenAI content (a string or a list of parts); empty text is left out."""
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _invalid(f"{where} must be a string or a list of content parts.", where)
    blocks: list[dict[str, Any]] = []
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" or (assistant and kind == "refusal"):
            text = part.get("text") if kind == "text" else part.get("refusal")
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url" and not assistant:
            url = (part.get("image_url") or {}).get("url") if isinstance(part.get("image_url"), dict) else None
            blocks.append(image_block(url, f"{where}[{number}].image_url.url"))
        else:
            raise _invalid(f"{where}[{number}] has a content part type ({kind!r}) Anthropic cannot take.", where)
    return blocks


def image_block(url: Any, where: str) -> dict[str, Any]:
    """A `data:` URL → a base64 source; an http(s) URL → a url source."""
    if not isinstance(url, str) or not url:
        raise _invalid(f"{where} is required.", where)
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    match = _DATA_URL.match(url)
    if not match:
        raise _invalid(f"{where} must be an http(s) URL or a base64 data: URL.", where)
    media_type, data = match.group("type").lower(), match.group("data").strip()
    if media_type not in IMAGE_TYPES:
        raise _invalid(f"{where}: Anthropic accepts {', '.join(sorted(IMAGE_TYPES))}, not {media_type}.", where)
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"{where} holds data that is not valid base64.", where) from None
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _text_only(content: Any, where: str) -> str:
    return "\n".join(b["text"] for b in content_blocks(content, where, assistant=True))


def translate_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for number, tool in enumerate(tools or []):
        function = tool.get("function") if tool.get("type", "function") == "function" else None
        if not isinstance(function, dict) or not function.get("name"):
            raise _invalid(f"tools[{number}] must be a function tool with a name.", f"tools[{number}]")
        entry: dict[str, Any] = {
            "name": function["name"],
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            entry["description"] = function["description"]
        out.append(entry)
    return out


def translate_tool_choice(choice: str | dict[str, Any] | None, parallel: bool | None) -> dict[str, Any] | None:
    """auto/none/required → auto/none/any, a named function → tool; parallel_tool_calls=false → disable_parallel."""
    if choice is None:
        result: dict[str, Any] | None = {"type": "auto"} if parallel is False else None
    elif choice in ("auto", "none"):
        result = {"type": choice}
    elif choice == "required":
        result = {"type": "any"}
    elif isinstance(choice, dict) and (choice.get("function") or {}).get("name"):
        result = {"type": "tool", "name": choice["function"]["name"]}
    else:
        raise _invalid("tool_choice must be auto, none, required or a named function.", "tool_choice")
    if result is not None and parallel is False and result["type"] != "none":
        result["disable_parallel_tool_use"] = True
    return result
