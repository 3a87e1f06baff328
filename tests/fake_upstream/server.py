"""A fake OpenAI + Anthropic upstream: a small ASGI app served by uvicorn on 127.0.0.1 in a thread.

Tests talk to it over a real socket with the real SDKs (which use httpx2, so
httpx mocking libraries would not see the traffic). Use the `fake_upstream`
fixture (tests/fake_upstream/fixtures.py): one server per test session, state
reset before every test.

Endpoints
---------
- OpenAI: `POST /v1/chat/completions`, `GET /v1/models`, `GET /v1/models/{id}`
  (base_url `fake_upstream.url + "/v1"`); Azure: `POST /openai/deployments/{dep}/chat/completions`,
  `GET /openai/models` (azure_endpoint `fake_upstream.url`).
- Anthropic: `POST /v1/messages`, `GET /v1/models` (paginated: `limit`, `after_id`,
  `before_id`, `has_more`, `first_id`, `last_id`; pages hold at most
  `anthropic_page_size` = 2 models so pagination is always exercised),
  `GET /v1/models/{id}` (base_url `fake_upstream.url`). A request carrying an
  `anthropic-version` header is treated as Anthropic.

Default answers (no scripting needed)
-------------------------------------
- "pong" when the last user message contains "ping"; after a tool result,
  "Tool result: <content>"; otherwise "Hello from <model>! This is the fake upstream."
- A forced tool choice (OpenAI `required`/named function, Anthropic `any`/`tool`)
  calls the (first or named) tool with `"test"` for each required property.
- Anthropic with `thinking` enabled or adaptive: a thinking block with a signature.
- Usage: input tokens = words in the request's messages and system, output
  tokens = words answered; `max_tokens` below the answer's length truncates it
  (finish_reason `length` / stop_reason `max_tokens`).
- Anthropic requests are validated like Anthropic does (only the fields the
  installed SDK's `MessageCreateParams` knows — so no `temperature` —,
  max_tokens required and within the model's limit, no `system` role in
  messages, budget_tokens >= 1024 and < max_tokens, no forced tool with
  thinking, the model's listed thinking type): a 400 `invalid_request_error`.
- Hostile model listings (`hostile_listings.py`): `set_models(openai=…, raw=True)` lists entries as
  given (NUL or over-long ids, ids that are not strings, non-objects, absurd numbers, negative
  prices); `set_models(anthropic_page_size=1000)` for long listings (`hostile_listings.many_models(50_003)`);
  `set_models(endless_pages=True)`: Anthropic's listing says `has_more: true` forever.
- `fake_upstream.api_key = "sk-…"` makes every request without that key (Bearer,
  `x-api-key` or `api-key`) a 401.
- The default model lists (`openai_models`, `anthropic_models`, replace with
  `set_models()`) include one model per vendor that fails (`gpt-retired`,
  `claude-retired-2` answer 404) so validation has something to reject.

Scripting (see behaviour.py)
----------------------------
- `enqueue(b, model=None, endpoint="generate", times=1)`: the next matching
  request(s) get `b` (FIFO; `endpoint` is `generate`, `models` or `any`).
- `set_behaviour(model_id, b)`: every generation request for that model gets `b`.
- Behaviours: answers with text / tool calls / thinking / usage / finish_reason, a hostile
  `usage` object sent as given (`hostile_usage({"prompt_tokens": -5})`),
  errors with each vendor's body (`error(429, retry_after=3600)`,
  `context_length_error()`, `overloaded()`; retryable errors without an explicit
  `retry_after`/`retry_after_ms` carry `retry-after-ms: 1`, so the SDKs retry at
  once and `max_retries` can be counted in hits without slow back-off), `slow(delay)`, `hang()`,
  `cut(after=N)` (stream cut after N frames; `stream_error=True` sends the
  vendor's in-stream error event instead), `raw(body)` (HTML or truncated JSON
  with a 200), `redirect()` (307 to `other_url`, i.e. `localhost` instead of
  `127.0.0.1`), `chunk_delay` between streamed frames, `first_token_delay` between
  a stream's headers and its first frame.
- Hostile answers (hostile.py): `huge_body(size, status=…)`, `endless_sse_line(size)`,
  `trickle(every)`; `RecordedRequest.bytes_sent` / `frames_sent` say how much went out
  before the client left. `tests/fake_upstream/raw.py` serves raw bytes uvicorn would refuse.

Inspection
----------
`requests` (list of `RecordedRequest`: method, path, query, headers (lower-case),
json, model, vendor, stream, host, disconnected, `wait_disconnected(timeout)`),
`last_request`, `hit_count(path=None, model=None)`, `requests_for(...)`.
Streams are sent frame by frame (real incremental sends), and a client that goes
away is recorded (`disconnected=True`).

Run it alone (for benchmarks): `python -m tests.fake_upstream.server --port 8765`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

from tests.fake_upstream import behaviour as fb
from tests.fake_upstream import wire
from tests.fake_upstream.exchange import Exchange

DEFAULT_OPENAI_MODELS = ["gpt-4o-mini", "gpt-4o", "o3-mini", "gpt-retired"]
DEFAULT_ANTHROPIC_MODELS: list[dict[str, Any]] = [
    wire.anthropic_model("claude-opus-4-7", display_name="Claude Opus 4.7", thinking="adaptive", max_tokens=128_000),
    wire.anthropic_model("claude-sonnet-4-6", display_name="Claude Sonnet 4.6", thinking="budget"),
    wire.anthropic_model("claude-haiku-4-5", display_name="Claude Haiku 4.5", thinking="budget"),
    wire.anthropic_model(
        "claude-3-haiku-20240307",
        display_name="Claude Haiku 3",
        created_at="2024-03-07T00:00:00Z",
        max_tokens=4096,
        thinking="none",
    ),
    wire.anthropic_model("claude-retired-2", display_name="Claude 2 (retired)", thinking="none", lifecycle="retired"),
]
FAILING_MODELS = {"gpt-retired", "claude-retired-2"}


@dataclass
class RecordedRequest:
    """A request as the fake upstream received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    host: str
    vendor: str = ""
    model: str | None = None
    stream: bool = False
    received_at: float = field(default_factory=time.monotonic)
    #: The client went away before the response was complete (timeout, cancelled stream).
    disconnected: bool = False
    completed: bool = False
    #: Hostile answers (hostile.py): body bytes handed to the server, empty events sent.
    bytes_sent: int = 0
    frames_sent: int = 0
    _gone: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait_disconnected(self, timeout: float = 2.0) -> bool:
        """Wait until the client has gone away (True) or `timeout` passed (False)."""
        return self._gone.wait(timeout)


def _openai_model(entry: str | dict[str, Any]) -> dict[str, Any]:
    data = {"id": entry} if isinstance(entry, str) else dict(entry)
    data.setdefault("object", "model")
    data.setdefault("created", 1_715_367_049)
    data.setdefault("owned_by", "system")
    return data


def _anthropic_model(entry: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(entry, str):
        return wire.anthropic_model(entry)
    return {**wire.anthropic_model(entry["id"]), **entry}


class FakeUpstream:
    """State and ASGI app of the fake upstream (thread-safe: tests script it from another thread)."""

    anthropic_page_size = 2

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.url = ""
        self.other_url = ""
        self.reset()

    # --- scripting -------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._requests: list[RecordedRequest] = []
            self._queue: list[tuple[fb.Behaviour, str | None, str]] = []
            self._by_model: dict[str, fb.Behaviour] = {
                model: fb.error(404, f"The model `{model}` does not exist or you do not have access to it.")
                for model in FAILING_MODELS
            }
            self.openai_models = [_openai_model(m) for m in DEFAULT_OPENAI_MODELS]
            self.anthropic_models = [dict(m) for m in DEFAULT_ANTHROPIC_MODELS]
            self.api_key: str | None = None
            self.anthropic_page_size = type(self).anthropic_page_size
            self.endless_pages = False
            self.generation = getattr(self, "generation", 0) + 1  # releases hanging handlers

    def enqueue(
        self, behaviour: fb.Behaviour, *, model: str | None = None, endpoint: str = "generate", times: int = 1
    ) -> None:
        with self._lock:
            self._queue.extend([(behaviour, model, endpoint)] * times)

    def set_behaviour(self, model_id: str, behaviour: fb.Behaviour | None) -> None:
        with self._lock:
            if behaviour is None:
                self._by_model.pop(model_id, None)
            else:
                self._by_model[model_id] = behaviour

    def set_models(
        self,
        *,
        openai: list[str | dict[str, Any]] | None = None,
        anthropic: list[str | dict[str, Any]] | None = None,
        raw: bool = False,
        anthropic_page_size: int | None = None,
        endless_pages: bool | None = None,
    ) -> None:
        """Replace the model lists. `raw=True` lists the entries exactly as given (hostile listings:
        non-objects, ids that are not strings, missing fields); `anthropic_page_size` changes the
        page size of Anthropic's listing; `endless_pages` makes it answer `has_more: true` forever."""
        with self._lock:
            if openai is not None:
                self.openai_models = list(openai) if raw else [_openai_model(m) for m in openai]
            if anthropic is not None:
                self.anthropic_models = list(anthropic) if raw else [_anthropic_model(m) for m in anthropic]
            if anthropic_page_size is not None:
                self.anthropic_page_size = anthropic_page_size
            if endless_pages is not None:
                self.endless_pages = endless_pages

    # --- inspection ------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        requests = self.requests
        assert requests, "the fake upstream received no request"
        return requests[-1]

    def requests_for(self, path: str | None = None, model: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if (path is None or r.path == path) and (model is None or r.model == model)]

    def hit_count(self, path: str | None = None, model: str | None = None) -> int:
        return len(self.requests_for(path, model))

    def hits(self) -> Counter:
        return Counter(r.path for r in self.requests)

    # --- ASGI ------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        record = RecordedRequest(
            method=scope["method"],
            path=scope["path"],
            query=dict(parse_qsl(scope.get("query_string", b"").decode())),
            headers=headers,
            body=body,
            json=parsed,
            host=headers.get("host", ""),
        )
        with self._lock:
            self._requests.append(record)
        exchange = Exchange(self, record, receive, send)
        watcher = asyncio.create_task(exchange.watch_disconnect())
        try:
            await exchange.handle()
        finally:
            watcher.cancel()

    def pick(self, endpoint: str, model: str | None) -> fb.Behaviour:
        with self._lock:
            for i, (behaviour, only_model, only_endpoint) in enumerate(self._queue):
                if only_endpoint not in (endpoint, "any"):
                    continue
                if only_model is not None and only_model != model:
                    continue
                del self._queue[i]
                return behaviour
            if endpoint == "generate" and model in self._by_model:
                return self._by_model[model]
        return fb.Behaviour()


# --- running it --------------------------------------------------------------------


class FakeUpstreamServer:
    """Runs a FakeUpstream under uvicorn in a daemon thread on 127.0.0.1 (a free port)."""

    def __init__(self, fake: FakeUpstream | None = None, port: int = 0) -> None:
        self.fake = fake or FakeUpstream()
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.port = self.socket.getsockname()[1]
        self.fake.url = f"http://127.0.0.1:{self.port}"
        self.fake.other_url = f"http://localhost:{self.port}"
        config = uvicorn.Config(
            self.fake,
            http="h11",
            lifespan="off",
            log_level="critical",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> FakeUpstream:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the fake upstream did not start")
            time.sleep(0.01)
        return self.fake

    def stop(self) -> None:
        self.fake.generation += 1
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.socket.close()


def main() -> None:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="Run the fake OpenAI + Anthropic upstream.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = FakeUpstreamServer(port=args.port)
    print(f"fake upstream on {server.fake.url} (OpenAI base {server.fake.url}/v1, Anthropic base {server.fake.url})")
    server.server.run(sockets=[server.socket])


if __name__ == "__main__":  # pragma: no cover
    main()
