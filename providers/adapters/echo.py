"""The `echo` kind: answers locally by repeating the last user message (SPEC §3).

It exists so a fresh install (`make run`, `seed_demo`) works offline: no network,
no key. It is never a substitute for testing the real adapters. It streams the
answer word by word, counts tokens as whitespace-separated words, and handles
tools only as far as an echo can: when the request forces a tool call it calls
that tool with the user's text as `{"text": …}`, and a tool result is echoed back.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from providers.adapters.base import (
    ChatRequest,
    ChatResult,
    Finish,
    PingResult,
    ProviderAdapter,
    StreamEvent,
    StreamStarted,
    TextDelta,
    ToolCallDelta,
    UpstreamModel,
    Usage,
    UsageEvent,
)
from providers.adapters.errors import ProviderError, UpstreamUnavailableError
from providers.adapters.registry import register

PREFIX = "Echo: "


def _text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list (images as `[image]`)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content:
        if isinstance(part, dict):
            if part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                parts.append("[image]")
    return " ".join(p for p in parts if p)


def _count_tokens(text: str) -> int:
    return len(text.split())


def _forced_tool(request: ChatRequest) -> str | None:
    """The tool the request forces (`required` or a named function), if any."""
    if not request.tools:
        return None
    choice = request.tool_choice
    if isinstance(choice, dict):
        return (choice.get("function") or {}).get("name")
    if choice == "required":
        return request.tools[0].get("function", {}).get("name")
    return None


class _Answer:
    """What the echo says for a request: text, or one tool call."""

    def __init__(self, request: ChatRequest) -> None:
        messages = request.messages
        last = messages[-1] if messages else {}
        self.prompt_tokens = sum(_count_tokens(_text_of(m.get("content"))) for m in messages)
        self.tool_name: str | None = None
        self.tool_arguments = ""
        if last.get("role") == "tool":
            self.text = f"{PREFIX}{_text_of(last.get('content'))}"
        else:
            user_text = next((_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
            self.tool_name = _forced_tool(request)
            if self.tool_name:
                self.tool_arguments = json.dumps({"text": user_text})
            self.text = f"{PREFIX}{user_text}"
        if request.max_tokens is not None and not self.tool_name:
            words = self.text.split(" ")
            self.truncated = len(words) > request.max_tokens
            self.text = " ".join(words[: request.max_tokens])
        else:
            self.truncated = False

    @property
    def finish_reason(self) -> str:
        if self.tool_name:
            return "tool_calls"
        return "length" if self.truncated else "stop"

    @property
    def usage(self) -> Usage:
        completion = _count_tokens(self.tool_arguments) if self.tool_name else _count_tokens(self.text)
        return Usage(prompt_tokens=self.prompt_tokens, completion_tokens=completion)


@register("echo")
class EchoAdapter(ProviderAdapter):
    """Repeats the last user message; local, instant, deterministic."""

    kind = "echo"
    supports_vision = True
    supports_thinking = False
    needs_network = False

    async def complete(self, request: ChatRequest) -> ChatResult:
        answer = _Answer(request)
        message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None}
        if answer.tool_name:
            message["content"] = None
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {"name": answer.tool_name, "arguments": answer.tool_arguments},
                }
            ]
        usage = answer.usage
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": [{"index": 0, "message": message, "finish_reason": answer.finish_reason, "logprobs": None}],
            "usage": usage.as_openai(),
        }
        return ChatResult(body=body, usage=usage)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        answer = _Answer(request)
        yield StreamStarted()
        if answer.tool_name:
            yield ToolCallDelta(index=0, id=f"call_{uuid.uuid4().hex[:24]}", name=answer.tool_name)
            yield ToolCallDelta(index=0, arguments=answer.tool_arguments)
        else:
            words = answer.text.split(" ")
            for position, word in enumerate(words):
                # Yield to the event loop between words, like a network stream would.
                await asyncio.sleep(0)
                yield TextDelta(word if position == len(words) - 1 else word + " ")
        yield Finish(answer.finish_reason)
        yield UsageEvent(answer.usage)

    async def list_models(self, limit: int | None = None) -> list[UpstreamModel]:
        models = [UpstreamModel(model_id="echo", name="Echo", capabilities={"streaming": True, "tools": True})]
        return models[:limit]

    async def ping(self, model_id: str) -> PingResult:
        # There is nothing to reach: the echo always answers.
        return PingResult(ok=True, latency_ms=0.0, answer="pong")

    def map_error(self, exc: BaseException) -> ProviderError:
        if isinstance(exc, ProviderError):
            return exc
        return UpstreamUnavailableError(
            f"The echo adapter failed: {exc.__class__.__name__}", provider=self.provider.slug
        )
