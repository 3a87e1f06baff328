"""Hostile /v1/chat/completions bodies: each is a 4xx in OpenAI's error shape, and nothing reaches the upstream.

The model named is a real one served by the fake upstream, so a body that slipped
through validation would be seen there (`hit_count`). tests/chat/test_errors.py and
tests/chat/test_validation.py check the messages of the common cases; this table adds
the hostile ones (types, sizes, encodings, numbers, nesting, steering fields anywhere).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.reliability.conftest import leaked

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "planted-openai/gpt-4o-mini"
HI = [{"role": "user", "content": "hi"}]
TEN_MB = 10 * 1024 * 1024


def body(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": HI, **fields}


def nested(depth: int) -> str:
    return '{"model": "%s", "messages": %s}' % (MODEL, "[" * depth + "]" * depth)  # noqa: UP031


def tool(**function: Any) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, **function}}]


# (id, JSON-able body or raw bytes, content type)
WRONG_TYPES = [
    ("model-number", body(model=123)),
    ("model-list", body(model=[MODEL])),
    ("model-object", body(model={"id": MODEL})),
    ("messages-string", body(messages="hi")),
    ("messages-object", body(messages={"role": "user", "content": "hi"})),
    ("messages-null-item", body(messages=[None])),
    ("messages-string-item", body(messages=["hi"])),
    ("content-number", body(messages=[{"role": "user", "content": 42}])),
    ("content-object", body(messages=[{"role": "user", "content": {"text": "hi"}}])),
    ("content-part-unknown", body(messages=[{"role": "user", "content": [{"type": "video", "video": "x"}]}])),
    ("content-missing", body(messages=[{"role": "user"}])),
    ("role-missing", body(messages=[{"content": "hi"}])),
    ("stream-string", body(stream="yes")),
    ("temperature-string", body(temperature="hot")),
    ("temperature-out-of-range", body(temperature=7)),
    ("max-tokens-negative", body(max_tokens=-1)),
    ("max-tokens-float", body(max_tokens=1.5)),
    ("max-tokens-huge", body(max_tokens=10**400)),
    ("max-tokens-boolean", body(max_tokens=True)),
    ("top-p-list", body(top_p=[1])),
    ("stop-number", body(stop=5)),
    ("tools-string", body(tools="all")),
    ("tools-no-function", body(tools=[{"type": "function"}])),
    ("tool-choice-number", body(tool_choice=5)),
    ("response-format-string", body(response_format="json")),
    ("stream-options-list", body(stream=True, stream_options=[True])),
    ("thinking-string", body(thinking="lots")),
    ("preset-number", body(preset=3)),
]
EMPTY_AND_ROLES = [
    ("messages-empty", body(messages=[])),
    ("messages-missing", {"model": MODEL}),
    ("role-unknown", body(messages=[{"role": "wizard", "content": "hi"}])),
    ("role-empty", body(messages=[{"role": "", "content": "hi"}])),
    ("role-number", body(messages=[{"role": 1, "content": "hi"}])),
    ("role-uppercase", body(messages=[{"role": "USER", "content": "hi"}])),
    ("tool-without-call-id", body(messages=[*HI, {"role": "tool", "content": "x"}])),
]
STEERING = [
    ("base-url-top", body(base_url="http://evil.example/v1")),
    ("api-key-top", body(api_key="sk-steal")),
    ("baseURL-camel", body(baseURL="http://evil.example")),
    ("api-key-dashed", body(**{"API-Key": "sk-steal"})),
    ("extra-headers-top", body(extra_headers={"X-Evil": "1"})),
    ("headers-top", body(headers={"Authorization": "Bearer x"})),
    ("authorization-top", body(Authorization="Bearer x")),
    ("base-url-in-message", body(messages=[{"role": "user", "content": "hi", "base_url": "http://evil.example"}])),
    (
        "api-key-in-content-part",
        body(messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "api_key": "sk-steal"}]}]),
    ),
    ("extra-headers-in-tool", body(tools=tool(extra_headers={"X-Evil": "1"}))),
    ("api-key-in-tool-schema-root", body(tools=tool(parameters={"type": "object", "api_key": "sk"}))),
    ("base-url-in-response-format", body(response_format={"type": "json_object", "base_url": "http://e"})),
    ("extra-headers-in-stream-options", body(stream=True, stream_options={"include_usage": True, "extra_headers": {}})),
    ("api-key-deep-in-metadata", body(metadata={"a": [{"b": {"c": [{"api_key": "sk-steal"}]}}]})),
    ("base-url-in-thinking", body(thinking={"type": "enabled", "budget_tokens": 2048, "base_url": "http://e"})),
]
RAW = [
    ("not-json", b"model=gpt&messages=hi", "application/x-www-form-urlencoded"),
    ("json-array", b"[]", "application/json"),
    ("json-string", b'"hi"', "application/json"),
    ("json-null", b"null", "application/json"),
    ("nan", b'{"model": "%s", "messages": [], "temperature": NaN}' % MODEL.encode(), "application/json"),
    ("infinity", b'{"model": "%s", "max_tokens": Infinity}' % MODEL.encode(), "application/json"),
    ("float-overflow", b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e999}'
     % MODEL.encode(), "application/json"),
    ("utf16-charset", json.dumps(body()).encode("utf-16"), "application/json; charset=utf-16"),
    ("utf32", json.dumps(body()).encode("utf-32"), "application/json; charset=utf-32"),
    ("latin1-charset", json.dumps(body(messages=[{"role": "user", "content": "café"}]), ensure_ascii=False)
     .encode("latin-1"), "application/json; charset=iso-8859-1"),
    ("cp1252-smart-quotes", '{"model": "%s", "messages": [{"role": "user", "content": "\u201chi\u201d"}]}'
     .replace("%s", MODEL).encode("cp1252"), "application/json; charset=windows-1252"),
    ("utf8-bom", b"\xef\xbb\xbf" + json.dumps(body()).encode(), "application/json"),
    ("lone-surrogate", b'{"model": "%s", "messages": [{"role": "user", "content": "\\ud800"}]}' % MODEL.encode(),
     "application/json"),
    ("nesting-100k", nested(100_000).encode(), "application/json"),
    ("nesting-70", nested(70).encode(), "application/json"),
    ("whitespace-only", b" \n\t ", "application/json"),
]  # fmt: skip

CASES = [
    *[pytest.param(json.dumps(b).encode(), "application/json", id=i) for i, b in WRONG_TYPES + EMPTY_AND_ROLES],
    *[pytest.param(json.dumps(b).encode(), "application/json", id=i) for i, b in STEERING],
    *[pytest.param(raw, ctype, id=i) for i, raw, ctype in RAW],
]


def _assert_openai_error(response: httpx2.Response, statuses: tuple[int, ...] = (400,)) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert set(data) == {"error"} and set(data["error"]) == {"message", "type", "param", "code"}
    assert data["error"]["type"] == "invalid_request_error"
    assert isinstance(data["error"]["message"], str) and data["error"]["message"]
    assert not leaked(response.text)
    return data["error"]


def _post(gateway: Any, key: str, content: bytes | Iterator[bytes], content_type: str, **headers: str):
    return httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        content=content,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type, **headers},
        timeout=30,
    )


@pytest.mark.parametrize(("raw", "content_type"), CASES)
def test_hostile_body_is_a_4xx_and_nothing_is_sent(gateway, chat_key, planted, fake_upstream, raw, content_type):
    _assert_openai_error(_post(gateway, chat_key, raw, content_type))
    assert fake_upstream.hit_count() == 0


def test_the_same_request_well_formed_reaches_the_upstream(gateway, chat_key, planted, fake_upstream):
    """The control: the table's model and key work, so its refusals are about the bodies."""
    response = _post(gateway, chat_key, json.dumps(body()).encode(), "application/json")
    assert response.status_code == 200, response.text
    assert fake_upstream.hit_count() == 1


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: json.dumps(body(messages=[{"role": "user", "content": "x" * TEN_MB}])).encode(),
                     id="10MB-valid-json"),
        pytest.param(lambda: b" " * (TEN_MB + 1), id="10MB-whitespace"),
        pytest.param(lambda: iter([b"{" + b" " * (1024 * 1024)] * 11), id="11MB-chunked-no-length"),
    ],
)  # fmt: skip
def test_ten_megabytes_is_a_413(gateway, chat_key, planted, fake_upstream, make):
    error = _assert_openai_error(_post(gateway, chat_key, make(), "application/json"), statuses=(413,))
    assert error["code"] == "request_too_large"
    assert fake_upstream.hit_count() == 0


def _raw_exchange(gateway: Any, head: bytes, body: bytes = b"") -> tuple[bytes, float]:
    """Send bytes on a socket as a client would and read the start of the answer (httpx2 refuses to lie)."""
    host, port = gateway.url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head + body)
        answer = sock.recv(4096)
    return answer, time.monotonic() - started


def test_a_declared_length_above_the_limit_is_refused_before_the_body_is_read(gateway, chat_key, planted,
                                                                              fake_upstream):  # fmt: skip
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + chat_key.encode() + b"\r\nContent-Length: 99999999999\r\n\r\n"
    )
    answer, elapsed = _raw_exchange(gateway, head, b'{"model": "x"')
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
    assert b'"request_too_large"' in answer
    assert elapsed < 2  # not waiting for 100 GB that will never come
    assert fake_upstream.hit_count() == 0
