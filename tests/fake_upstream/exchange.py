"""One request/response of the fake upstream: routing, scripted behaviour, vendor wire format.

See server.py for the fake upstream's API; this module is its request handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from typing import TYPE_CHECKING, Any

from anthropic.types import message_create_params

from tests.fake_upstream import behaviour as fb
from tests.fake_upstream import hostile, wire

if TYPE_CHECKING:
    from tests.fake_upstream.server import FakeUpstream, RecordedRequest

_ids = itertools.count(1)

#: Top-level fields of Anthropic's Messages API, as the installed SDK knows them.
ANTHROPIC_FIELDS = {*message_create_params.MessageCreateParamsBase.__annotations__, "stream"}


class Exchange:
    """One request/response: routing, scripted behaviour, vendor wire format."""

    def __init__(self, fake: FakeUpstream, record: RecordedRequest, receive: Any, send: Any) -> None:
        self.fake, self.record, self.receive, self.send = fake, record, receive, send
        self.gone = asyncio.Event()
        self.generation = fake.generation
        self.request_id = f"req_{next(_ids):06d}"

    async def watch_disconnect(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                if not self.record.completed:
                    self.record.disconnected = True
                    self.record._gone.set()
                self.gone.set()
                return

    async def pause(self, seconds: float | None) -> bool:
        """Sleep `seconds` (None: until the client leaves or the fake is reset); False if the client left."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self.gone.is_set() and self.generation == self.fake.generation:
            remaining = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if remaining <= 0:
                return True
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.gone.wait(), remaining)
        return not self.gone.is_set()

    # --- routing -------------------------------------------------------------------

    async def handle(self) -> None:
        record = self.record
        path, method = record.path, record.method
        anthropic = "anthropic-version" in record.headers or path == "/v1/messages"
        record.vendor = "anthropic" if anthropic else "openai"
        azure = re.fullmatch(r"/openai/deployments/([^/]+)/chat/completions", path)
        body = record.json if isinstance(record.json, dict) else {}
        if method == "POST" and (path in ("/v1/chat/completions", "/v1/messages") or azure):
            record.model = azure.group(1) if azure else body.get("model")
            record.stream = bool(body.get("stream"))
            await self.generate(body)
        elif method == "GET" and path in ("/v1/models", "/openai/models"):
            await self.list_models()
        elif method == "GET" and path.startswith("/v1/models/"):
            await self.retrieve_model(path.removeprefix("/v1/models/"))
        else:
            await self.respond(404, {"error": {"message": f"Unknown path {method} {path}", "type": "not_found"}})

    def key_ok(self) -> bool:
        expected = self.fake.api_key
        if expected is None:
            return True
        headers = self.record.headers
        sent = {headers.get("x-api-key"), headers.get("api-key"), headers.get("authorization", "")[7:]}
        return expected in sent

    async def prelude(self, behaviour: fb.Behaviour) -> bool:
        """Apply redirect, delay, hang, key check and errors; True if the response is done."""
        if behaviour.redirect_to is not None:
            target = behaviour.redirect_to or self.fake.other_url + self.record.path
            await self.respond(behaviour.status if behaviour.status >= 300 else 307, b"", headers={"location": target})
            return True
        if behaviour.delay and not await self.pause(behaviour.delay):
            return True
        if behaviour.hang:
            await self.pause(None)
            return True
        if not self.key_ok():
            await self.error(fb.error(401, "Invalid API key."))
            return True
        if behaviour.body_bytes is not None:
            await hostile.huge_body(self, behaviour)
            return True
        if behaviour.raw_body is not None:
            raw = behaviour.raw_body.encode() if isinstance(behaviour.raw_body, str) else behaviour.raw_body
            await self.respond(behaviour.status, raw, content_type=behaviour.content_type, headers=behaviour.headers)
            return True
        if behaviour.status >= 400:
            await self.error(behaviour)
            return True
        return False

    # --- responses -------------------------------------------------------------------

    async def respond(
        self,
        status: int,
        payload: Any,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        cut: bool = False,
    ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        all_headers = {"content-type": content_type, "content-length": str(len(data)), **self.id_header()}
        all_headers.update(headers or {})
        await self.start(status, all_headers)
        if cut:
            # Half the body, then drop the connection (the client sees an incomplete read).
            await self.send({"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True})
            return
        self.record.completed = True
        await self.send({"type": "http.response.body", "body": data})

    async def start(self, status: int, headers: dict[str, str]) -> None:
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    def id_header(self) -> dict[str, str]:
        return {"request-id" if self.record.vendor == "anthropic" else "x-request-id": self.request_id}

    async def error(self, behaviour: fb.Behaviour) -> None:
        status = behaviour.status
        message = behaviour.message or wire.DEFAULT_MESSAGES.get(status, "Error.")
        code = behaviour.error_code
        if code == "context_length_exceeded" and behaviour.message is None:
            message = (
                "prompt is too long: 250000 tokens > 200000 maximum"
                if self.record.vendor == "anthropic"
                else "This model's maximum context length is 128000 tokens. "
                "However, your messages resulted in 250000 tokens. Please reduce the length of the messages."
            )
        if self.record.vendor == "anthropic":
            payload = wire.anthropic_error(status, message, behaviour.error_type, self.request_id)
        else:
            payload = wire.openai_error(status, message, behaviour.error_type, code)
        headers = dict(behaviour.headers)
        if behaviour.retry_after is not None:
            headers["retry-after"] = behaviour.retry_after
        if behaviour.retry_after_ms is not None:
            headers["retry-after-ms"] = behaviour.retry_after_ms
        retryable = status == 429 or status >= 500
        if retryable and behaviour.retry_after is None and behaviour.retry_after_ms is None and behaviour.fast_retry_ms:
            headers["retry-after-ms"] = behaviour.fast_retry_ms
        await self.respond(status, payload, headers=headers)

    async def stream(self, frames: list[str], behaviour: fb.Behaviour, error_frame: str | None) -> None:
        """Send SSE frames one by one; stop when the client leaves."""
        headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", **self.id_header()}
        await self.start(200, {**headers, **behaviour.headers})
        for number, frame in enumerate(frames):
            if behaviour.cut_after is not None and number >= behaviour.cut_after:
                if behaviour.stream_error and error_frame:
                    await self.send({"type": "http.response.body", "body": error_frame.encode(), "more_body": True})
                    break
                return  # response left incomplete: uvicorn drops the connection
            if number and behaviour.chunk_delay and not await self.pause(behaviour.chunk_delay):
                return
            if not number and behaviour.first_token_delay and not await self.pause(behaviour.first_token_delay):
                return
            if self.gone.is_set():
                return
            await self.send({"type": "http.response.body", "body": frame.encode(), "more_body": True})
        self.record.completed = True
        await self.send({"type": "http.response.body", "body": b""})

    # --- endpoints -----------------------------------------------------------------

    async def list_models(self) -> None:
        if await self.prelude(self.fake.pick("models", None)):
            return
        if self.record.vendor == "openai":
            await self.respond(200, wire.openai_models(self.fake.openai_models))
            return
        query = self.record.query
        limit = min(int(query.get("limit", 20)), self.fake.anthropic_page_size)
        page = wire.anthropic_page(
            self.fake.anthropic_models, after_id=query.get("after_id"), before_id=query.get("before_id"), limit=limit
        )
        if self.fake.endless_pages:
            # A broken (or hostile) cursor: past the end it starts again, and there is always more.
            if not page["data"]:
                page = wire.anthropic_page(self.fake.anthropic_models, after_id=None, before_id=None, limit=limit)
            page["has_more"] = True
        await self.respond(200, page)

    async def retrieve_model(self, model_id: str) -> None:
        if await self.prelude(self.fake.pick("models", model_id)):
            return
        models = self.fake.anthropic_models if self.record.vendor == "anthropic" else self.fake.openai_models
        for model in models:
            if model["id"] == model_id:
                await self.respond(200, model)
                return
        await self.error(fb.error(404, f"model: {model_id}"))

    async def generate(self, body: dict[str, Any]) -> None:
        behaviour = self.fake.pick("generate", self.record.model)
        if await self.prelude(behaviour):
            return
        anthropic = self.record.vendor == "anthropic"
        problem = self.anthropic_problem(body) if anthropic else self.openai_problem(body)
        if problem:
            await self.error(fb.error(400, problem))
            return
        if self.record.stream and behaviour.sse_line_bytes is not None:
            await hostile.endless_sse_line(self, behaviour)
            return
        if self.record.stream and behaviour.trickle is not None:
            await hostile.trickle(self, behaviour)
            return
        answer = self.build_answer(body, behaviour)
        if not self.record.stream:
            payload = wire.anthropic_message(answer) if anthropic else wire.openai_completion(answer)
            await self.respond(200, payload, headers=behaviour.headers, cut=behaviour.cut_after is not None)
            return
        if anthropic:
            frames = [f"event: {name}\ndata: {data}\n\n" for name, data in wire.anthropic_events(answer)]
            failure = wire.anthropic_error(529, "Overloaded", "overloaded_error", self.request_id)
            error_frame = f"event: error\ndata: {json.dumps(failure)}\n\n"
        else:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            frames = [f"data: {data}\n\n" for data in wire.openai_chunks(answer, include_usage=include_usage)]
            failure = wire.openai_error(500, "The server had an error while processing your request.", None, None)
            error_frame = f"data: {json.dumps(failure)}\n\n"
        await self.stream(frames, behaviour, error_frame)

    def openai_problem(self, body: dict[str, Any]) -> str | None:
        if not body.get("messages"):
            return "[] is too short - 'messages'"
        if body.get("stream_options") and not body.get("stream"):
            return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        return None

    def anthropic_problem(self, body: dict[str, Any]) -> str | None:
        unknown = sorted(set(body) - ANTHROPIC_FIELDS)
        if unknown:
            return f"{unknown[0]}: Extra inputs are not permitted"
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int):
            return "max_tokens: Field required"
        for message in body.get("messages") or []:
            if message.get("role") not in ("user", "assistant"):
                return f'messages: Unexpected role "{message.get("role")}". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.'  # noqa: E501
        info = next((m for m in self.fake.anthropic_models if m["id"] == body.get("model")), None)
        if info and info.get("max_tokens") and max_tokens > info["max_tokens"]:
            return f"max_tokens: {max_tokens} > {info['max_tokens']}, which is the maximum allowed number of output tokens for {info['id']}"  # noqa: E501
        thinking = body.get("thinking") or {}
        kind = thinking.get("type")
        types = ((info or {}).get("capabilities") or {}).get("thinking", {}).get("types", {})
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or budget < 1024:
                return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            if budget >= max_tokens:
                return "`max_tokens` must be greater than `thinking.budget_tokens`."
            if types and not types.get("enabled", {}).get("supported"):
                return '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'  # noqa: E501
        if kind == "adaptive" and types and not types.get("adaptive", {}).get("supported"):
            return "adaptive thinking is not supported on this model"
        if kind in ("enabled", "adaptive"):
            if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
                return "Thinking may not be enabled when tool_choice forces tool use."
        return None

    def build_answer(self, body: dict[str, Any], behaviour: fb.Behaviour) -> wire.Answer:
        anthropic = self.record.vendor == "anthropic"
        model = self.record.model or "unknown"
        messages = body.get("messages") or []
        text, calls, thinking = behaviour.text, behaviour.tool_calls, behaviour.thinking
        if text is None and calls is None:
            calls = _forced_tool_call(body, anthropic)
            text = "" if calls else _default_text(messages, model, anthropic)
        if thinking is None and anthropic and (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
            thinking = "Let me think about this request step by step."
        prefix = "toolu" if anthropic else "call"
        tool_calls = [
            {"id": c.get("id") or f"{prefix}_{self.request_id[4:]}_{i}", "name": c["name"], "arguments": c["arguments"]}
            for i, c in enumerate(calls or [])
        ]
        finish = behaviour.finish_reason or ("tool_calls" if tool_calls else "stop")
        words = wire.pieces(text or "")
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        if behaviour.finish_reason is None and isinstance(max_tokens, int) and len(words) > max_tokens:
            text, finish = "".join(words[:max_tokens]), "length"
        if behaviour.usage is not None:
            input_tokens, output_tokens = behaviour.usage
        else:
            input_tokens = wire.count_tokens(messages) + wire.count_tokens(body.get("system") or "")
            output_tokens = len(wire.pieces(text or "")) + len(wire.pieces(thinking or ""))
            output_tokens += sum(len(wire.fragments(c["arguments"])) for c in tool_calls)
        return wire.Answer(
            model=model,
            text=text or "",
            thinking=thinking,
            signature=behaviour.signature,
            tool_calls=tool_calls,
            finish_reason=finish,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            request_id=self.request_id,
            message_id=self.request_id[4:],
            usage_body=behaviour.usage_body,
        )


def _last_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    texts = []
    for part in content or []:
        if isinstance(part, dict) and part.get("type") == "text":
            texts.append(part.get("text", ""))
        elif isinstance(part, dict) and part.get("type") == "tool_result":
            inner = part.get("content")
            texts.append(inner if isinstance(inner, str) else _last_text({"content": inner}))
    return " ".join(texts)


def _default_text(messages: list[dict[str, Any]], model: str, anthropic: bool) -> str:
    last = messages[-1] if messages else {}
    is_tool_result = last.get("role") == "tool" or (
        anthropic and any(isinstance(p, dict) and p.get("type") == "tool_result" for p in last.get("content") or [])
    )
    if is_tool_result:
        return f"Tool result: {_last_text(last)}"
    user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    if "ping" in _last_text(user).lower():
        return "pong"
    return f"Hello from {model}! This is the fake upstream."


def _forced_tool_call(body: dict[str, Any], anthropic: bool) -> list[dict[str, Any]] | None:
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    if not tools or not choice:
        return None
    if anthropic:
        kind = choice.get("type")
        name = choice.get("name") if kind == "tool" else (tools[0].get("name") if kind == "any" else None)
        schemas = {t.get("name"): t.get("input_schema") or {} for t in tools}
    else:
        if choice == "required":
            name = tools[0]["function"]["name"]
        elif isinstance(choice, dict):
            name = (choice.get("function") or {}).get("name")
        else:
            name = None
        schemas = {t["function"]["name"]: t["function"].get("parameters") or {} for t in tools}
    if not name:
        return None
    arguments = {prop: "test" for prop in schemas.get(name, {}).get("required", [])}
    return [fb.tool_call(name, arguments)]
