"""`UpstreamTransport` on the wire: a real `httpx2.AsyncClient` against scripted raw HTTP/1.1 bytes.

Each test starts a tiny asyncio TCP server on 127.0.0.1 that reads whole requests
(Content-Length or chunked bodies), answers with the bytes the test scripts, and
counts connections, so reuse, framing, errors and timeouts are observed as a
peer sees them. Nothing in the transport is mocked.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from providers.adapters import clients
from providers.adapters.transport import UpstreamTransport
from tests.providers.adapters.support import provider_info

#: Longest a scenario may take: a transport that hangs fails its test instead of stalling the run.
GUARD_SECONDS = 5
PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"]


# --- the scripted upstream ------------------------------------------------------------------


@dataclass
class Received:
    """One request as the upstream read it off the wire."""

    connection: int  # 1 for the first connection the upstream accepted, 2 for the next...
    method: str
    target: str
    headers: dict[str, str]  # names lower-cased
    body: bytes  # de-chunked
    raw_body: bytes  # as framed on the wire


Respond = Callable[[Received, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class ScriptedUpstream:
    """Answers every request with `answer` (raw bytes, or a coroutine function writing to the socket).

    After an answer, it reads the next request on the same connection unless the
    answer closed the connection; `client_closed` lists the connections on which
    it read EOF while waiting for a request.
    """

    answer: bytes | Respond
    ssl_context: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[Received] = field(default_factory=list)
    client_closed: list[int] = field(default_factory=list)
    url: str = ""
    _tasks: list[asyncio.Task] = field(default_factory=list)

    async def __aenter__(self) -> ScriptedUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        self.connections += 1
        number = self.connections
        try:
            while (request := await _read_request(reader, number)) is not None:
                self.requests.append(request)
                if isinstance(self.answer, bytes):
                    writer.write(self.answer)
                else:
                    await self.answer(request, writer)
                if writer.is_closing():
                    return
                await writer.drain()
            self.client_closed.append(number)
        except ConnectionError:
            self.client_closed.append(number)
        except asyncio.CancelledError:
            pass  # the test is over (Python 3.11's start_server logs handlers that end cancelled)
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader, connection: int) -> Received | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = raw = b""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            body, raw = body + data[:-2], raw + size_line + data
            if size == 0:
                break
    else:
        body = raw = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(connection, method, target, headers, body, raw)


def ok(body: bytes = b"ok", *headers: bytes, head: bytes = b"HTTP/1.1 200 OK") -> bytes:
    """A Content-Length response."""
    return head + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"Content-Length: %d\r\n\r\n" % len(body) + body


def then_close(raw: bytes) -> Respond:
    """Write `raw`, then close the connection."""

    async def respond(request: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()
        writer.close()

    return respond


def by_target(answers: dict[str, bytes | Respond]) -> Respond:
    """Answer by request target."""

    async def respond(request: Received, writer: asyncio.StreamWriter) -> None:
        answer = answers[request.target]
        if isinstance(answer, bytes):
            writer.write(answer)
        else:
            await answer(request, writer)

    return respond


async def never_answer(request: Received, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)  # cancelled when the test's upstream stops


def client(
    *, ssl_context: ssl.SSLContext | None = None, timeout: float = 0.5, **limits: float | None
) -> httpx2.AsyncClient:
    """A client on our transport, as `clients.http_client` builds it, with short timeouts."""
    pool = httpx2.Limits(**{"max_connections": 10, "max_keepalive_connections": 10, **limits})
    return httpx2.AsyncClient(
        transport=UpstreamTransport(ssl_context=ssl_context or ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), limits=pool),
        timeout=timeout,
        trust_env=False,  # a proxy in the test machine's environment must not take the requests elsewhere
    )


def run(scenario: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, GUARD_SECONDS))


async def until(condition: Callable[[], bool], within: float = 1.0) -> None:
    """Wait for something the upstream observes asynchronously (an EOF, a closed socket)."""
    ends = time.monotonic() + within
    while not condition():
        assert time.monotonic() < ends, "the upstream never saw it"
        await asyncio.sleep(0.01)


def free_port() -> int:
    """A port nothing listens on (bound, never listened, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- framing and keep-alive -----------------------------------------------------------------


def test_a_content_length_response_and_keep_alive_on_one_connection():
    answer = ok(b'{"id": 1}', b"Content-Type: application/json", b"X-Upstream: one", head=b"HTTP/1.1 201 Made Here")

    async def scenario():
        async with ScriptedUpstream(answer) as upstream, client() as http:
            first = await http.post(upstream.url + "/v1/chat?x=1", json={"q": "hi"}, headers={"X-Team": "blue"})
            second = await http.get(upstream.url + "/v1/models")
            return upstream, first, second

    upstream, first, second = run(scenario())

    assert (first.status_code, first.reason_phrase, first.http_version) == (201, "Made Here", "HTTP/1.1")
    assert first.headers["content-type"] == "application/json"
    assert first.headers["x-upstream"] == "one"
    assert first.json() == {"id": 1}
    assert second.content == b'{"id": 1}'
    assert upstream.connections == 1
    sent = upstream.requests[0]
    assert (sent.method, sent.target, sent.body) == ("POST", "/v1/chat?x=1", b'{"q":"hi"}')
    assert sent.headers["host"] == upstream.url.removeprefix("http://")
    assert sent.headers["content-length"] == str(len(sent.body))
    assert sent.headers["x-team"] == "blue"
    assert [(r.connection, r.method, r.target) for r in upstream.requests[1:]] == [(1, "GET", "/v1/models")]


def test_a_chunked_response_streams_as_it_arrives_and_ignores_trailers():
    async def scenario():
        go_on = asyncio.Event()

        async def respond(request, writer):
            if request.target == "/again":
                writer.write(ok(b"again"))
                return
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"b;ext=1\r\ndata: one\n\n\r\n")
            await writer.drain()
            await asyncio.wait_for(go_on.wait(), 2)
            writer.write(b"b\r\ndata: two\n\n\r\n0\r\nX-Trailer: ignored\r\nX-Other: too\r\n\r\n")

        async with ScriptedUpstream(respond) as upstream, client() as http:
            async with http.stream("GET", upstream.url + "/events") as response:
                lines = response.aiter_lines()
                first = await asyncio.wait_for(anext(lines), 1)
                go_on.set()  # the upstream sends the second chunk only now
                rest = [line async for line in lines]
            again = await http.get(upstream.url + "/again")
            return upstream, first, rest, again, response

    upstream, first, rest, again, response = run(scenario())

    assert first == "data: one"
    assert rest == ["", "data: two", ""]
    assert "x-trailer" not in response.headers
    assert again.text == "again"
    assert upstream.connections == 1


def test_a_body_without_length_is_read_until_the_upstream_closes_and_the_connection_is_not_reused():
    async def respond(request, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ")
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(b"the end")
        await writer.drain()
        writer.close()

    async def scenario():
        async with ScriptedUpstream(respond) as upstream, client() as http:
            return upstream, [(await http.get(upstream.url)).text for _ in range(2)]

    upstream, texts = run(scenario())

    assert texts == ["until the end", "until the end"]
    assert upstream.connections == 2


@pytest.mark.parametrize(
    "cut",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n",
        b"HTTP/1.1 200 OK\r\nContent-",
        b"",
    ],
    ids=["content-length", "chunk-data", "no-last-chunk", "head", "nothing"],
)
def test_an_upstream_that_closes_mid_response_is_a_protocol_error(cut):
    async def scenario():
        async with ScriptedUpstream(by_target({"/cut": then_close(cut), "/next": ok()})) as upstream, client() as http:
            with pytest.raises(httpx2.RemoteProtocolError, match="closed the connection"):
                await http.get(upstream.url + "/cut")
            assert (await http.get(upstream.url + "/next")).text == "ok"
            return upstream

    assert run(scenario()).connections == 2


def test_a_body_cut_by_the_read_timeout_drops_the_connection():
    async def rest_too_late(request, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await asyncio.sleep(0.3)
        writer.write(b"defghijklm")  # a reused connection would take this for the next response

    async def scenario():
        answers = {"/slow": rest_too_late, "/next": ok()}
        async with ScriptedUpstream(by_target(answers)) as upstream, client(timeout=0.2) as http:
            with pytest.raises(httpx2.ReadTimeout):
                await http.get(upstream.url + "/slow")
            assert (await http.get(upstream.url + "/next")).text == "ok"
            await until(lambda: upstream.client_closed == [1])
            return upstream

    upstream = run(scenario())

    assert [(r.connection, r.target) for r in upstream.requests] == [(1, "/slow"), (2, "/next")]


def test_a_streamed_response_closed_before_its_end_drops_the_connection():
    answer = ok(b"x" * 100_000)

    async def scenario():
        async with ScriptedUpstream(answer) as upstream, client() as http:
            async with http.stream("GET", upstream.url) as response:
                parts = response.aiter_raw()  # held: a dropped iterator would close the body itself
                await anext(parts)
            assert len((await http.get(upstream.url)).content) == 100_000
            await until(lambda: upstream.client_closed == [1])
            return upstream

    assert run(scenario()).connections == 2


@pytest.mark.parametrize("idle", [0.05, 0], ids=["after-idling", "at-once"])
def test_a_connection_the_upstream_closed_after_its_answer_is_replaced(idle):
    # "at-once": the FIN is in the socket but the event loop has not read it when the next request starts.
    async def scenario():
        async with ScriptedUpstream(then_close(ok())) as upstream, client() as http:
            assert (await http.get(upstream.url)).text == "ok"
            if idle:
                await asyncio.sleep(idle)
            assert (await http.get(upstream.url)).text == "ok"
            return upstream

    assert run(scenario()).connections == 2


@pytest.mark.parametrize(
    "answer",
    [ok(head=b"HTTP/1.0 200 OK"), ok(b"ok", b"Connection: close"), ok(b"ok", b"Connection: Close")],
    ids=["http-1.0", "connection-close", "connection-Close"],
)
def test_http_1_0_and_connection_close_answers_are_not_reused(answer):
    async def scenario():
        async with ScriptedUpstream(answer) as upstream, client() as http:
            assert [(await http.get(upstream.url)).text for _ in range(2)] == ["ok", "ok"]
            await until(lambda: upstream.client_closed[:1] == [1])  # the client hung up, the upstream did not
            return upstream

    assert run(scenario()).connections == 2


def test_head_204_and_304_answers_have_no_body_and_keep_the_connection():
    answers = {
        "/head": b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
        "/204": b"HTTP/1.1 204 No Content\r\n\r\n",
        "/304": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n",
        "/get": ok(b"body"),
    }

    async def scenario():
        async with ScriptedUpstream(by_target(answers)) as upstream, client(timeout=0.3) as http:
            head = await http.head(upstream.url + "/head")
            no_content = await http.get(upstream.url + "/204")
            not_modified = await http.get(upstream.url + "/304")
            after = await http.get(upstream.url + "/get")
            return upstream, head, no_content, not_modified, after

    upstream, head, no_content, not_modified, after = run(scenario())

    assert (head.status_code, head.headers["content-length"], head.content) == (200, "1000", b"")
    assert (no_content.status_code, no_content.content) == (204, b"")
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert after.text == "body"
    assert upstream.connections == 1


def test_informational_answers_before_the_response_are_skipped():
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + ok(b"real")

    async def scenario():
        async with ScriptedUpstream(answer) as upstream, client() as http:
            return [await http.post(upstream.url, content=b"x") for _ in range(2)]

    responses = run(scenario())

    assert [(r.status_code, r.text) for r in responses] == [(200, "real")] * 2
    assert "link" not in responses[0].headers


def test_a_gzip_body_is_handed_over_raw_and_decoded_by_httpx2():
    packed = gzip.compress(b"hello gzip " * 50)

    async def scenario():
        async with ScriptedUpstream(ok(packed, b"Content-Encoding: gzip")) as upstream, client() as http:
            decoded = await http.get(upstream.url)
            async with http.stream("GET", upstream.url) as response:
                raw = b"".join([part async for part in response.aiter_raw()])
            return upstream, decoded, raw

    upstream, decoded, raw = run(scenario())

    assert decoded.content == b"hello gzip " * 50
    assert decoded.headers["content-length"] == str(len(packed))
    assert raw == packed
    assert upstream.connections == 1


def test_two_content_lengths_that_agree_are_accepted_and_chunked_wins_over_content_length():
    answers = {
        "/twice": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        "/both": b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    }

    async def scenario():
        async with ScriptedUpstream(by_target(answers)) as upstream, client() as http:
            texts = [(await http.get(upstream.url + target)).text for target in ("/twice", "/both", "/twice")]
            return upstream, texts

    upstream, texts = run(scenario())

    assert texts == ["ok", "ok", "ok"]
    assert upstream.connections == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
        b"ICY 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: no name\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Space : before the colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded: line\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!",
        b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * 300_000 + b"\r\n\r\n",
    ],
    ids=[
        "status-code",
        "protocol",
        "no-status",
        "header-colon",
        "header-name",
        "header-space",
        "header-folded",
        "content-lengths-disagree",
        "content-length-word",
        "content-length-negative",
        "chunk-size",
        "chunk-end",
        "head-too-large",
    ],
)
def test_malformed_answers_are_protocol_errors_and_the_connection_is_dropped(answer):
    async def scenario():
        async with ScriptedUpstream(by_target({"/bad": answer, "/next": ok()})) as upstream, client() as http:
            with pytest.raises(httpx2.RemoteProtocolError):
                await http.get(upstream.url + "/bad")
            assert (await http.get(upstream.url + "/next")).text == "ok"
            return upstream

    upstream = run(scenario())

    assert [(r.connection, r.target) for r in upstream.requests] == [(1, "/bad"), (2, "/next")]


# --- request bodies -------------------------------------------------------------------------


def test_a_streamed_request_body_is_sent_chunked_and_arrives_whole():
    async def parts():
        yield b"part one, "
        await asyncio.sleep(0.01)
        yield b""
        yield b"part two"

    async def scenario():
        async with ScriptedUpstream(ok()) as upstream, client() as http:
            assert (await http.post(upstream.url, content=parts())).text == "ok"
            assert (await http.post(upstream.url, content=b"plain")).text == "ok"
            return upstream

    upstream = run(scenario())

    streamed, plain = upstream.requests
    assert streamed.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in streamed.headers
    assert streamed.raw_body == b"a\r\npart one, \r\n8\r\npart two\r\n0\r\n\r\n"
    assert streamed.body == b"part one, part two"
    assert (plain.headers["content-length"], plain.body) == ("5", b"plain")
    assert upstream.connections == 1


# --- connecting, timeouts and the pool ------------------------------------------------------


def test_a_port_nothing_listens_on_is_a_connect_error():
    async def scenario():
        async with client() as http:
            await http.get(f"http://127.0.0.1:{free_port()}/")

    with pytest.raises(httpx2.ConnectError):
        run(scenario())


def test_an_upstream_that_never_answers_is_a_read_timeout_at_the_read_timeout():
    async def scenario():
        async with ScriptedUpstream(never_answer) as upstream, client(timeout=0.2) as http:
            started = time.monotonic()
            with pytest.raises(httpx2.ReadTimeout):
                await http.get(upstream.url)
            return time.monotonic() - started

    assert 0.15 < run(scenario()) < 0.6


def test_a_cancelled_request_frees_its_slot_and_drops_its_connection():
    async def scenario():
        answers = {"/never": never_answer, "/next": ok()}
        async with ScriptedUpstream(by_target(answers)) as upstream, client(max_connections=1) as http:
            waiting = asyncio.create_task(http.get(upstream.url + "/never"))
            await until(lambda: len(upstream.requests) == 1)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert (await http.get(upstream.url + "/next", timeout=httpx2.Timeout(0.5, pool=0.2))).text == "ok"
            return upstream

    assert [(r.connection, r.target) for r in run(scenario()).requests] == [(1, "/never"), (2, "/next")]


def test_the_pool_limit_makes_a_second_request_wait_then_time_out():
    async def scenario():
        release = asyncio.Event()

        async def open_stream(request, writer):
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n")
            await writer.drain()
            await release.wait()

        answers = {"/stream": open_stream, "/next": ok()}
        async with ScriptedUpstream(by_target(answers)) as upstream, client(max_connections=1) as http:
            async with http.stream("GET", upstream.url + "/stream") as response:
                parts = response.aiter_raw()  # held: a dropped iterator would close the body itself
                assert await anext(parts) == b"one"
                started = time.monotonic()
                with pytest.raises(httpx2.PoolTimeout):
                    await http.get(upstream.url + "/next", timeout=httpx2.Timeout(0.5, pool=0.1))
                waited = time.monotonic() - started
            after = await http.get(upstream.url + "/next", timeout=httpx2.Timeout(0.5, pool=0.1))
            return upstream, waited, after

    upstream, waited, after = run(scenario())

    assert 0.08 < waited < 0.4
    assert after.text == "ok"
    assert [r.target for r in upstream.requests] == ["/stream", "/next"]  # the timed-out one never went out


def test_only_max_keepalive_connections_stay_open_when_idle():
    async def scenario():
        async with ScriptedUpstream(ok()) as upstream, client(max_keepalive_connections=1) as http:
            await asyncio.gather(http.get(upstream.url), http.get(upstream.url))
            await until(lambda: len(upstream.client_closed) == 1)
            await http.get(upstream.url)
            return upstream

    upstream = run(scenario())

    assert upstream.connections == 2
    kept = {1, 2} - set(upstream.client_closed)
    assert upstream.requests[-1].connection in kept


def test_no_keepalive_limit_keeps_every_connection():
    # httpx2.Limits(max_keepalive_connections=None) means "no limit", as in httpx2's own pool.
    async def scenario():
        async with ScriptedUpstream(ok()) as upstream, client(max_keepalive_connections=None) as http:
            for _ in range(3):
                await http.get(upstream.url)
            return upstream

    assert run(scenario()).connections == 1


def test_a_connection_idle_past_the_keepalive_expiry_is_closed_and_replaced():
    async def scenario():
        async with ScriptedUpstream(ok()) as upstream, client(keepalive_expiry=0.1) as http:
            await http.get(upstream.url)
            await http.get(upstream.url)
            await asyncio.sleep(0.15)
            await http.get(upstream.url)
            await until(lambda: upstream.client_closed == [1])
            return upstream

    assert [r.connection for r in run(scenario()).requests] == [1, 1, 2]


def test_closing_the_client_closes_its_idle_connections():
    async def scenario():
        async with ScriptedUpstream(ok()) as upstream:
            http = client()
            await http.get(upstream.url)
            assert upstream.client_closed == []
            await http.aclose()
            await until(lambda: upstream.client_closed == [1])
            return upstream

    assert run(scenario()).connections == 1


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: the paths of its PEM and its key (upstreams are HTTPS)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(folder / "cert.pem"), str(folder / "key.pem")


def _server_tls(tls_certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_certificate)
    return context


def test_https_verifies_the_upstream_and_keeps_the_connection(tls_certificate):
    trusting = ssl.create_default_context(cafile=tls_certificate[0])

    async def scenario():
        upstream = ScriptedUpstream(ok(b"secret"), ssl_context=_server_tls(tls_certificate))
        async with upstream, client(ssl_context=trusting) as http:
            return upstream, [(await http.get(upstream.url)).text for _ in range(2)]

    upstream, texts = run(scenario())

    assert upstream.url.startswith("https://")
    assert texts == ["secret", "secret"]
    assert upstream.connections == 1


def test_an_untrusted_certificate_is_a_connect_error(tls_certificate):
    async def scenario():
        upstream = ScriptedUpstream(ok(), ssl_context=_server_tls(tls_certificate))
        async with upstream, client(ssl_context=ssl.create_default_context()) as http:
            with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await http.get(upstream.url)
            return upstream

    assert run(scenario()).requests == []


# --- when clients.py uses it ----------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_proxy_in_the_environment_switches_to_httpx2s_own_transport(monkeypatch, variable):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    provider = provider_info(kind="openai", base_url="https://api.example.com/v1")

    assert clients.proxy_configured() is False
    direct = clients.http_client(provider)
    assert isinstance(direct._transport, UpstreamTransport)

    monkeypatch.setenv(variable, "http://proxy.internal:3128")
    assert clients.proxy_configured() is True
    proxied = clients.http_client(provider)
    assert not isinstance(proxied._transport, UpstreamTransport)
    assert isinstance(proxied._transport, httpx2.AsyncHTTPTransport)
    assert any(transport is not None for transport in proxied._mounts.values())

    run(direct.aclose())
    run(proxied.aclose())
