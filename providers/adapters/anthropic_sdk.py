"""Adapter for `anthropic` providers (the official `anthropic` SDK, async).

Request building and answer translation are pure functions in
`anthropic_translate.py`; this module does the I/O. One async SDK client per
provider (and event loop), built by `clients.py`: the provider's timeout as a
deadline (the SDK sleeps for any `Retry-After`, so the deadline and the client
hook are what bound it), no redirects, retries left to the SDK's `max_retries`.
SDK errors are mapped once, here, by `map_anthropic_error`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

import anthropic
from anthropic.types import Message

from providers.adapters import clients, errors, limits
from providers.adapters.anthropic_translate import StreamTranslator, build_params, message_body
from providers.adapters.base import (
    ChatRequest,
    ChatResult,
    ProviderAdapter,
    StreamEvent,
    StreamStarted,
    UpstreamModel,
    listed_entry,
    unreadable_entry,
)
from providers.adapters.registry import register

ANTHROPIC_BASE_URL = "https://api.anthropic.com"


def map_anthropic_error(
    exc: BaseException, *, provider: str | None = None, secrets: Iterable[str] = ()
) -> errors.ProviderError:
    """The one mapping of `anthropic` SDK exceptions to our categories (SPEC §6)."""
    name = f"upstream provider {provider!r}" if provider else "the upstream provider"
    if isinstance(exc, errors.ProviderError):
        return exc
    if isinstance(exc, anthropic.APITimeoutError | anthropic.APIConnectionError) and (
        cause := errors.sdk_cause(exc, provider)
    ):
        return cause  # ours (a full pool, a size limit), raised below the SDK and wrapped by it
    if isinstance(exc, anthropic.APITimeoutError):
        return errors.TimeoutError(f"The {name} did not answer in time.", provider=provider)
    if isinstance(exc, anthropic.APIStatusError):
        if (too_large := limits.exceeded(exc.response)) is not None:
            return too_large  # an error page cut at the provider's limit: the limit is the story
        status = exc.status_code
        return errors.error_from_response(
            # An `error` event inside a stream comes with the stream's 200: classify it by its body.
            status if status >= 300 else None,
            exc.response.headers,
            exc.body if exc.body is not None else exc.response.content,
            provider=provider,
            secrets=secrets,
            request_id=exc.request_id,
        )
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__
        detail = errors.excerpt(errors.scrub(str(cause), secrets)) if cause is not None else ""
        return errors.ConnectionError(
            f"The connection to the {name} failed: {detail or 'connection error'}.", provider=provider
        )
    if isinstance(exc, anthropic.APIResponseValidationError):
        return errors.UpstreamUnavailableError(
            f"The {name} answered with a response of an unexpected shape.", provider=provider
        )
    if isinstance(exc, anthropic.APIError):
        return errors.error_from_response(None, None, exc.body, provider=provider, secrets=secrets)
    return errors.map_transport_error(exc, provider=provider, secrets=secrets)


@register("anthropic")
class AnthropicAdapter(ProviderAdapter):
    """Anthropic Messages over the official SDK, spoken as OpenAI Chat Completions."""

    kind = "anthropic"
    supports_thinking = True

    def __init__(self, provider: Any) -> None:
        super().__init__(provider)
        self._clients = clients.ClientCache()
        self._key = ""

    def _build_client(self) -> anthropic.AsyncAnthropic:
        provider = self.provider
        self._key = clients.required_api_key(provider)
        return anthropic.AsyncAnthropic(
            api_key=self._key,
            base_url=provider.base_url or ANTHROPIC_BASE_URL,
            timeout=clients.timeout(provider),
            max_retries=provider.max_retries,
            default_headers=clients.extra_headers(provider) or None,
            http_client=clients.http_client(provider),
        )

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        return self._clients.get(self._build_client)

    def map_error(self, exc: BaseException) -> errors.ProviderError:
        return map_anthropic_error(exc, provider=self.provider.slug, secrets=[self._key])

    async def complete(self, request: ChatRequest) -> ChatResult:
        params = build_params(request)
        try:
            client = self.client  # built (key decrypted, TLS context loaded) outside the deadline
            async with clients.deadline(self.provider):
                message = await client.messages.create(**params)
        except Exception as exc:
            raise self.map_error(exc) from exc
        if not isinstance(message, Message):
            raise errors.UpstreamUnavailableError(
                f"Upstream provider {self.provider.slug!r} answered 200 with a body that is not a message.",
                provider=self.provider.slug,
            )
        body, usage = message_body(message.model_dump(), request)
        return ChatResult(body=body, usage=usage, upstream_request_id=message._request_id)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        params = build_params(request)
        translator = StreamTranslator(show_thinking=request.show_thinking)
        upstream = None
        try:
            # Opening the stream and each event must come within the provider's timeout (a long
            # answer is not a slow one), the whole stream within its stream_timeout_seconds.
            client = self.client
            clock = clients.StreamDeadline(self.provider)
            async with clock.step():
                upstream = await client.messages.create(**params, stream=True)
            yield StreamStarted()
            events = upstream.__aiter__()
            while True:
                async with clock.step():
                    event = await anext(events, None)
                if event is None:
                    break
                for item in translator.events(event):
                    yield item
        except errors.ProviderError:
            raise
        except Exception as exc:
            raise self.map_error(exc) from exc
        finally:
            if upstream is not None:
                await upstream.close()
        if not translator.finished:
            raise errors.ConnectionError(
                f"The stream of upstream provider {self.provider.slug!r} ended before message_stop.",
                provider=self.provider.slug,
            )

    async def list_models(self, limit: int | None = None) -> list[UpstreamModel]:
        try:
            client = self.client
            async with clients.deadline(self.provider):
                # The SDK's auto-pagination follows every page (has_more / last_id → after_id); `limit`
                # stops it, whatever the upstream's cursor says (an endless `has_more` included).
                models = []
                async for model in client.models.list(limit=1000):
                    models.append(model)
                    if limit is not None and len(models) >= limit:
                        break  # asks for no further page
        except Exception as exc:
            raise self.map_error(exc) from exc
        entries = [(m, listed_entry(m, mode="json")) for m in models]
        return [upstream_model(data) if data is not None else unreadable_entry(m) for m, data in entries]

    async def aclose(self) -> None:
        await self._clients.aclose()


def upstream_model(data: dict[str, Any]) -> UpstreamModel:
    """A listed Anthropic model: display name, release date, limits, capabilities and lifecycle as given."""
    created = data.get("created_at")
    try:
        timestamp = int(datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()) if created else None
    except ValueError:
        timestamp = None
    return UpstreamModel(
        model_id=data.get("id"),
        name=data.get("display_name") or "",
        created=timestamp,
        capabilities=data.get("capabilities") or {},
        context_window=data.get("max_input_tokens"),
        max_output_tokens=data.get("max_tokens"),
        lifecycle=data.get("lifecycle"),
        raw=data,
    )
