"""A bounded asyncio HTTP/1.1 load generator (used where wrk cannot measure, or is absent).

Closed loop: `--concurrency C` connections each send a request, wait for the whole
answer, and send the next, for `--duration` seconds or `--requests` requests.
Open loop: `--rate R` requests per second are *scheduled* at fixed times for
`--duration` seconds; latency is measured from the scheduled send time, so a
server that falls behind shows it as queueing (no coordinated omission).
Streams (`--stream` bodies) also record the time to the first `data:` event (TTFB).

Always bounded: at most `--requests` (default 1,000,000) requests, at most
duration + `--timeout` seconds, and only to loopback addresses.

Prints one JSON document: requests, errors (by kind), rps, latency and TTFB percentiles in ms.

Usage:
    python bench/loadgen.py http://127.0.0.1:9100/v1/chat/completions --body-file body.json \
        --concurrency 16 --duration 10
    python bench/loadgen.py URL --body-file body.json --rate 200 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import socket
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

try:
    import uvloop
except ImportError:  # pragma: no cover - optional accelerator
    uvloop = None

MAX_REQUESTS = 1_000_000


class LoadError(Exception):
    """A request failed (connection, protocol, timeout or non-2xx status)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class Target:
    host: str
    port: int
    path: str
    method: str
    body: bytes
    headers: dict[str, str]

    def request_bytes(self) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: keep-alive"]
        if self.body or self.method == "POST":
            lines += ["Content-Type: application/json", f"Content-Length: {len(self.body)}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def parse_target(url: str, method: str, body: bytes, headers: dict[str, str]) -> Target:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise SystemExit("loadgen: only http:// URLs")
    host = parts.hostname or ""
    addr = socket.gethostbyname(host)
    if not ipaddress.ip_address(addr).is_loopback:
        raise SystemExit(f"loadgen: refusing non-loopback target {host} ({addr})")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(addr, parts.port or 80, path, method, body, headers)


@dataclass
class Result:
    """One request: status, latency (s), time to first data event (s) and when each chunk arrived."""

    status: int
    latency: float
    ttfb: float | None = None
    chunk_times: list[float] = field(default_factory=list)
    body: bytes = b""


class Connection:
    """One keep-alive connection; `send` performs one request and reads the whole answer."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.raw = target.request_bytes()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.target.host, self.target.port, limit=2**22)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, keep_chunks: bool = False, keep_body: bool = False) -> Result:
        if self.writer is None:
            await self.open()
        reader = self.reader
        start = time.perf_counter()
        self.writer.write(self.raw)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        try:
            status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise LoadError("protocol") from None
        length = None
        chunked = False
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        ttfb = None
        times: list[float] = []
        body = b""
        if chunked:
            parts = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                data = await reader.readexactly(size + 2)
                now = time.perf_counter() - start
                if ttfb is None and b"data:" in data:
                    ttfb = now
                if keep_chunks:
                    times.append(now)
                if keep_body:
                    parts.append(data[:-2])
            body = b"".join(parts)
        elif length is not None:
            data = await reader.readexactly(length)
            if keep_body:
                body = data
        else:
            body = await reader.read()
            close = True
        latency = time.perf_counter() - start
        if close:
            self.close()
        if not 200 <= status < 300:
            raise LoadError(f"status_{status}")
        return Result(status, latency, ttfb, times, body)


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ttfbs: list[float] = []
        self.errors: dict[str, int] = {}
        self.sent = 0

    def ok(self, latency: float, ttfb: float | None) -> None:
        self.latencies.append(latency)
        if ttfb is not None:
            self.ttfbs.append(ttfb)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def percentiles(values: list[float]) -> dict[str, float] | None:
    """p50/p90/p99/max/mean in milliseconds (nearest-rank)."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)

    def rank(p: float) -> float:
        return ordered[min(n - 1, max(0, math.ceil(p / 100 * n) - 1))] * 1000

    return {
        "p50": round(rank(50), 3),
        "p90": round(rank(90), 3),
        "p99": round(rank(99), 3),
        "max": round(ordered[-1] * 1000, 3),
        "mean": round(sum(ordered) / n * 1000, 3),
    }


async def _one(conn: Connection, stats: Stats, timeout: float, scheduled: float | None = None) -> None:
    try:
        result = await asyncio.wait_for(conn.send(), timeout)
    except LoadError as exc:
        stats.error(exc.kind)
        return
    except TimeoutError:
        conn.close()
        stats.error("timeout")
        return
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        conn.close()
        stats.error("connection")
        return
    if scheduled is not None:
        latency = time.perf_counter() - scheduled
        ttfb = None if result.ttfb is None else result.ttfb + (latency - result.latency)
        stats.ok(latency, ttfb)
    else:
        stats.ok(result.latency, result.ttfb)


async def closed_loop(target: Target, concurrency: int, duration: float, max_requests: int, timeout: float) -> Stats:
    stats = Stats()
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        conn = Connection(target)
        try:
            while time.perf_counter() < deadline and stats.sent < max_requests:
                stats.sent += 1
                await _one(conn, stats, timeout)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return stats


async def open_loop(target: Target, rate: float, duration: float, max_conns: int, timeout: float) -> Stats:
    """Send at fixed times start + i/rate; latency counts from the scheduled time."""
    stats = Stats()
    total = min(MAX_REQUESTS, int(rate * duration))
    idle: list[Connection] = []
    opened = 0
    free = asyncio.Condition()
    tasks = set()

    async def run(scheduled: float) -> None:
        nonlocal opened
        async with free:
            while not idle and opened >= max_conns:
                await free.wait()
            if idle:
                conn = idle.pop()
            else:
                opened += 1
                conn = Connection(target)
        try:
            await _one(conn, stats, timeout, scheduled)
        finally:
            async with free:
                idle.append(conn)
                free.notify()

    start = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        stats.sent += 1
        task = asyncio.create_task(run(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks), timeout=timeout + 1)
    unfinished = [task for task in tasks if not task.done()]
    for task in unfinished:
        task.cancel()
    if unfinished:  # still queued or in flight at the bound: failures, not silently dropped
        stats.errors["unfinished"] = len(unfinished)
    for conn in idle:
        conn.close()
    return stats


async def trace(target: Target, count: int, timeout: float) -> dict:
    """`count` sequential requests, recording when each chunk arrived (ms from the send)."""
    conn = Connection(target)
    traces = []
    errors: dict[str, int] = {}
    try:
        for _ in range(count):
            try:
                result = await asyncio.wait_for(conn.send(keep_chunks=True), timeout)
            except LoadError as exc:
                errors[exc.kind] = errors.get(exc.kind, 0) + 1
                continue
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                conn.close()
                errors["connection"] = errors.get("connection", 0) + 1
                continue
            traces.append(
                {
                    "ttfb_ms": None if result.ttfb is None else round(result.ttfb * 1000, 3),
                    "total_ms": round(result.latency * 1000, 3),
                    "chunks_ms": [round(t * 1000, 3) for t in result.chunk_times],
                }
            )
    finally:
        conn.close()
    return {
        "mode": "trace",
        "requests": len(traces),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "traces": traces,
    }


def summary(stats: Stats, elapsed: float, mode: dict) -> dict:
    done = len(stats.latencies)
    return {
        **mode,
        "requests": done,
        "errors": sum(stats.errors.values()),
        "error_kinds": stats.errors,
        "duration_s": round(elapsed, 3),
        "rps": round(done / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms": percentiles(stats.latencies),
        "ttfb_ms": percentiles(stats.ttfbs),
    }


async def main_async(args: argparse.Namespace) -> dict:
    body = b""
    if args.body_file:
        with open(args.body_file, "rb") as fh:
            body = fh.read()
    headers = {}
    if args.auth:
        headers["Authorization"] = f"Bearer {args.auth}"
    for item in args.header or []:
        name, _, value = item.partition(":")
        headers[name.strip()] = value.strip()
    target = parse_target(args.url, args.method or ("POST" if body else "GET"), body, headers)
    max_requests = min(args.requests or MAX_REQUESTS, MAX_REQUESTS)
    started = time.perf_counter()
    if args.trace:
        return await asyncio.wait_for(trace(target, args.trace, args.timeout), args.duration + args.timeout + 5)
    if args.rate:
        stats = await asyncio.wait_for(
            open_loop(target, args.rate, args.duration, args.max_connections, args.timeout),
            args.duration + args.timeout + 5,
        )
        mode = {"mode": "open", "rate": args.rate}
    else:
        stats = await asyncio.wait_for(
            closed_loop(target, args.concurrency, args.duration, max_requests, args.timeout),
            args.duration + args.timeout + 5,
        )
        mode = {"mode": "closed", "concurrency": args.concurrency}
    return summary(stats, time.perf_counter() - started, mode)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Bounded HTTP/1.1 load generator (loopback only).")
    parser.add_argument("url")
    parser.add_argument("--method")
    parser.add_argument("--body-file")
    parser.add_argument("--auth", help="bearer key")
    parser.add_argument("--header", action="append", help="Name: value")
    parser.add_argument("--concurrency", "-c", type=int, default=1)
    parser.add_argument("--duration", "-d", type=float, default=10.0, help="seconds (hard bound)")
    parser.add_argument("--requests", "-n", type=int, help="stop after N requests (closed loop)")
    parser.add_argument("--rate", type=float, help="open loop: requests per second")
    parser.add_argument("--max-connections", type=int, default=256, help="open loop connection cap")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--trace", type=int, help="N sequential requests, with each chunk's arrival time")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rate is not None and args.rate <= 0:
        raise SystemExit("loadgen: --rate must be positive")
    runner = uvloop.run if uvloop is not None else asyncio.run
    print(json.dumps(runner(main_async(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
