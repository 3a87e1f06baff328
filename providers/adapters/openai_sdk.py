"""Adapter for `openai`, `openai_compatible` and `azure_openai` providers (the official `openai` SDK).

OpenAI-compatible servers (Ollama, vLLM, Groq, OpenRouter, LM Studio) are the
OpenAI adapter with another `base_url`, as `llm` does with `api_base`. Azure is
the same adapter with `AsyncAzureOpenAI`: the provider's `base_url` is the
resource endpoint, `api_version` its API version, and the model id is the
deployment name. One async SDK client per provider (and event loop), built by
`clients.py`: the provider's timeout as a deadline, no redirects, retries left to
the SDK's `max_retries`. SDK errors are mapped once, here, by `map_openai_error`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx2
import openai

from providers.adapters import clients, errors, limits
from providers.adapters.base import (
    ChatRequest,
    ChatResult,
    Finish,
    ProviderAdapter,
    ReasoningDelta,
    StreamEvent,
    StreamStarted,
    TextDelta,
    ToolCallDelta,
    UpstreamModel,
    Usage,
    UsageEvent,
    listed_entry,
    unreadable_entry,
)
from providers.adapters.registry import register

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_AZURE_API_VERSION = "2024-10-21"
CHAT_PATH = "/chat/completions"
#: Fields of our messages that OpenAI does not take (we add them to answers; clients send them back).
_OUR_MESSAGE_FIELDS = ("reasoning_content", "thinking_blocks")


def map_openai_error(
    exc: BaseException, *, provider: str | None = None, secrets: Iterable[str] = ()
) -> errors.ProviderError:
    """The one mapping of `openai` SDK exceptions to our categories (SPEC §6)."""
    name = f"upstream provider {provider!r}" if provider else "the upstream provider"
    if isinstance(exc, errors.ProviderError):
        return exc
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError) and (
        cause := errors.sdk_cause(exc, provider)
    ):
        return cause  # ours (a full pool, a size limit), raised below the SDK and wrapped by it
    if isinstance(exc, openai.APITimeoutError):
        return errors.TimeoutError(f"The {name} did not answer in time.", provider=provider)
    if isinstance(exc, openai.APIStatusError):
        if (too_large := limits.exceeded(exc.response)) is not None:
            return too_large  # an error page cut at the provider's limit: the limit is the story
        return errors.error_from_response(
            exc.status_code,
            exc.response.headers,
            exc.body if exc.body is not None else exc.response.content,
            provider=provider,
            secrets=secrets,
            request_id=exc.request_id,
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = errors.excerpt(errors.scrub(str(cause), secrets)) if cause is not None else ""
        return errors.ConnectionError(
            f"The connection to the {name} failed: {detail or 'connection error'}.", provider=provider
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return errors.UpstreamUnavailableError(
            f"The {name} answered with a response of an unexpected shape.", provider=provider
        )
    if isinstance(exc, openai.APIError):
        # An error event inside a stream: a body and no status.
        return errors.error_from_response(None, None, {"error": exc.body}, provider=provider, secrets=secrets)
    return errors.map_transport_error(exc, provider=provider, secrets=secrets)


# --- request building (pure) --------------------------------------------------------


def build_params(request: ChatRequest, *, kind: str, stream: bool) -> dict[str, Any]:
    """The keyword arguments of `chat.completions.create` for a request."""
    params: dict[str, Any] = {"model": request.model, "messages": [_clean_message(m) for m in request.messages]}
    if request.max_tokens is not None:
        # OpenAI's reasoning models refuse `max_tokens`; many compatible servers only know it.
        params["max_completion_tokens" if kind != "openai_compatible" else "max_tokens"] = request.max_tokens
    optional = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "response_format": request.response_format,
        "user": request.user,
        "reasoning_effort": request.reasoning_effort,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    if request.tools:
        params["tools"] = request.tools
        if request.tool_choice is not None:
            params["tool_choice"] = request.tool_choice
        if request.parallel_tool_calls is not None:
            params["parallel_tool_calls"] = request.parallel_tool_calls
    if stream:
        params["stream"] = True
        # Always ask for usage, so every stream can be logged; the chat layer decides what the client sees.
        params["stream_options"] = {"include_usage": True}
    return params


def _clean_message(message: dict[str, Any]) -> dict[str, Any]:
    if any(field in message for field in _OUR_MESSAGE_FIELDS):
        return {k: v for k, v in message.items() if k not in _OUR_MESSAGE_FIELDS}
    return message


def completion_body(data: dict[str, Any], request: ChatRequest) -> tuple[dict[str, Any], Usage]:
    """Our `chat.completion` body (OpenAI shape) and usage, from the upstream's JSON.

    The JSON is read as plain dicts, not the SDK's `ChatCompletion` model: building that
    model per answer was a fifth of a request's CPU (bench/README.md). Whatever an
    upstream sends, only the fields below are passed on, with their types checked.
    """
    choices = []
    for position, choice in enumerate(_dicts(data.get("choices"))):
        message = _dict(choice.get("message"))
        out: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
        reasoning = _reasoning(message)
        if reasoning and request.show_thinking:
            out["reasoning_content"] = reasoning
        calls = [
            _tool_call(call) for call in _dicts(message.get("tool_calls")) if call.get("type", "function") == "function"
        ]
        if calls:
            out["tool_calls"] = calls
        if isinstance(message.get("refusal"), str) and message["refusal"]:
            out["refusal"] = message["refusal"]
        index = choice.get("index")
        choices.append(
            {
                "index": index if _is_int(index) else position,
                "message": out,
                "logprobs": None,
                "finish_reason": _str(choice.get("finish_reason")) or "stop",
            }
        )
    usage = _usage(data.get("usage"))
    created = data.get("created")
    body = {
        "id": _str(data.get("id")),
        "object": "chat.completion",
        "created": created if _is_int(created) else int(time.time()),
        "model": _str(data.get("model")) or request.model,
        "choices": choices,
        "usage": usage.as_openai(),
    }
    return body, usage


def _tool_call(call: dict[str, Any]) -> dict[str, Any]:
    function = _dict(call.get("function"))
    return {
        "id": _str(call.get("id")),
        "type": "function",
        "function": {"name": _str(function.get("name")), "arguments": _str(function.get("arguments"))},
    }


def _usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    reasoning = _dict(usage.get("completion_tokens_details")).get("reasoning_tokens")
    return Usage(
        prompt_tokens=_int(usage.get("prompt_tokens")) or 0,
        completion_tokens=_int(usage.get("completion_tokens")) or 0,
        reasoning_tokens=reasoning if _is_int(reasoning) else None,
    )


def _reasoning(message: dict[str, Any]) -> str | None:
    """Reasoning text of compatible servers: `reasoning_content` (DeepSeek, vLLM) or `reasoning` (OpenRouter)."""
    value = message.get("reasoning_content") or message.get("reasoning")
    return value if isinstance(value, str) else None


def chunk_events(chunk: dict[str, Any], *, show_thinking: bool) -> list[StreamEvent]:
    """Our events for one `chat.completion.chunk` (as parsed JSON)."""
    events: list[StreamEvent] = []
    for choice in _dicts(chunk.get("choices")):
        if choice.get("index"):
            continue  # n > 1 is not offered: one choice per answer
        delta = _dict(choice.get("delta"))
        reasoning = _reasoning(delta)
        if reasoning and show_thinking:
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if content and isinstance(content, str):
            events.append(TextDelta(content))
        for call in _dicts(delta.get("tool_calls")):
            function = _dict(call.get("function"))
            index = call.get("index")
            events.append(
                ToolCallDelta(
                    index=index if _is_int(index) else 0,
                    id=call.get("id") if isinstance(call.get("id"), str) else None,
                    name=function.get("name") if isinstance(function.get("name"), str) else None,
                    arguments=_str(function.get("arguments")),
                )
            )
        if choice.get("finish_reason"):
            events.append(Finish(_str(choice["finish_reason"]) or "stop"))
    if isinstance(chunk.get("usage"), dict):
        events.append(UsageEvent(_usage(chunk["usage"])))
    return events


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        return None
    return data if isinstance(data, dict) else None


# --- the adapter ----------------------------------------------------------------------


@register("openai")
@register("openai_compatible")
@register("azure_openai")
class OpenAIAdapter(ProviderAdapter):
    """OpenAI Chat Completions over the official SDK, for OpenAI, Azure and compatible servers."""

    kind = "openai"
    supports_thinking = True  # reasoning_effort upstream; reasoning_content from compatible servers

    def __init__(self, provider: Any) -> None:
        super().__init__(provider)
        self._clients = clients.ClientCache()
        self._key = ""

    def _build_client(self) -> openai.AsyncOpenAI:
        provider = self.provider
        if provider.kind == "openai_compatible":
            self._key = clients.api_key(provider)
            key = self._key or clients.NO_KEY_PLACEHOLDER
        else:
            key = self._key = clients.required_api_key(provider)
        common: dict[str, Any] = {
            "api_key": key,
            "timeout": clients.timeout(provider),
            "max_retries": provider.max_retries,
            "default_headers": clients.extra_headers(provider) or None,
            "http_client": clients.http_client(provider),
        }
        if provider.kind == "azure_openai":
            if not provider.base_url:
                raise errors.ConfigurationError(
                    f"Azure provider {provider.slug!r} needs its resource endpoint as base_url.", provider=provider.slug
                )
            client: openai.AsyncOpenAI = openai.AsyncAzureOpenAI(
                azure_endpoint=provider.base_url,
                api_version=provider.api_version or DEFAULT_AZURE_API_VERSION,
                **common,
            )
        else:
            if provider.kind == "openai_compatible" and not provider.base_url:
                raise errors.ConfigurationError(
                    f"OpenAI-compatible provider {provider.slug!r} has no base_url.", provider=provider.slug
                )
            client = openai.AsyncOpenAI(base_url=provider.base_url or OPENAI_BASE_URL, **common)
        # The SDK fills these from OPENAI_ORG_ID / OPENAI_PROJECT_ID when not given: an operator's
        # environment must not leak into another provider's requests, so set them explicitly.
        client.organization = provider.organization or None
        client.project = None
        return client

    @property
    def client(self) -> openai.AsyncOpenAI:
        return self._clients.get(self._build_client)

    def map_error(self, exc: BaseException) -> errors.ProviderError:
        return map_openai_error(exc, provider=self.provider.slug, secrets=[self._key])

    async def complete(self, request: ChatRequest) -> ChatResult:
        params = build_params(request, kind=self.provider.kind, stream=False)
        try:
            client = self.client  # built (key decrypted, TLS context loaded) outside the deadline
            async with clients.deadline(self.provider):
                # The SDK's low-level call: its URL building (Azure deployments too), headers, retries
                # and status errors, without its typed-params transform and response models, which
                # were a third of a request's CPU (bench/README.md); the params are plain JSON already.
                response = await client.post(CHAT_PATH, body=params, cast_to=httpx2.Response)
        except Exception as exc:
            raise self.map_error(exc) from exc
        data = _json_object(response.content)
        if data is None or not isinstance(data.get("choices"), list):
            # A 200 whose body is not a chat completion (an HTML page from a proxy, truncated JSON).
            raise errors.UpstreamUnavailableError(
                f"Upstream provider {self.provider.slug!r} answered 200 with a body that is not a chat completion.",
                provider=self.provider.slug,
            )
        body, usage = completion_body(data, request)
        return ChatResult(body=body, usage=usage, upstream_request_id=response.headers.get("x-request-id"))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        params = build_params(request, kind=self.provider.kind, stream=True)
        upstream = None
        try:
            # Opening the stream and each chunk must come within the provider's timeout (a long
            # answer is not a slow one), the whole stream within its stream_timeout_seconds. Chunks
            # are the SDK's SSE decoding (errors in the stream included) as plain dicts.
            client = self.client
            clock = clients.StreamDeadline(self.provider)
            async with clock.step():
                upstream = await client.post(
                    CHAT_PATH, body=params, cast_to=object, stream=True, stream_cls=openai.AsyncStream[object]
                )
            yield StreamStarted()
            while True:
                async with clock.step():
                    chunk = await anext(upstream, None)
                if chunk is None:
                    break
                if isinstance(chunk, dict):
                    for event in chunk_events(chunk, show_thinking=request.show_thinking):
                        yield event
        except errors.ProviderError:
            raise
        except Exception as exc:
            raise self.map_error(exc) from exc
        finally:
            if upstream is not None:
                await upstream.close()

    async def list_models(self, limit: int | None = None) -> list[UpstreamModel]:
        try:
            client = self.client
            async with clients.deadline(self.provider):
                models = []
                async for model in client.models.list():
                    models.append(model)
                    if limit is not None and len(models) >= limit:
                        break  # asks for no further page
        except Exception as exc:
            raise self.map_error(exc) from exc
        return [upstream_model(data) if (data := listed_entry(m)) is not None else unreadable_entry(m) for m in models]

    async def aclose(self) -> None:
        await self._clients.aclose()


def upstream_model(data: dict[str, Any]) -> UpstreamModel:
    """A listed model, with the metadata OpenRouter-like servers add (context length, prices), as given."""
    pricing = data.get("pricing") if isinstance(data.get("pricing"), dict) else {}
    top = data.get("top_provider") if isinstance(data.get("top_provider"), dict) else {}
    return UpstreamModel(
        model_id=data.get("id"),
        name=data.get("name") or "",
        created=data.get("created"),
        context_window=next(
            (v for k in ("context_length", "context_window", "max_model_len") if (v := data.get(k)) is not None), None
        ),
        max_output_tokens=top.get("max_completion_tokens", data.get("max_output_tokens")),
        input_price_per_mtok=_per_mtok(pricing.get("prompt")),
        output_price_per_mtok=_per_mtok(pricing.get("completion")),
        raw=data,
    )


def _per_mtok(per_token: Any) -> Any:
    """OpenRouter's per-token price strings per million tokens, exact; anything else as given (discovery checks)."""
    try:
        return per_token if per_token is None or isinstance(per_token, bool) else Decimal(str(per_token)) * 1_000_000
    except (InvalidOperation, ValueError):
        return per_token


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None
