"""A raw-bytes upstream: answers every request with the exact bytes a test scripts, then closes.

uvicorn (under the fake upstream) refuses to send what a hostile upstream would:
a bare LF or a NUL inside a header, a header of 100 KB. This tiny threaded TCP
server reads one request (head and Content-Length body) per connection and
writes `answer` as is.

    with RawUpstream(b"HTTP/1.1 429 Too Many\\r\\nRetry-After: 3\\nX: y\\r\\nContent-Length: 2\\r\\n\\r\\n{}") as raw:
        provider.base_url = raw.url + "/v1"
"""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import Any


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        self.server.heads.append(head)
        sock.sendall(self.server.answer)
        sock.shutdown(socket.SHUT_WR)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, answer: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.heads: list[bytes] = []


class RawUpstream:
    """Context manager: `url` answers every request with `answer`; `heads` holds the request heads received."""

    def __init__(self, answer: bytes) -> None:
        self._server = _Server(answer)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.heads = self._server.heads
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RawUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
