"""The HTTP/1.1 transport under the SDKs' `httpx2` clients: keep-alive connections on asyncio streams.

The SDKs take an `httpx2.AsyncClient`, and `httpx2` takes a transport; its default
one (`httpcore2` over `anyio`, `h11` for the wire format) cost about half of the
client-side CPU of a proxied request: ~0.45 ms of ~1 ms per call measured in
one process (bench/README.md, ADR 0007). Upstreams speak plain HTTP/1.1 with
keep-alive to us, so this transport does only that, directly on asyncio's
streams: one request at a time per connection, idle connections reused per
origin, TLS through the same `ssl.SSLContext` the default transport would use.

What the SDKs and `httpx2` rely on is kept: the timeouts of the request
(`connect`, `read`, `write`, `pool`), `httpx2`'s exception classes (the SDKs map
`TimeoutException` and `RequestError` to their timeout and connection errors),
raw response bytes (content decoding stays in `httpx2.Response`), and a response
body that streams as it arrives (SSE). Redirects, auth and hooks stay in the
client. HTTP/2, proxies and Unix sockets are not handled here: `clients.py`
uses `httpx2`'s own transport when a proxy is configured in the environment.

What a caller cannot do through it (issue 14, defence in depth behind the
provider validation): send a header name that is not a token or a value with
CR, LF, NUL or another control character (`LocalProtocolError`, nothing is
written), or choose the request's framing and routing: `Host` comes from the
URL, `Content-Length`/`Transfer-Encoding` from the body, hop-by-hop headers are
ours. What an upstream cannot do: make us buffer a whole chunk of any size (a
chunk is read in `READ_SIZE` pieces; the size limits on a body live in
`limits.py`), or slip CR, LF or NUL into a header line.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import select
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpx2

#: Longest status line + headers accepted from an upstream.
MAX_HEAD_BYTES = 256 * 1024
#: Largest piece of a body handed to `httpx2` at once.
READ_SIZE = 64 * 1024
_NO_BODY_STATUS = frozenset({204, 304})
#: Request headers the transport writes itself (framing, routing, the connection): a caller's are dropped.
_OURS = frozenset({b"host", b"content-length", b"transfer-encoding", b"connection", b"keep-alive",
                   b"proxy-connection", b"te", b"trailer", b"upgrade"})  # fmt: skip
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # HTAB is allowed in a value (RFC 9110 §5.5)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: `request.extensions` key set while a request waits for a free connection (clients.py reads it).
WAITING_FOR_POOL = "modeldesk.waiting_for_pool"

Origin = tuple[str, str, int]


class _Connection:
    """One TCP (or TLS) connection to an origin, carrying one request at a time."""

    __slots__ = ("idle_since", "origin", "reader", "writer")

    def __init__(self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def is_reusable(self, now: float, expiry: float | None) -> bool:
        """Still open, not closed by the server while idle, not idle for too long."""
        if self.writer.is_closing() or self.reader.at_eof() or self.reader.exception() is not None:
            return False
        if expiry is not None and now - self.idle_since >= expiry:
            return False
        # Readable while idle: the upstream's FIN (or stray bytes) that the event loop has not handled yet.
        sock = self.writer.get_extra_info("socket")
        if sock is None:
            return True
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a connection the peer already dropped
            self.writer.close()


class UpstreamTransport(httpx2.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive, one connection pool per client (so per provider and event loop)."""

    def __init__(self, *, ssl_context: ssl.SSLContext, limits: httpx2.Limits) -> None:
        self._ssl_context = ssl_context
        self._max_connections = limits.max_connections
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    # --- the pool ----------------------------------------------------------------

    async def _acquire_slot(self, request: httpx2.Request, timeout: float | None) -> None:
        if self._max_connections is None:
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_connections)
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: no wait, no timer
            return
        request.extensions[WAITING_FOR_POOL] = True  # a deadline that fires now is the pool's, not the upstream's
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx2.PoolTimeout(
                f"All {self._max_connections} connections of ModelDesk's pool were busy.", request=request
            ) from None
        # Not in a `finally`: a cancelled wait (the caller's deadline) keeps the mark for the caller to read.
        del request.extensions[WAITING_FOR_POOL]

    def _release_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.is_reusable(now, self._expiry):
                return connection
            connection.close()
        return None

    def _put_back(self, connection: _Connection) -> None:
        """Keep a connection whose exchange completed for the next request to its origin."""
        idle = self._idle.setdefault(connection.origin, deque())
        kept = sum(len(queue) for queue in self._idle.values())
        if self._closed or (self._max_idle is not None and kept >= self._max_idle):  # None: no limit, as in httpx2
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def _connect(self, request: httpx2.Request, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._ssl_context if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname=host if tls else None, limit=MAX_HEAD_BYTES
                )
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"Connecting to {host}:{port} timed out.", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx2.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return _Connection(origin, reader, writer)

    # --- one exchange ------------------------------------------------------------

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._closed:
            raise RuntimeError("The upstream transport is closed.")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx2.UnsupportedProtocol(f"Unsupported URL scheme {url.scheme!r}.", request=request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        origin: Origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        await self._acquire_slot(request, timeouts.get("pool"))
        connection = None
        try:
            connection = self._idle_connection(origin) or await self._connect(request, origin, timeouts.get("connect"))
            await _send_head_and_body(connection, request, timeouts.get("write"))
            status, reason, headers, keep_alive = await _read_head(connection, request, timeouts.get("read"))
        except BaseException:
            if connection is not None:
                connection.close()
            self._release_slot()
            raise
        stream = _ResponseBody(self, connection, request, status, headers, keep_alive, timeouts.get("read"))
        return httpx2.Response(
            status,
            headers=headers,
            stream=stream,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    def _finished(self, connection: _Connection, *, reusable: bool) -> None:
        if reusable:
            self._put_back(connection)
        else:
            connection.close()
        self._release_slot()

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


# --- the wire format ------------------------------------------------------------------


def _head(request: httpx2.Request, body: bytes | None) -> bytes:
    """The request line and headers: the caller's, checked, then ours for routing and framing."""
    url = request.url
    target = url.raw_path
    if _CONTROL.search(target) or b" " in target:
        raise httpx2.LocalProtocolError("The request target holds a space or a control character.", request=request)
    parts = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nHost: ", url.netloc, b"\r\n"]
    for name, value in request.headers.raw:
        if not _TOKEN.fullmatch(name) or _CONTROL.search(value):
            shown = name.decode("ascii", "replace")[:40] if _TOKEN.fullmatch(name) else "(not a token)"
            raise httpx2.LocalProtocolError(
                f"Refused to send request header {shown!r}: its name or value holds a character a header "
                "may not contain (CR, LF, NUL or another control character).",
                request=request,
            )
        if name.lower() not in _OURS:
            parts += [name, b": ", value, b"\r\n"]
    if body is None:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif body or request.method in _BODY_METHODS:
        parts.append(b"Content-Length: %d\r\n" % len(body))
    parts.append(b"\r\n")
    return b"".join(parts)


async def _send_head_and_body(connection: _Connection, request: httpx2.Request, timeout: float | None) -> None:
    try:
        body = request.content
    except httpx2.RequestNotRead:
        body = None
    head = _head(request, body)
    writer = connection.writer
    try:
        if body is not None:
            writer.write(head + body)
            if writer.transport.get_write_buffer_size():
                async with asyncio.timeout(timeout):
                    await writer.drain()
            return
        # A streamed request body: always sent chunked, so no caller-given length can frame it.
        writer.write(head)
        async for chunk in request.stream:  # type: ignore[union-attr]
            if chunk:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            async with asyncio.timeout(timeout):
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        async with asyncio.timeout(timeout):
            await writer.drain()
    except TimeoutError:
        raise httpx2.WriteTimeout("Sending the request to the upstream timed out.", request=request) from None
    except OSError as exc:
        raise httpx2.WriteError(str(exc) or type(exc).__name__, request=request) from exc


async def _read_head(
    connection: _Connection, request: httpx2.Request, timeout: float | None
) -> tuple[int, bytes, list[tuple[bytes, bytes]], bool]:
    """Status, reason, headers and whether HTTP/1.1 keep-alive applies (informational 1xx responses skipped)."""
    while True:
        try:
            async with asyncio.timeout(timeout):
                raw = await connection.reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            raise httpx2.ReadTimeout("The upstream did not answer in time.", request=request) from None
        except asyncio.IncompleteReadError as exc:
            detail = "without sending a response" if not exc.partial else "in the middle of the response headers"
            raise httpx2.RemoteProtocolError(f"The upstream closed the connection {detail}.", request=request) from None
        except asyncio.LimitOverrunError:
            raise httpx2.RemoteProtocolError("The upstream's response head is too large.", request=request) from None
        except OSError as exc:
            raise httpx2.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        lines = raw[:-4].split(b"\r\n")
        if any(_CONTROL.search(line) for line in lines):
            # A bare LF or CR, a NUL...: h11 refuses such a head too; nothing of it may reach a client.
            raise httpx2.RemoteProtocolError("The upstream sent a control character in its response head.",
                                             request=request)  # fmt: skip
        version, _, rest = lines[0].partition(b" ")
        code, _, reason = rest.partition(b" ")
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise httpx2.RemoteProtocolError(f"The upstream sent a malformed status line: {lines[0][:80]!r}.",
                                             request=request)  # fmt: skip
        status = int(code)
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise httpx2.RemoteProtocolError("The upstream sent a malformed header line.", request=request)
            headers.append((name, value.strip(b" \t")))
        if 100 <= status < 200 and status != 101:
            continue  # 100 Continue, 103 Early Hints: the real response follows
        return status, reason, headers, version == b"HTTP/1.1"


class _ResponseBody(httpx2.AsyncByteStream):
    """The body as it arrives (Content-Length, chunked, or until the connection closes)."""

    def __init__(
        self,
        transport: UpstreamTransport,
        connection: _Connection,
        request: httpx2.Request,
        status: int,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        timeout: float | None,
    ) -> None:
        self._transport = transport
        self._connection: _Connection | None = connection
        self._request = request
        self._timeout = timeout
        self._complete = False
        self._keep_alive = keep_alive  # HTTP/1.0 upstreams: one request per connection
        self._length: int | None = None
        self._chunked = False
        lengths = set()
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-length":
                lengths.add(value)
            elif lowered == b"transfer-encoding":
                self._chunked = value.lower().endswith(b"chunked")
            elif lowered == b"connection" and b"close" in value.lower():
                self._keep_alive = False
        if request.method == "HEAD" or status in _NO_BODY_STATUS:
            self._length = 0
        elif not self._chunked and lengths:
            if len(lengths) > 1 or not all(v.isdigit() for v in lengths):
                self._fail_and_close()
                raise httpx2.RemoteProtocolError("The upstream sent an invalid Content-Length.", request=request)
            self._length = int(lengths.pop())
        elif not self._chunked:
            self._keep_alive = False  # the body ends when the upstream closes the connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx2.StreamClosed()
        try:
            if self._length is not None:
                async for part in self._fixed(connection.reader, self._length):
                    yield part
            elif self._chunked:
                async for part in self._chunks(connection.reader):
                    yield part
            else:
                while part := await self._read(connection.reader.read(READ_SIZE)):
                    yield part
            self._complete = True
        finally:
            self._release()

    async def _read(self, operation: Any) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                return await operation
        except TimeoutError:
            raise httpx2.ReadTimeout("The upstream stopped sending in time.", request=self._request) from None
        except asyncio.IncompleteReadError:
            raise self._cut() from None
        except (asyncio.LimitOverrunError, ValueError):
            raise httpx2.RemoteProtocolError("The upstream sent a malformed body.", request=self._request) from None
        except OSError as exc:
            raise httpx2.ReadError(str(exc) or type(exc).__name__, request=self._request) from exc

    def _cut(self) -> httpx2.RemoteProtocolError:
        return httpx2.RemoteProtocolError(
            "The upstream closed the connection before the end of the response body.", request=self._request
        )

    async def _fixed(self, reader: asyncio.StreamReader, length: int) -> AsyncIterator[bytes]:
        left = length
        while left:
            part = await self._read(reader.read(min(left, READ_SIZE)))
            if not part:
                raise self._cut()
            left -= len(part)
            yield part

    async def _chunks(self, reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
        while True:
            line = await self._read(reader.readuntil(b"\r\n"))
            size_field = line.split(b";", 1)[0].strip()
            try:
                size = int(size_field, 16)
            except ValueError:
                raise httpx2.RemoteProtocolError("The upstream sent a malformed chunk size.",
                                                 request=self._request) from None  # fmt: skip
            if size == 0:
                while await self._read(reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers, ignored
                return
            while size:  # in pieces: a chunk announced as 1 GB is never one buffer
                part = await self._read(reader.readexactly(min(size, READ_SIZE)))
                size -= len(part)
                yield part
            if await self._read(reader.readexactly(2)) != b"\r\n":
                raise httpx2.RemoteProtocolError("The upstream sent a malformed chunk.", request=self._request)

    def _fail_and_close(self) -> None:
        self._keep_alive = False
        self._release()

    def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._transport._finished(connection, reusable=self._complete and self._keep_alive)

    async def aclose(self) -> None:
        """Closing before the end drops the connection (the rest of the body is not read)."""
        self._release()
