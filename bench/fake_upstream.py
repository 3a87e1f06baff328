"""A fast fake OpenAI-compatible (and Anthropic-shaped) upstream for load tests.

Raw asyncio HTTP/1.1 (uvloop and httptools when installed, a small stdlib parser
otherwise): answers are prebuilt bytes, so one process serves tens of thousands
of requests per second and the upstream is never the bottleneck of a benchmark.

Routes (any path prefix, so `base_url` may or may not end in `/v1`):
    POST .../chat/completions   OpenAI Chat Completions, JSON or SSE (`"stream": true`)
    POST .../messages           Anthropic Messages, JSON or SSE
    GET  .../models             OpenAI model list
    GET  /__stats               {"requests": N, "streams": N} served since start

Options: --port, --delay-ms (before each answer, or before the first byte of a
stream), --chunk-delay-ms (spacing of streamed content chunks), --chunks N
(content chunks per stream), --workers N (processes sharing the port).

Usage: python bench/fake_upstream.py --port 9100 --delay-ms 0 --chunks 10
Only listens on 127.0.0.1 unless --host is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass

try:  # optional accelerators; the server works without them
    import httptools
except ImportError:  # pragma: no cover - depends on the environment
    httptools = None
try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
USAGE_RE = re.compile(rb'"include_usage"\s*:\s*true')
MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"\\]{1,200})"')
CREATED = int(time.time())


@dataclass(frozen=True, slots=True)
class Config:
    delay: float
    chunk_delay: float
    chunks: int


# ---------------------------------------------------------------- wire formats


def _head(status: str, content_type: str, length: int | None, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"content-type: {content_type}", "x-request-id: req_bench"]
    lines.append(f"content-length: {length}" if length is not None else "transfer-encoding: chunked")
    if content_type.startswith("text/event-stream"):
        lines.append("cache-control: no-cache")
    lines.append("connection: keep-alive" if keep_alive else "connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _json_response(obj: object, keep_alive: bool, status: str = "200 OK") -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode()
    return _head(status, "application/json", len(body), keep_alive) + body


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def openai_completion(model: str) -> dict:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from the fake upstream.", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
        "system_fingerprint": "fp_bench",
    }


def openai_stream_events(model: str, chunks: int, usage: bool) -> tuple[bytes, list[bytes], bytes]:
    """(first event, content events, closing events) of an OpenAI SSE stream."""

    def event(delta: dict, finish: str | None = None) -> bytes:
        obj = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

    first = event({"role": "assistant", "content": ""})
    content = [event({"content": f"tok{i} "}) for i in range(chunks)]
    closing = event({}, "stop")
    if usage:
        obj = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks},
        }
        closing += b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"
    closing += b"data: [DONE]\n\n"
    return first, content, closing


def anthropic_message(model: str) -> dict:
    return {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Hello from the fake upstream."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 7},
    }


def anthropic_stream_events(model: str, chunks: int) -> tuple[bytes, list[bytes], bytes]:
    def event(name: str, obj: dict) -> bytes:
        return f"event: {name}\ndata: ".encode() + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

    start = {
        **anthropic_message(model),
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    first = event("message_start", {"type": "message_start", "message": start})
    first += event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    content = [
        event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"tok{i} "}},
        )
        for i in range(chunks)
    ]
    closing = event("content_block_stop", {"type": "content_block_stop", "index": 0})
    closing += event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": chunks},
        },
    )
    closing += event("message_stop", {"type": "message_stop"})
    return first, content, closing


MODELS_LIST = {
    "object": "list",
    "data": [
        {"id": name, "object": "model", "created": CREATED, "owned_by": "bench"}
        for name in ("bench-model", "gpt-4o-mini", "gpt-4o")
    ],
}


class Answers:
    """Prebuilt response bytes per (shape, model, keep-alive), built on first use."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._cache: dict[tuple, object] = {}

    def plain(self, shape: str, model: str, keep_alive: bool) -> bytes:
        key = ("plain", shape, model, keep_alive)
        found = self._cache.get(key)
        if found is None:
            obj = openai_completion(model) if shape == "openai" else anthropic_message(model)
            found = self._cache[key] = _json_response(obj, keep_alive)
            self._bound()
        return found  # type: ignore[return-value]

    def stream(self, shape: str, model: str, usage: bool, keep_alive: bool) -> tuple[bytes, list[bytes], bytes]:
        """(headers + first chunk, content chunks, closing chunks + terminator), all chunk-encoded."""
        key = ("stream", shape, model, usage, keep_alive)
        found = self._cache.get(key)
        if found is None:
            if shape == "openai":
                first, content, closing = openai_stream_events(model, self.config.chunks, usage)
            else:
                first, content, closing = anthropic_stream_events(model, self.config.chunks)
            head = _head("200 OK", "text/event-stream; charset=utf-8", None, keep_alive)
            found = self._cache[key] = (
                head + _chunk(first),
                [_chunk(c) for c in content],
                _chunk(closing) + b"0\r\n\r\n",
            )
            self._bound()
        return found  # type: ignore[return-value]

    def _bound(self) -> None:
        # A load test uses a handful of model names; never grow without limit.
        if len(self._cache) > 1024:
            self._cache.clear()


# ---------------------------------------------------------------- protocol

STATS = {"requests": 0, "streams": 0}


@dataclass(slots=True)
class Request:
    method: bytes
    path: bytes
    body: bytes
    keep_alive: bool


class UpstreamProtocol(asyncio.Protocol):
    """One connection: parse requests, answer them in order (no pipelining reorder)."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.config = answers.config
        self.transport: asyncio.Transport | None = None
        self.queue: deque[Request] = deque()
        self.busy = False
        self.closed = False
        self._buf = b""
        if httptools is not None:
            self.parser = httptools.HttpRequestParser(self)
        else:
            self.parser = None
        self._url = b""
        self._body: list[bytes] = []

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        if self.parser is not None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self._fail()
        else:
            self._buf += data
            self._parse_stdlib()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._enqueue(
            Request(
                method=self.parser.get_method(),
                path=self._url.split(b"?", 1)[0],
                body=b"".join(self._body),
                keep_alive=self.parser.should_keep_alive(),
            )
        )

    # stdlib fallback: Content-Length bodies only (what the SDKs and load generators send)
    def _parse_stdlib(self) -> None:
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buf[:end].split(b"\r\n")
            try:
                method, target, version = head[0].split(b" ", 2)
            except ValueError:
                self._fail()
                return
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0") or 0)
            if len(self._buf) < end + 4 + length:
                return
            body = self._buf[end + 4 : end + 4 + length]
            self._buf = self._buf[end + 4 + length :]
            conn = headers.get(b"connection", b"").lower()
            keep_alive = conn != b"close" if version == b"HTTP/1.1" else conn == b"keep-alive"
            self._enqueue(Request(method, target.split(b"?", 1)[0], body, keep_alive))

    def _fail(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(_json_response({"error": {"message": "bad request"}}, False, "400 Bad Request"))
            self.transport.close()

    # answering
    def _enqueue(self, request: Request) -> None:
        self.queue.append(request)
        if not self.busy:
            self._next()

    def _next(self) -> None:
        while self.queue and not self.closed:
            request = self.queue.popleft()
            self.busy = True
            if not self._answer(request):
                return  # an answer is pending (delay or stream); it calls _next when done
            self.busy = False
        self.busy = False

    def _answer(self, request: Request) -> bool:
        """Answer now and return True, or schedule the answer and return False."""
        STATS["requests"] += 1
        path = request.path
        if request.method == b"POST" and (path.endswith(b"/chat/completions") or path.endswith(b"/messages")):
            shape = "openai" if path.endswith(b"/chat/completions") else "anthropic"
            match = MODEL_RE.search(request.body)
            model = match.group(1).decode("utf-8", "replace") if match else "bench-model"
            if STREAM_RE.search(request.body):
                STATS["streams"] += 1
                parts = self.answers.stream(shape, model, bool(USAGE_RE.search(request.body)), request.keep_alive)
                asyncio.get_running_loop().create_task(self._stream(parts, request.keep_alive))
                return False
            data = self.answers.plain(shape, model, request.keep_alive)
        elif request.method == b"GET" and path.endswith(b"/models"):
            data = _json_response(MODELS_LIST, request.keep_alive)
        elif request.method == b"GET" and path == b"/__stats":
            data = _json_response(STATS, request.keep_alive)
        else:
            data = _json_response(
                {"error": {"message": f"no route {path.decode('latin-1')}", "type": "invalid_request_error"}},
                request.keep_alive,
                "404 Not Found",
            )
        if self.config.delay > 0:
            asyncio.get_running_loop().call_later(self.config.delay, self._send_later, data, request.keep_alive)
            return False
        self._send(data, request.keep_alive)
        return True

    def _send(self, data: bytes, keep_alive: bool) -> None:
        if self.closed or self.transport is None:
            return
        self.transport.write(data)
        if not keep_alive:
            self.transport.close()
            self.closed = True

    def _send_later(self, data: bytes, keep_alive: bool) -> None:
        self._send(data, keep_alive)
        self.busy = False
        self._next()

    async def _stream(self, parts: tuple[bytes, list[bytes], bytes], keep_alive: bool) -> None:
        first, content, closing = parts
        try:
            if self.config.delay > 0:
                await asyncio.sleep(self.config.delay)
            if self.closed:
                return
            self.transport.write(first)
            for piece in content:
                if self.config.chunk_delay > 0:
                    await asyncio.sleep(self.config.chunk_delay)
                if self.closed:
                    return
                self.transport.write(piece)
            self._send(closing, keep_alive)
        finally:
            self.busy = False
            if not self.closed:
                self._next()


# ---------------------------------------------------------------- server


def _bind(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


async def serve(sock: socket.socket, config: Config) -> None:
    loop = asyncio.get_running_loop()
    answers = Answers(config)
    server = await loop.create_server(lambda: UpstreamProtocol(answers), sock=sock, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def _run(sock: socket.socket, config: Config) -> None:
    if uvloop is not None:
        uvloop.run(serve(sock, config))
    else:
        asyncio.run(serve(sock, config))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait before each answer (first byte of a stream)")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="spacing of streamed content chunks")
    parser.add_argument("--chunks", type=int, default=10, help="content chunks per streamed answer")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    args = parser.parse_args(argv)
    config = Config(delay=args.delay_ms / 1000, chunk_delay=args.chunk_delay_ms / 1000, chunks=max(0, args.chunks))
    print(
        f"fake upstream on http://{args.host}:{args.port} delay={args.delay_ms}ms "
        f"chunk_delay={args.chunk_delay_ms}ms chunks={config.chunks} workers={args.workers} "
        f"uvloop={uvloop is not None} httptools={httptools is not None}",
        file=sys.stderr,
        flush=True,
    )
    if args.workers <= 1:
        _run(_bind(args.host, args.port, False), config)
        return 0
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:  # child: its own socket on the shared port
            try:
                _run(_bind(args.host, args.port, True), config)
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        os.waitpid(child, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
