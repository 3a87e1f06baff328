"""Hostile answers of the fake upstream (issue 14): huge bodies, huge error pages, an endless SSE line,
a stream that trickles empty chunks forever.

Each is generated piece by piece (never held in memory: the fake runs in the test
process, whose memory some tests measure) and stops as soon as the client goes
away. `RecordedRequest.bytes_sent` counts what was handed to the server before
that, so a test can tell how much of a 1 GB answer the gateway actually read.

    fake_upstream.enqueue(fb.huge_body(1 << 30))             # 200, 1 GB of JSON
    fake_upstream.enqueue(fb.huge_body(300 << 20, status=500))  # a 300 MB error page
    fake_upstream.enqueue(fb.endless_sse_line(1 << 30))      # 200 SSE, one line of 1 GB
    fake_upstream.enqueue(fb.trickle(0.2))                   # an empty chunk every 0.2 s, forever
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fake_upstream.behaviour import Behaviour
    from tests.fake_upstream.exchange import Exchange

PIECE = 64 * 1024
_FILLER = b"x" * PIECE


async def _pieces(exchange: Exchange, start: bytes, total: int) -> None:
    """Send `start`, then filler up to `total` bytes in all, while the client stays."""
    record = exchange.record
    sent = 0
    first = start
    while sent < total and not exchange.gone.is_set() and exchange.generation == exchange.fake.generation:
        piece = (first + _FILLER)[: min(PIECE, total - sent)]
        first = b""
        await exchange.send({"type": "http.response.body", "body": piece, "more_body": True})
        sent += len(piece)
        record.bytes_sent = sent
        # uvicorn's send() returns at once, without yielding, once the client is gone: yield, so the
        # disconnect watcher runs and `bytes_sent` stops at what could have reached the client.
        await asyncio.sleep(0)
    if sent >= total:
        record.completed = True
    await exchange.send({"type": "http.response.body", "body": b""})


async def huge_body(exchange: Exchange, behaviour: Behaviour) -> None:
    """`behaviour.body_bytes` of JSON-looking text (or an HTML error page when status >= 400)."""
    total = behaviour.body_bytes or 0
    error = behaviour.status >= 400
    headers = {"content-type": "text/html" if error else "application/json", **exchange.id_header()}
    if not behaviour.chunked:
        headers["content-length"] = str(total)
    headers.update(behaviour.headers)
    await exchange.start(behaviour.status, headers)
    start = b"<html><body><h1>Internal error</h1><pre>" if error else b'{"id": "chatcmpl-huge", "filler": "'
    await _pieces(exchange, start, total)


async def endless_sse_line(exchange: Exchange, behaviour: Behaviour) -> None:
    """A 200 event stream whose first line never ends (`behaviour.sse_line_bytes` bytes, no newline)."""
    await exchange.start(200, {"content-type": "text/event-stream", **exchange.id_header()})
    if exchange.record.vendor == "anthropic":
        start = b'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": {"text": "'
    else:
        start = b'data: {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"delta": {"content": "'
    await _pieces(exchange, start, behaviour.sse_line_bytes or 0)


async def trickle(exchange: Exchange, behaviour: Behaviour) -> None:
    """A 200 event stream that sends an event with no text every `behaviour.trickle` seconds, forever."""
    await exchange.start(200, {"content-type": "text/event-stream", **exchange.id_header()})
    model = exchange.record.model or "unknown"
    if exchange.record.vendor == "anthropic":
        usage = {"input_tokens": 1, "output_tokens": 1}
        message = {"id": "msg_trickle", "type": "message", "role": "assistant", "model": model, "content": [],
                   "stop_reason": None, "stop_sequence": None, "usage": usage}  # fmt: skip
        opening = [
            ("message_start", {"type": "message_start", "message": message}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
        ]  # fmt: skip
        frames = [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in opening]
        empty = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ""}}
        beat = f"event: content_block_delta\ndata: {json.dumps(empty)}\n\n"
    else:
        choice = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        chunk = {"id": "chatcmpl-trickle", "object": "chat.completion.chunk", "created": 0, "model": model,
                 "choices": [choice]}  # fmt: skip
        frames = []
        beat = f"data: {json.dumps(chunk)}\n\n"
    for frame in frames:
        await exchange.send({"type": "http.response.body", "body": frame.encode(), "more_body": True})
    while await exchange.pause(behaviour.trickle):
        exchange.record.frames_sent += 1
        await exchange.send({"type": "http.response.body", "body": beat.encode(), "more_body": True})
    await exchange.send({"type": "http.response.body", "body": b""})
