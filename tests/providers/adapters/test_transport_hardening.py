"""What a caller and an upstream cannot do through our HTTP layer (issue 14), seen on the wire.

- Items 9: a header with CR/LF/NUL is never written; `Host`, `Content-Length`,
  `Transfer-Encoding` and hop-by-hop headers are the transport's own, whatever the
  caller passes (no request smuggling, no desync of a kept-alive connection).
- Item 5: the clients of `clients.http_client()` bound every body while reading —
  a huge Content-Length, a 1 GB chunk, a gzip bomb, an endless SSE event — on our
  transport and on `httpx2`'s own (the proxy case).
Scripted raw HTTP/1.1 peers from test_transport.py; nothing in the transport is mocked.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib

import httpx2
import pytest

from providers.adapters import clients, errors, limits
from tests.providers.adapters.support import provider_info
from tests.providers.adapters.test_transport import (
    PROXY_VARIABLES,
    ScriptedUpstream,
    by_target,
    client,
    ok,
    run,
    until,
)

KB = 1024

# --- item 9: request headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Team", "blue\r\nX-Injected: 1"),
        ("X-Team", "blue\nX-Injected: 1"),
        ("X-Team", "blue\rX"),
        ("X-Team", "a\x00b"),
        ("X-Team", "a\x7fb"),
        ("X-Team\r\nX-Injected", "1"),
        ("Bad Name", "1"),
        ("", "1"),
    ],
    ids=["crlf", "lf", "cr", "nul", "del", "crlf-in-name", "space-in-name", "empty-name"],
)
def test_a_header_that_could_inject_is_refused_and_nothing_is_written(name, value):
    async def scenario():
        async with ScriptedUpstream(ok()) as upstream, client() as http:
            with pytest.raises(httpx2.LocalProtocolError, match="Refused to send request header"):
                await http.post(upstream.url + "/v1/chat", content=b"{}", headers=[(name, value)])
            assert (await http.get(upstream.url + "/next")).text == "ok"  # the pool is fine
            return upstream

    upstream = run(scenario())

    assert [r.target for r in upstream.requests] == ["/next"]
    assert all("x-injected" not in r.headers for r in upstream.requests)


def test_framing_routing_and_hop_by_hop_headers_of_a_caller_do_not_override_ours():
    smuggled = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    caller = [
        ("Host", "evil.example"),
        ("Content-Length", "0"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "Upgrade"),
        ("Upgrade", "h2c"),
        ("TE", "trailers"),
        ("X-Team", "blue"),
    ]

    async def scenario():
        async with ScriptedUpstream(ok()) as upstream, client() as http:
            first = await http.post(upstream.url + "/v1/chat", content=smuggled, headers=caller)
            second = await http.get(upstream.url + "/v1/models", headers=[("Host", "evil.example")])
            return upstream, first, second

    upstream, first, second = run(scenario())

    assert (first.text, second.text) == ("ok", "ok")
    sent, after = upstream.requests
    assert [r.target for r in upstream.requests] == ["/v1/chat", "/v1/models"]  # no /smuggled
    host = upstream.url.removeprefix("http://")
    assert (sent.headers["host"], after.headers["host"]) == (host, host)
    assert sent.headers["content-length"] == str(len(smuggled))
    assert sent.body == smuggled
    assert "transfer-encoding" not in sent.headers
    assert {"connection", "upgrade", "te"}.isdisjoint(sent.headers)
    assert sent.headers["x-team"] == "blue"
    assert upstream.connections == 1  # the connection stayed in step


def test_a_streamed_body_is_chunked_whatever_length_the_caller_claims():
    async def parts():
        yield b"0123456789"

    async def scenario():
        async with ScriptedUpstream(ok()) as upstream, client() as http:
            await http.post(upstream.url, content=parts(), headers={"Content-Length": "3"})
            return upstream

    (sent,) = run(scenario()).requests

    assert sent.headers["transfer-encoding"] == "chunked" and "content-length" not in sent.headers
    assert sent.body == b"0123456789"


@pytest.mark.parametrize(
    "head",
    [b"Retry-After: 3\nX-Injected: 1", b"Retry-After: 3\rX: 1", b"X-Id: a\x00b"],
    ids=["bare-lf", "bare-cr", "nul"],
)
def test_an_upstream_head_with_a_control_character_is_a_protocol_error(head):
    answer = b"HTTP/1.1 429 Too Many\r\n" + head + b"\r\nContent-Length: 2\r\n\r\n{}"

    async def scenario():
        async with ScriptedUpstream(by_target({"/bad": answer, "/next": ok()})) as upstream, client() as http:
            with pytest.raises(httpx2.RemoteProtocolError, match="control character"):
                await http.get(upstream.url + "/bad")
            assert (await http.get(upstream.url + "/next")).text == "ok"

    run(scenario())


def test_a_huge_chunk_is_read_in_pieces():
    async def respond(request, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (8 * 1024 * KB))
        for _ in range(128):
            writer.write(b"x" * (64 * KB))
            await writer.drain()
        writer.write(b"\r\n0\r\n\r\n")

    async def scenario():
        async with ScriptedUpstream(respond) as upstream, client(timeout=3) as http:
            async with http.stream("GET", upstream.url) as response:
                return [len(part) async for part in response.aiter_raw()]

    sizes = run(scenario())

    assert sum(sizes) == 8 * 1024 * KB
    assert max(sizes) <= 64 * KB


# --- item 5: the size limits, through the clients clients.py builds ----------------------------


def _provider(url: str, **fields):
    fields.setdefault("max_response_bytes", 64 * KB)
    fields.setdefault("max_error_body_bytes", 4 * KB)
    fields.setdefault("max_sse_event_bytes", 16 * KB)
    return provider_info(kind="openai", base_url=url, **fields)


async def _get(upstream: ScriptedUpstream, path: str = "/", **fields) -> httpx2.Response:
    async with clients.http_client(_provider(upstream.url, **fields)) as http:
        return await http.get(upstream.url + path)


def _chunked(body: bytes, head: bytes = b"HTTP/1.1 200 OK") -> bytes:
    return head + b"\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


@pytest.mark.parametrize(
    "answer",
    [b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n" + b"x" * KB, _chunked(b"x" * (256 * KB))],
    ids=["declared-1GB", "chunked-256KB"],
)
def test_a_body_past_its_limit_fails_naming_it(answer):
    async def scenario():
        async with ScriptedUpstream(answer) as upstream:
            with pytest.raises(errors.ResponseTooLargeError) as caught:
                await _get(upstream)
            return caught.value

    error = run(scenario())

    assert error.status_code == 502 and error.category == "upstream_unavailable"
    assert error.code == "upstream_response_too_large"
    assert "exceeded ModelDesk's 64 KB limit (max_response_bytes)" in error.message


def test_the_accept_encoding_asked_is_identity_and_a_gzip_bomb_is_bounded_after_inflating():
    bomb = gzip.compress(b"\0" * (64 * 1024 * KB))  # 64 MB of zeros in ~64 KB

    async def scenario():
        async with ScriptedUpstream(ok(bomb, b"Content-Encoding: gzip")) as upstream:
            with pytest.raises(errors.ResponseTooLargeError):
                await _get(upstream)
            return upstream

    upstream = run(scenario())

    assert upstream.requests[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw"])
def test_a_compressed_answer_within_the_limit_is_inflated(encoding):
    text = b'{"ok": true, "pad": "' + b"a" * (32 * KB) + b'"}'
    if encoding == "gzip":
        packed = gzip.compress(text)
    elif encoding == "deflate":
        packed = zlib.compress(text)
    else:
        squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        packed = squeezer.compress(text) + squeezer.flush()
    header = b"Content-Encoding: " + encoding.split("-")[0].encode()

    async def scenario():
        async with ScriptedUpstream(ok(packed, header)) as upstream:
            return await _get(upstream)

    response = run(scenario())

    assert response.content == text
    assert response.json()["ok"] is True


def test_an_encoding_we_did_not_ask_for_and_cannot_bound_is_refused():
    async def scenario():
        async with ScriptedUpstream(ok(b"\x00" * 64, b"Content-Encoding: br")) as upstream:
            with pytest.raises(errors.UpstreamUnavailableError, match="Content-Encoding 'br'"):
                await _get(upstream)

    run(scenario())


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_error_body_is_cut_at_its_limit_and_marked(chunked):
    page = b"<html>" + b"e" * (256 * KB)
    answer = _chunked(page, b"HTTP/1.1 500 Oops") if chunked else ok(page, head=b"HTTP/1.1 500 Oops")

    async def scenario():
        async with ScriptedUpstream(by_target({"/err": answer, "/next": ok()})) as upstream:
            response = await _get(upstream, "/err")
            again = await _get(upstream, "/next")
            await until(lambda: 1 in upstream.client_closed)
            return response, again

    response, again = run(scenario())

    assert response.status_code == 500
    assert len(response.content) == 4 * KB
    assert response.headers["x-should-retry"] == "false"
    too_large = limits.exceeded(response)
    assert isinstance(too_large, errors.ResponseTooLargeError)
    assert "error answer" in too_large.message and "4 KB limit (max_error_body_bytes)" in too_large.message
    assert again.text == "ok"


@pytest.mark.parametrize(
    ("frames", "fails"),
    [
        ([b"data: " + b"x" * (32 * KB)], True),  # one line, no end
        ([b"data: x\n" * (4 * KB)], True),  # many short lines, never a blank one: one endless event
        ([(b"data: " + b"x" * (12 * KB) + b"\n\n")] * 40, False),  # 480 KB of events of 12 KB each
        ([(b"data: " + b"x" * (12 * KB) + b"\r\n\r\n")] * 40, False),
        ([b"data: " + b"x" * (12 * KB) + b"\n", b"\n" + b"data: " + b"y" * (12 * KB) + b"\n\n"] * 10, False),
    ],
    ids=["endless-line", "endless-event", "many-events", "crlf-events", "blank-line-across-reads"],
)
def test_one_sse_event_is_bounded_not_the_stream(frames, fails):
    async def respond(request, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for frame in frames:
            writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(b"0\r\n\r\n")

    async def scenario():
        async with ScriptedUpstream(respond) as upstream, clients.http_client(_provider(upstream.url)) as http:
            async with http.stream("GET", upstream.url) as response:
                return sum([len(part) async for part in response.aiter_bytes()])

    if fails:
        with pytest.raises(errors.ResponseTooLargeError, match=r"one server-sent event .* 16 KB limit"):
            run(scenario())
    else:
        assert run(scenario()) == sum(map(len, frames))


def test_the_limits_hold_on_httpx2s_own_transport_too(monkeypatch):
    """With a proxy in the environment, `httpx2`'s transport carries the request: the hook still bounds it."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    async def scenario():
        # The scripted peer is the proxy: it answers the absolute-form request itself.
        async with ScriptedUpstream(_chunked(b"x" * (256 * KB))) as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            provider = _provider("http://api.upstream.example/v1")
            async with clients.http_client(provider) as http:
                assert not isinstance(http._transport, clients.UpstreamTransport)
                with pytest.raises(errors.ResponseTooLargeError):
                    await http.get("http://api.upstream.example/v1/models")
            return proxy

    proxy = run(scenario())

    assert proxy.requests[0].target == "http://api.upstream.example/v1/models"
