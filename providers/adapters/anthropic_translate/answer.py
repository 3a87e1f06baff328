"""Anthropic Messages answer → OpenAI Chat Completions answer (pure functions, no I/O, no SDK).

`message_body()` turns an Anthropic message (as a dict) into our `chat.completion`
body; `StreamTranslator` turns Anthropic stream events into our `StreamEvent`s.
"""

from __future__ import annotations

import json
import time
from typing import Any

from providers.adapters.base import (
    ChatRequest,
    Finish,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    return STOP_REASONS.get(stop_reason or "end_turn", "stop")


def usage_of(usage: dict[str, Any] | None) -> Usage:
    """OpenAI counts cached prompt tokens in prompt_tokens; Anthropic reports them apart."""
    usage = usage or {}
    prompt = sum(
        int(usage.get(k) or 0) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    return Usage(prompt_tokens=prompt, completion_tokens=int(usage.get("output_tokens") or 0))


def message_body(message: dict[str, Any], request: ChatRequest) -> tuple[dict[str, Any], Usage]:
    """Our `chat.completion` body from an Anthropic message (`Message.model_dump()`)."""
    texts, reasoning, thinking_blocks, tool_calls = [], [], [], []
    for block in message.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
            thinking_blocks.append(
                {"type": "thinking", "thinking": block.get("thinking") or "", "signature": block.get("signature")}
            )
        elif kind == "redacted_thinking":
            thinking_blocks.append({"type": "redacted_thinking", "data": block.get("data")})
        elif kind == "tool_use":
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": json.dumps(block.get("input") or {})},
                }
            )
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not tool_calls else None}
    if request.show_thinking and thinking_blocks:
        out["reasoning_content"] = "".join(reasoning)
        # Signed blocks, sent back with the next turn so a tool-use loop with thinking can continue.
        out["thinking_blocks"] = thinking_blocks
    if tool_calls:
        out["tool_calls"] = tool_calls
    usage = usage_of(message.get("usage"))
    body = {
        "id": message.get("id") or "",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": message.get("model") or request.model,
        "choices": [
            {"index": 0, "message": out, "logprobs": None, "finish_reason": finish_reason(message.get("stop_reason"))}
        ],
        "usage": usage.as_openai(),
    }
    return body, usage


class StreamTranslator:
    """Anthropic stream events (SDK objects) → our events, with stable tool-call indexes."""

    def __init__(self, *, show_thinking: bool) -> None:
        self.show_thinking = show_thinking
        self.usage: dict[str, Any] = {}
        self._tool_index: dict[int, int] = {}  # content block index → tool call index
        self.finished = False

    def events(self, event: Any) -> list[StreamEvent]:
        kind = event.type
        if kind == "message_start":
            self.usage = _plain(event.message.usage)
        elif kind == "content_block_start":
            block = event.content_block
            if block.type == "tool_use":
                index = self._tool_index.setdefault(event.index, len(self._tool_index))
                return [ToolCallDelta(index=index, id=block.id, name=block.name, arguments="")]
            if block.type == "text" and block.text:
                return [TextDelta(block.text)]
        elif kind == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                return [TextDelta(delta.text)] if delta.text else []
            if delta.type == "input_json_delta":
                index = self._tool_index.get(event.index)
                if index is not None and delta.partial_json:
                    return [ToolCallDelta(index=index, arguments=delta.partial_json)]
            elif delta.type == "thinking_delta" and self.show_thinking:
                return [ReasoningDelta(delta.thinking)] if delta.thinking else []
        elif kind == "message_delta":
            # message_delta usage is cumulative: it replaces what message_start said.
            self.usage.update({k: v for k, v in _plain(event.usage).items() if v is not None})
            if event.delta.stop_reason:
                return [Finish(finish_reason(event.delta.stop_reason))]
        elif kind == "message_stop":
            self.finished = True
            return [UsageEvent(usage_of(self.usage))]
        return []


def _plain(usage: Any) -> dict[str, Any]:
    if usage is None:
        return {}
    if isinstance(usage, dict):
        return dict(usage)
    return {k: getattr(usage, k, None) for k in ("input_tokens", "output_tokens", *_CACHE_FIELDS)}


_CACHE_FIELDS = ("cache_creation_input_tokens", "cache_read_input_tokens")
