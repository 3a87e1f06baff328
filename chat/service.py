"""The chat dispatcher: one path from a request body to an answer, for the /v1 view and for Python code.

`handle(body, caller)` validates, resolves the model on the cached snapshot,
applies defaults and presets, picks the provider's adapter and either returns a
complete `chat.completion` dict or opens a `ChatStream`. Every failure is raised
as `ChatError`, whose `info` carries the status, OpenAI body and log category,
and every request ends in exactly one request-log row.

For code inside Django (and the `chat` command):

    from chat import service
    answer = service.complete(prompt="Hello", model="echo/echo")          # dict
    for chunk in service.stream(messages=[...], model="openai/4o-mini"):   # chunk dicts
        print(chunk["choices"][0]["delta"].get("content") or "", end="")

and `acomplete` / `astream` in async code. They take the same fields as the
/v1 body (`temperature`, `tools`, `thinking`, `preset`, …) and are logged with
source `python`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from chat import sse
from chat.auth import Caller
from chat.body import check_no_steering_fields
from chat.errors import ChatError, ModelNotFound, as_gateway_error
from chat.models import RequestSource
from chat.params import build_chat_request, effective_settings
from chat.request_log import Exchange
from chat.sse import ChunkBuilder
from chat.validation import validate_request
from providers.adapters.base import (
    ChatRequest,
    ProviderAdapter,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from providers.adapters.errors import ConfigurationError
from providers.adapters.registry import get_adapter
from providers.exceptions import InvalidModel
from providers.services import resolve_model
from providers.snapshot import ConfigSnapshot, ModelInfo, ProviderInfo, aget_snapshot, get_snapshot

#: Events that count as the first token (for time to first token).
_TOKEN_EVENTS = (TextDelta, ReasoningDelta, ToolCallDelta)


@dataclass(slots=True)
class Prepared:
    """A validated request, bound to its model, provider and adapter."""

    model: ModelInfo
    provider: ProviderInfo
    adapter: ProviderAdapter
    request: ChatRequest
    stream: bool
    completion_id: str
    created: int


#: What the operator can do about each reason a provider cannot be called.
_REMEDY = {
    "key cannot be decrypted": (
        " (FIELD_ENCRYPTION_KEYS cannot decrypt the stored key: restore that key or set a new key)"
    ),
    "no API key": " (set one in the admin or in the provider's <SLUG>_API_KEY variable)",
}


def _resolve(model_string: str | None, snapshot: ConfigSnapshot) -> ModelInfo:
    """`resolve_model`, with the reason when the named provider exists but cannot serve."""
    try:
        return resolve_model(model_string, snapshot=snapshot)
    except InvalidModel:
        slug, sep, rest = (model_string or "").partition("/")
        provider = snapshot.provider_by_slug.get(slug) if sep else None
        if provider is None or provider.inactive_reason is None:
            raise
        known = any(
            m.provider_id == provider.id and rest in (m.model_id, m.alias) and m.is_enabled
            for m in snapshot.models.values()
        )
        if not known:
            raise
        if provider.inactive_reason == "disabled":
            raise ModelNotFound(
                f"Invalid model: {model_string} (provider {slug} is disabled).", param="model"
            ) from None
        raise ConfigurationError(
            f"Provider {slug} cannot be called: {provider.inactive_reason}"
            f"{_REMEDY.get(provider.inactive_reason, '')}. Nothing was sent upstream.",
            provider=slug,
        ) from None


def prepare(body: dict[str, Any], snapshot: ConfigSnapshot) -> Prepared:
    """Validate a body and bind it to a model and an adapter of `snapshot` (no I/O).

    The body has been through the upstream-steering guard (`chat.body`) already: `read_body()`
    for /v1, `_start()` for the Python API.
    """
    parsed = validate_request(body)
    model = _resolve(parsed.model, snapshot)
    provider = snapshot.providers[model.provider_id]
    settings = effective_settings(snapshot.runtime_settings, snapshot.presets, parsed.preset)
    request = build_chat_request(parsed, model, settings)
    return Prepared(
        model=model,
        provider=provider,
        adapter=get_adapter(provider),
        request=request,
        stream=parsed.stream,
        completion_id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
    )


def _fail(exchange: Exchange, exc: Exception, **partial: Any) -> ChatError:
    info = as_gateway_error(exc)
    exchange.fail(info, **partial)
    return ChatError(info)


async def _start(
    body: dict[str, Any], caller: Caller, *, source: str, started: float | None, body_read: bool = False
) -> tuple[Prepared, Exchange]:
    """Open the request's log entry and prepare it; `body_read`: the body came from `read_body()`."""
    exchange = Exchange(source=source, api_key_id=caller.api_key_id, user_id=caller.user_id, started=started)
    model_name = body.get("model")
    exchange.asked(
        model_name=model_name if isinstance(model_name, str) else None,
        stream=body.get("stream") is True,
        messages=body.get("messages"),
    )
    try:
        if not body_read:  # read_body() refused steering fields already; the Python API's bodies are checked here
            check_no_steering_fields(body)
        # The version read with the key: warm, the process's snapshot at once; else built (once) in a thread.
        prepared = prepare(body, await aget_snapshot(caller.config_version))
    except Exception as exc:
        raise _fail(exchange, exc) from exc
    exchange.resolved(prepared.model, prepared.completion_id)
    return prepared, exchange


async def handle(
    body: dict[str, Any], caller: Caller, *, source: str = RequestSource.API, started: float | None = None
) -> dict[str, Any] | ChatStream:
    """Serve one chat request (a body from `read_body()`): a `chat.completion` dict, or an open `ChatStream`."""
    prepared, exchange = await _start(body, caller, source=source, started=started, body_read=True)
    if prepared.stream:
        return await _open_stream(prepared, exchange)
    return await _complete(prepared, exchange)


def record_rejected(caller: Caller, exc: Exception, *, started: float | None = None) -> ChatError:
    """Log a request refused before it could be read (bad JSON, too large) and return its `ChatError`."""
    return _fail(Exchange(source=RequestSource.API, api_key_id=caller.api_key_id, user_id=caller.user_id,
                          started=started), exc)  # fmt: skip


async def _complete(prepared: Prepared, exchange: Exchange) -> dict[str, Any]:
    try:
        result = await prepared.adapter.complete(prepared.request)
    except Exception as exc:
        raise _fail(exchange, exc) from exc
    except BaseException:
        exchange.abandon()
        raise
    body = dict(result.body)
    body["id"] = prepared.completion_id
    body["model"] = prepared.model.qualified_id
    body.setdefault("usage", result.usage.as_openai())
    answer = ""
    finish_reason = ""
    for choice in body.get("choices") or ():
        message = choice.get("message") or {}
        if not prepared.request.show_thinking:
            message.pop("reasoning_content", None)
            message.pop("thinking_blocks", None)
        answer = answer or (message.get("content") or "")
        finish_reason = finish_reason or (choice.get("finish_reason") or "")
    exchange.succeed(usage=result.usage, finish_reason=finish_reason, answer=answer)
    return body


async def _aclose(events: AsyncIterator[StreamEvent]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()


async def _open_stream(prepared: Prepared, exchange: Exchange) -> ChatStream:
    """Start the upstream stream and wait for its first event, so an early failure is a plain error status."""
    events = aiter(prepared.adapter.stream(prepared.request))
    try:
        first: StreamEvent | None = await anext(events)
    except StopAsyncIteration:
        first = None
    except Exception as exc:
        await _aclose(events)
        raise _fail(exchange, exc) from exc
    except BaseException:
        exchange.abandon()
        await _aclose(events)
        raise
    return ChatStream(prepared, exchange, events, first)


class ChatStream:
    """An answer being streamed: iterate `chunks()`; the upstream is closed when it ends or is closed."""

    def __init__(
        self, prepared: Prepared, exchange: Exchange, events: AsyncIterator[StreamEvent], first: StreamEvent | None
    ) -> None:
        self.prepared = prepared
        self.exchange = exchange
        self._events = events
        self._first = first
        self.builder = ChunkBuilder(
            completion_id=prepared.completion_id,
            created=prepared.created,
            model=prepared.model.qualified_id,
            show_thinking=prepared.request.show_thinking,
            include_usage=prepared.request.include_usage,
            keep_answer=exchange.log_content,
        )

    async def _all_events(self) -> AsyncIterator[StreamEvent]:
        if self._first is not None:
            yield self._first
        async for event in self._events:
            yield event

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        """Chunk objects in order. Raises `ChatError` if the upstream fails mid-stream.

        The request-log row is handed over before the last chunk is yielded, so a
        client that has read the whole stream can find its row after `flush()`.
        """
        builder, exchange = self.builder, self.exchange
        events = self._all_events()
        try:
            async for event in events:
                if isinstance(event, _TOKEN_EVENTS):
                    exchange.first_token()
                for chunk in builder.chunks(event):
                    yield chunk
            final = builder.final()
            exchange.succeed(usage=builder.usage, finish_reason=builder.finish_reason or "", answer=builder.answer_text)
            for chunk in final:
                yield chunk
        except Exception as exc:
            raise _fail(exchange, exc, usage=builder.usage, answer=builder.answer_text) from exc
        finally:
            if not exchange.finished:
                exchange.abandon(usage=builder.usage, answer=builder.answer_text)
            await events.aclose()
            await _aclose(self._events)

    async def frames(self) -> AsyncIterator[bytes]:
        """The SSE frames of the stream; an upstream failure mid-stream is one error frame, then the end."""
        chunks = self.chunks()
        try:
            async for chunk in chunks:
                yield sse.frame(chunk)
            yield sse.DONE
        except ChatError as exc:
            yield sse.frame(exc.info.body())
        finally:
            await chunks.aclose()

    async def aclose(self) -> None:
        await _aclose(self._events)


# --- the Python API ------------------------------------------------------------------------


def _body(messages: list[dict[str, Any]] | None, prompt: str | None, system: str | None, **fields: Any) -> dict:
    if messages is None:
        if prompt is None:
            raise TypeError("Give messages=[...] or prompt='...'.")
        messages = [{"role": "user", "content": prompt}]
    if system is not None:
        messages = [{"role": "system", "content": system}, *messages]
    return {key: value for key, value in fields.items() if value is not None} | {"messages": messages}


PYTHON_CALLER = Caller(user_id=None)


async def acomplete(
    messages: list[dict[str, Any]] | None = None,
    *,
    prompt: str | None = None,
    system: str | None = None,
    model: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One complete answer (a `chat.completion` dict). Raises `ChatError`."""
    body = _body(messages, prompt, system, model=model, **fields) | {"stream": False}
    prepared, exchange = await _start(body, PYTHON_CALLER, source=RequestSource.PYTHON, started=None)
    return await _complete(prepared, exchange)


async def astream(
    messages: list[dict[str, Any]] | None = None,
    *,
    prompt: str | None = None,
    system: str | None = None,
    model: str | None = None,
    **fields: Any,
) -> AsyncIterator[dict[str, Any]]:
    """Chunk dicts (`chat.completion.chunk`) as they arrive. Raises `ChatError`."""
    body = _body(messages, prompt, system, model=model, **fields) | {"stream": True}
    prepared, exchange = await _start(body, PYTHON_CALLER, source=RequestSource.PYTHON, started=None)
    chunks = (await _open_stream(prepared, exchange)).chunks()
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        await chunks.aclose()


def complete(messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:
    """`acomplete` for sync code (not from inside a running event loop)."""
    get_snapshot()  # built here, on this thread's connection, rather than from the loop on a helper thread
    return asyncio.run(acomplete(messages, **kwargs))


def stream(messages: list[dict[str, Any]] | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """`astream` for sync code: a generator driving its own event loop."""
    get_snapshot()  # as in complete()
    loop = asyncio.new_event_loop()
    chunks = astream(messages, **kwargs)
    try:
        while True:
            try:
                yield loop.run_until_complete(anext(chunks))
            except StopAsyncIteration:
                return
    finally:
        loop.run_until_complete(chunks.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
