"""The adapter interface: one class per provider kind, found through `registry`.

An adapter turns a normalized chat request (OpenAI Chat Completions shape) into
a call to one vendor's SDK and turns the answer back into OpenAI shapes:
`complete()` returns a `chat.completion` dict, `stream()` yields typed
`StreamEvent`s (chat/sse.py alone writes them as SSE frames). It also lists the
upstream's models (discovery) and pings one model (validation). Vendor SDKs are
imported only inside their adapter module; SDK errors are mapped to
`providers.adapters.errors.ProviderError` at this boundary by `map_error()`.

Adding a kind: one module with a subclass, decorated with `@register("kind")`
(see `registry.py`), and one `ProviderKind` choice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from providers.adapters.errors import ProviderError
from providers.snapshot import ProviderInfo


@dataclass(slots=True)
class ThinkingConfig:
    """Extended thinking as asked for: `mode` is `budget` (with `budget_tokens`) or `adaptive`."""

    mode: str
    budget_tokens: int | None = None
    effort: str | None = None


@dataclass(slots=True)
class ChatRequest:
    """A validated chat request, OpenAI-shaped, with defaults and presets already applied.

    `messages`, `tools`, `tool_choice`, `response_format` and `stop` are exactly as
    the OpenAI API takes them; adapters translate for their vendor. `model` is the
    upstream model id (not our qualified id).
    """

    model: str
    messages: list[dict[str, Any]]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    user: str | None = None
    reasoning_effort: str | None = None
    thinking: ThinkingConfig | None = None
    show_thinking: bool = True
    include_usage: bool = False
    capabilities: dict[str, Any] = field(default_factory=dict)
    #: The model's `max_output_tokens` (adapters that need a max_tokens default it from this).
    max_output_tokens: int | None = None


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_openai(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.reasoning_tokens is not None:
            data["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return data


@dataclass(slots=True)
class ChatResult:
    """A complete answer: `body` is an OpenAI `chat.completion` object (dict)."""

    body: dict[str, Any]
    usage: Usage
    upstream_request_id: str | None = None


# --- stream events ---------------------------------------------------------------


@dataclass(slots=True)
class StreamStarted:
    """The upstream accepted the request (it answered 200) and its stream is open.

    Adapters yield it first, as soon as the status is known, so the client gets its
    headers and first chunk without waiting for the first token; a failure before
    it is a plain error status, a failure after it an error event in the stream.
    """


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ReasoningDelta:
    text: str


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of a tool call: the first piece of a call carries `id` and `name`."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class Finish:
    reason: str  # stop | length | tool_calls | content_filter


@dataclass(slots=True)
class UsageEvent:
    usage: Usage


StreamEvent = StreamStarted | TextDelta | ReasoningDelta | ToolCallDelta | Finish | UsageEvent


@dataclass(slots=True)
class UpstreamModel:
    """A model as the upstream lists it, with whatever metadata it gives.

    Values are passed on as the upstream gave them, unchecked (an upstream may send anything):
    model discovery checks every entry before using it. An entry the adapter could not read at
    all (not an object) carries the reason in `problem`.
    """

    model_id: Any
    name: str = ""
    created: int | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    context_window: int | None = None
    max_output_tokens: int | None = None
    input_price_per_mtok: float | None = None
    output_price_per_mtok: float | None = None
    lifecycle: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def listed_entry(item: Any, **dump: Any) -> dict[str, Any] | None:
    """An SDK's listed item as a dict (None when it is not an object: hostile or broken listings)."""
    if isinstance(item, dict):
        return item
    model_dump = getattr(item, "model_dump", None)
    if model_dump is None:
        return None
    # The SDKs build list items without validation: an id may be any JSON value, hence no warnings.
    data = model_dump(warnings=False, **dump)
    return data if isinstance(data, dict) else None


def unreadable_entry(item: Any) -> UpstreamModel:
    return UpstreamModel(model_id=None, problem=f"the entry is not an object ({type(item).__name__})")


@dataclass(slots=True)
class PingResult:
    ok: bool
    latency_ms: float
    error: str | None = None
    answer: str | None = None


class ProviderAdapter(ABC):
    """Base of every adapter. One instance per provider configuration, reused across requests."""

    kind: ClassVar[str]
    #: Capability attributes of the kind (what the adapter can translate).
    supports_streaming: ClassVar[bool] = True
    supports_tools: ClassVar[bool] = True
    supports_vision: ClassVar[bool] = True
    supports_thinking: ClassVar[bool] = False
    needs_network: ClassVar[bool] = True

    def __init__(self, provider: ProviderInfo) -> None:
        self.provider = provider

    @abstractmethod
    async def complete(self, request: ChatRequest) -> ChatResult:
        """One non-streamed answer. Raises ProviderError."""

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield events as the upstream sends them; the upstream is closed when the iterator closes.

        Raises ProviderError (also mid-stream).
        """

    @abstractmethod
    async def list_models(self, limit: int | None = None) -> list[UpstreamModel]:
        """Every model the upstream lists (all pages), or the first `limit` (pagination stops there:
        a bound against huge or endless listings). Raises ProviderError."""

    async def ping(self, model_id: str) -> PingResult:
        """Send a tiny request (`ping`, expecting `pong`) to check that a model answers."""
        import time

        started = time.perf_counter()
        request = ChatRequest(
            model=model_id,
            messages=[{"role": "user", "content": "ping — answer with the single word: pong"}],
            max_tokens=10,
        )
        try:
            result = await self.complete(request)
        except ProviderError as exc:
            return PingResult(ok=False, latency_ms=(time.perf_counter() - started) * 1000, error=exc.message)
        answer = (result.body["choices"][0]["message"].get("content") or "").strip()
        return PingResult(ok=True, latency_ms=(time.perf_counter() - started) * 1000, answer=answer)

    @abstractmethod
    def map_error(self, exc: BaseException) -> ProviderError:
        """Map an exception raised by this adapter's SDK to our error categories."""

    async def aclose(self) -> None:  # noqa: B027  (optional hook)
        """Release the SDK client (connection pool)."""
