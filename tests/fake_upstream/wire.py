"""Wire formats of the fake upstream: OpenAI Chat Completions and Anthropic Messages, bodies and SSE frames.

Pure functions from a resolved answer (`Answer`) to what each vendor puts on the
wire, so `server.py` only decides *what* to answer and *when*. Shapes follow the
vendors' API references (and the installed SDKs' types) field for field.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

#: OpenAI finish_reason → Anthropic stop_reason.
ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}

#: status → (OpenAI error type, OpenAI code, Anthropic error type), as the vendors send them.
ERROR_TYPES: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "invalid_request_error"),
    401: ("invalid_request_error", "invalid_api_key", "authentication_error"),
    403: ("permission_error", "unsupported_country_region_territory", "permission_error"),
    404: ("invalid_request_error", "model_not_found", "not_found_error"),
    408: ("timeout", None, "timeout_error"),
    413: ("invalid_request_error", "request_too_large", "request_too_large"),
    422: ("invalid_request_error", None, "invalid_request_error"),
    429: ("requests", "rate_limit_exceeded", "rate_limit_error"),
    500: ("server_error", None, "api_error"),
    502: ("server_error", None, "api_error"),
    503: ("server_error", None, "overloaded_error"),
    504: ("timeout", None, "timeout_error"),
    529: ("server_error", None, "overloaded_error"),
}

DEFAULT_MESSAGES = {
    400: "Invalid request.",
    401: "Incorrect API key provided: sk-fa************************cret.",
    403: "You are not allowed to use this model.",
    404: "The model does not exist or you do not have access to it.",
    408: "Request timed out.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Rate limit reached for requests.",
    500: "The server had an error while processing your request.",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
    504: "Gateway timeout.",
    529: "Overloaded",
}


@dataclass
class Answer:
    """What the fake model answers, before it is put into a vendor's wire format."""

    model: str
    text: str
    thinking: str | None = None
    signature: str = "fake-signature"
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"id", "name", "arguments": str}
    finish_reason: str = "stop"  # OpenAI vocabulary
    stop_sequence: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    request_id: str = "req_fake"
    message_id: str = "fake"
    #: Sent as the OpenAI `usage` object instead of the counted tokens (Behaviour.usage_body).
    usage_body: dict[str, Any] | None = None


def pieces(text: str) -> list[str]:
    """Split text into word-sized "tokens" (a word with its trailing spaces)."""
    return re.findall(r"\S+\s*|\s+", text)


def fragments(text: str, size: int = 8) -> list[str]:
    """Split a JSON string into fixed-size fragments, as streamed tool arguments arrive."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def count_tokens(value: Any) -> int:
    """A deterministic token count: the words in every string found in `value`."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, dict):
        return sum(count_tokens(v) for k, v in value.items() if k not in {"type", "role", "id", "tool_use_id"})
    if isinstance(value, list):
        return sum(count_tokens(v) for v in value)
    return 0


# --- OpenAI -------------------------------------------------------------------------


def openai_completion(answer: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None, "refusal": None}
    if answer.thinking:
        # What OpenAI-compatible servers (DeepSeek, vLLM, OpenRouter) send.
        message["reasoning_content"] = answer.thinking
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}
            for call in answer.tool_calls
        ]
    return {
        "id": f"chatcmpl-{answer.message_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish_reason}],
        "usage": openai_usage(answer),
    }


def openai_usage(answer: Answer) -> dict[str, Any]:
    if answer.usage_body is not None:
        return answer.usage_body
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
    }


def openai_chunks(answer: Answer, *, include_usage: bool) -> list[str]:
    """The `data: …` payloads of a streamed answer, `[DONE]` last."""
    created = int(time.time())

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {
            "id": f"chatcmpl-{answer.message_id}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": answer.model,
            "system_fingerprint": "fp_fake",
            "choices": [],
        }
        if delta is not None:
            body["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        if include_usage:
            body["usage"] = None
        body.update(extra)
        return json.dumps(body)

    frames = [chunk({"role": "assistant", "content": "", "refusal": None})]
    frames += [chunk({"reasoning_content": piece}) for piece in pieces(answer.thinking or "")]
    frames += [chunk({"content": piece}) for piece in pieces(answer.text)]
    for index, call in enumerate(answer.tool_calls):
        function = {"name": call["name"], "arguments": ""}
        first = {"index": index, "id": call["id"], "type": "function", "function": function}
        frames.append(chunk({"tool_calls": [first]}))
        frames += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
            for part in fragments(call["arguments"])
        ]
    frames.append(chunk({}, answer.finish_reason))
    if include_usage:
        frames.append(chunk(None, usage=openai_usage(answer)))
    frames.append("[DONE]")
    return frames


def openai_error(status: int, message: str, error_type: str | None, code: str | None) -> dict[str, Any]:
    default_type, default_code, _ = ERROR_TYPES.get(status, ("server_error", None, "api_error"))
    error = {"message": message, "type": error_type or default_type, "param": None, "code": code or default_code}
    return {"error": error}


def openai_models(models: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": models}


# --- Anthropic ----------------------------------------------------------------------


def anthropic_blocks(answer: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if answer.thinking:
        blocks.append({"type": "thinking", "thinking": answer.thinking, "signature": answer.signature})
    if answer.text or not answer.tool_calls:
        blocks.append({"type": "text", "text": answer.text, "citations": None})
    for call in answer.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call["id"], "name": call["name"], "input": json.loads(call["arguments"] or "{}")}
        )
    return blocks


def anthropic_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def anthropic_message(answer: Answer) -> dict[str, Any]:
    return {
        "id": f"msg_{answer.message_id}",
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": anthropic_blocks(answer),
        "stop_reason": ANTHROPIC_STOP.get(answer.finish_reason, answer.finish_reason),
        "stop_sequence": answer.stop_sequence,
        "usage": anthropic_usage(answer.input_tokens, answer.output_tokens),
    }


def anthropic_events(answer: Answer) -> list[tuple[str, str]]:
    """(event name, data) pairs of a streamed answer, in Anthropic's exact order."""
    events: list[tuple[str, dict[str, Any]]] = []
    start = anthropic_message(answer)
    start.update(content=[], stop_reason=None, stop_sequence=None, usage=anthropic_usage(answer.input_tokens, 1))
    events.append(("message_start", {"type": "message_start", "message": start}))
    events.append(("ping", {"type": "ping"}))
    for index, block in enumerate(anthropic_blocks(answer)):
        if block["type"] == "thinking":
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif block["type"] == "text":
            opening = {"type": "text", "text": "", "citations": None}
            deltas = [{"type": "text_delta", "text": p} for p in pieces(block["text"])]
        else:
            opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            arguments = json.dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": part} for part in fragments(arguments)]
        start_block = {"type": "content_block_start", "index": index, "content_block": opening}
        events.append(("content_block_start", start_block))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    stop = {"stop_reason": start["stop_reason"] or ANTHROPIC_STOP.get(answer.finish_reason, answer.finish_reason)}
    stop["stop_sequence"] = answer.stop_sequence
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": stop,
                "usage": {"output_tokens": answer.output_tokens, "input_tokens": answer.input_tokens},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return [(name, json.dumps(data)) for name, data in events]


def anthropic_error(status: int, message: str, error_type: str | None, request_id: str) -> dict[str, Any]:
    default_type = ERROR_TYPES.get(status, ("", None, "api_error"))[2]
    error = {"type": error_type or default_type, "message": message}
    return {"type": "error", "error": error, "request_id": request_id}


def anthropic_model(
    model_id: str,
    *,
    display_name: str | None = None,
    created_at: str = "2025-09-29T00:00:00Z",
    max_input_tokens: int | None = 200_000,
    max_tokens: int | None = 64_000,
    thinking: str = "budget",
    vision: bool = True,
    lifecycle: str = "active",
) -> dict[str, Any]:
    """An Anthropic `ModelInfo` (anthropic/types/model_info.py), capabilities included.

    `thinking` is `none`, `budget` (accepts `{"type": "enabled", "budget_tokens": N}`)
    or `adaptive` (accepts only `{"type": "adaptive"}`).
    """

    def yes(flag: bool) -> dict[str, bool]:
        return {"supported": flag}

    effort = thinking == "adaptive"
    capabilities = {
        "batch": yes(True),
        "citations": yes(True),
        "code_execution": yes(False),
        "context_management": {"supported": False},
        "effort": {
            "supported": effort,
            "low": yes(effort),
            "medium": yes(effort),
            "high": yes(effort),
            "max": yes(effort),
        },
        "image_input": yes(vision),
        "pdf_input": yes(vision),
        "server_tools": {"supported": False, "code_execution": yes(False), "web_search": yes(False)},
        "structured_outputs": yes(True),
        "thinking": {
            "supported": thinking != "none",
            "types": {
                "adaptive": yes(thinking == "adaptive"),
                "between_tools": yes(False),
                "disabled": yes(True),
                "enabled": yes(thinking == "budget"),
            },
        },
    }
    return {
        "id": model_id,
        "type": "model",
        "display_name": display_name or model_id.replace("-", " ").title(),
        "created_at": created_at,
        "lifecycle": lifecycle,
        "deprecated_at": None,
        "retires_at": None,
        "line": None,
        "max_input_tokens": max_input_tokens,
        "max_tokens": max_tokens,
        "capabilities": capabilities,
    }


def anthropic_page(models: list[dict[str, Any]], *, after_id: str | None, before_id: str | None, limit: int):
    """One page of Anthropic's `GET /v1/models` (newest first, cursor pagination)."""
    ids = [str(_entry_id(m)) for m in models]  # cursors arrive as query strings, whatever the id's type
    if after_id is not None and after_id in ids:
        start = ids.index(after_id) + 1
        window = models[start : start + limit]
        has_more = start + limit < len(models)
    elif before_id is not None and before_id in ids:
        end = ids.index(before_id)
        window = models[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        window, has_more = models[:limit], limit < len(models)
    return {
        "data": window,
        "has_more": has_more,
        "first_id": _entry_id(window[0]) if window else None,
        "last_id": _entry_id(window[-1]) if window else None,
    }


def _entry_id(entry: Any) -> Any:
    """An entry's id for a page cursor (a hostile entry may not be an object, or have no id)."""
    return entry.get("id") if isinstance(entry, dict) else None
