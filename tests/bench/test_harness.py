"""The benchmark harness stays usable: the fake upstream speaks both vendors' wire formats
(checked with the official SDKs) and the load generator counts, paces and traces correctly.

`make bench` is not part of CI; these few seconds keep its tools from rotting.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anthropic
import openai
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def upstream():
    """bench/fake_upstream.py on a free port: 3 streamed chunks, 50 ms apart."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "bench/fake_upstream.py", "--port", str(port), "--chunks", "3", "--chunk-delay-ms", "50"],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(base + "/__stats", timeout=1) as resp:  # noqa: S310 (http on loopback)
                resp.read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("fake upstream did not start")
            time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def _loadgen(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "bench/loadgen.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout)


@pytest.fixture
def body_file(tmp_path):
    def write(stream: bool) -> str:
        path = tmp_path / f"body-{stream}.json"
        payload = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        path.write_text(json.dumps(payload))
        return str(path)

    return write


def test_openai_sdk_reads_plain_and_streamed_answers(upstream):
    client = openai.OpenAI(base_url=upstream + "/v1", api_key="sk-test", max_retries=0)
    answer = client.chat.completions.create(model="bench-x", messages=[{"role": "user", "content": "hi"}])
    assert answer.model == "bench-x"
    assert answer.choices[0].message.content == "Hello from the fake upstream."
    assert answer.usage.total_tokens == 19
    chunks = list(
        client.chat.completions.create(
            model="bench-x",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "tok0 tok1 tok2 "
    assert chunks[-1].usage.completion_tokens == 3


def test_anthropic_sdk_reads_plain_and_streamed_answers(upstream):
    client = anthropic.Anthropic(base_url=upstream, api_key="sk-ant-test", max_retries=0)
    message = client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "Hello from the fake upstream."
    with client.messages.stream(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
        assert "".join(s.text_stream) == "tok0 tok1 tok2 "
        assert s.get_final_message().stop_reason == "end_turn"


def test_closed_loop_sends_exactly_the_requests_asked(upstream, body_file):
    data = _loadgen(upstream + "/v1/chat/completions", "--body-file", body_file(False), "-c", "4", "-n", "200")
    assert data["requests"] == 200
    assert data["errors"] == 0
    assert data["latency_ms"]["p50"] <= data["latency_ms"]["p99"]


def test_open_loop_keeps_the_rate_and_counts_from_the_schedule(upstream, body_file):
    data = _loadgen(upstream + "/v1/chat/completions", "--body-file", body_file(False), "--rate", "100", "-d", "1")
    assert data["mode"] == "open"
    assert data["requests"] == 100
    assert 60 <= data["rps"] <= 110


def test_trace_shows_the_chunks_spacing(upstream, body_file):
    data = _loadgen(upstream + "/v1/chat/completions", "--body-file", body_file(True), "--trace", "2", "-d", "20")
    assert data["requests"] == 2
    for trace in data["traces"]:
        chunks = trace["chunks_ms"]
        gaps = [b - a for a, b in zip(chunks, chunks[1:], strict=False)]
        # three content chunks 50 ms apart (a busy machine may merge one pair on the client side)
        assert sum(1 for gap in gaps if gap >= 25) >= 2
        assert trace["total_ms"] >= 140
        assert trace["ttfb_ms"] < trace["total_ms"] - 90  # the first event is not held back


def test_errors_are_counted_not_hidden(upstream):
    data = _loadgen(upstream + "/nowhere", "-c", "1", "-n", "3")
    assert data["requests"] == 0
    assert data["error_kinds"] == {"status_404": 3}


def test_loadgen_refuses_addresses_off_this_machine():
    out = subprocess.run(
        [sys.executable, "bench/loadgen.py", "http://192.0.2.1:80/", "-n", "1", "-d", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode != 0
    assert "non-loopback" in out.stderr
