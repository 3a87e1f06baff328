"""OpenAI `chat.completion.chunk` objects from the adapters' typed events, and their SSE frames.

The only module that writes `data: …` frames. A stream is:

- chunks with `choices[0].delta`: `role` on the first (with an empty `content`
  when the adapter reports the open stream before any token), then `content`,
  `reasoning_content` (only when `show_thinking_process` is on) and `tool_calls`
  pieces (`index`, and on a call's first piece `id`, `type` and `function.name`;
  `function.arguments` fragments after);
- a chunk with an empty delta and the `finish_reason`;
- with `stream_options.include_usage`, a last chunk with `choices: []` and the
  usage (and `"usage": null` on every chunk before it, as OpenAI sends);
- `data: [DONE]`.

An upstream failure after the stream has started is one `data: {"error": {…}}`
frame, and the stream closes without `[DONE]`: `[DONE]` means a complete answer,
and the OpenAI SDKs raise `APIError` on the error frame.
"""

from __future__ import annotations

import json
from typing import Any

from providers.adapters.base import (
    Finish,
    ReasoningDelta,
    StreamEvent,
    StreamStarted,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

DONE = b"data: [DONE]\n\n"
HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and similar proxies buffer responses unless told otherwise.
    "X-Accel-Buffering": "no",
    "X-Content-Type-Options": "nosniff",
}
CONTENT_TYPE = "text/event-stream; charset=utf-8"


def json_bytes(data: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as every /v1 answer and chunk is written."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def frame(data: dict[str, Any]) -> bytes:
    """One SSE event carrying a JSON object."""
    return b"data: " + json_bytes(data) + b"\n\n"


class ChunkBuilder:
    """Turns events into chunk objects; also keeps what the request log needs (usage, answer)."""

    def __init__(
        self,
        *,
        completion_id: str,
        created: int,
        model: str,
        show_thinking: bool,
        include_usage: bool,
        keep_answer: bool = False,
    ) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model
        self.show_thinking = show_thinking
        self.include_usage = include_usage
        self.keep_answer = keep_answer
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.answer: list[str] = []
        self._role_sent = False
        self._calls_started: set[int] = set()

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        if not self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent = True
        chunk: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def chunks(self, event: StreamEvent) -> list[dict[str, Any]]:
        """The chunks one event becomes (none for hidden reasoning and for usage, which comes last)."""
        if isinstance(event, StreamStarted):
            # The role chunk, sent as soon as the upstream answered (OpenAI's first chunk too).
            return [] if self._role_sent else [self._chunk({"content": ""})]
        if isinstance(event, TextDelta):
            if not event.text:
                return []
            if self.keep_answer:
                self.answer.append(event.text)
            return [self._chunk({"content": event.text})]
        if isinstance(event, ReasoningDelta):
            if not (self.show_thinking and event.text):
                return []
            return [self._chunk({"reasoning_content": event.text})]
        if isinstance(event, ToolCallDelta):
            return [self._chunk({"tool_calls": [self._tool_call(event)]})]
        if isinstance(event, Finish):
            if self.finish_reason is not None:
                return []
            self.finish_reason = event.reason
            return [self._chunk({}, finish_reason=event.reason)]
        if isinstance(event, UsageEvent):
            self.usage = event.usage
        return []

    def _tool_call(self, event: ToolCallDelta) -> dict[str, Any]:
        piece: dict[str, Any] = {"index": event.index}
        function: dict[str, Any] = {}
        if event.index not in self._calls_started:
            self._calls_started.add(event.index)
            piece["id"] = event.id
            piece["type"] = "function"
            function["name"] = event.name or ""
        elif event.name:
            function["name"] = event.name
        function["arguments"] = event.arguments
        if self.keep_answer:
            self.answer.append(event.arguments)
        piece["function"] = function
        return piece

    def final(self) -> list[dict[str, Any]]:
        """What closes a complete stream: a finish chunk if the upstream sent none, then usage if asked."""
        chunks = [] if self.finish_reason is not None else self.chunks(Finish("stop"))
        if self.include_usage:
            chunks.append(
                {
                    "id": self.completion_id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": (self.usage or Usage()).as_openai(),
                }
            )
        return chunks

    @property
    def answer_text(self) -> str:
        return "".join(self.answer)
