"""chat/sse.py: chunk objects from typed events, and their frames."""

from __future__ import annotations

import json

from chat.sse import DONE, ChunkBuilder, frame
from providers.adapters.base import Finish, ReasoningDelta, TextDelta, ToolCallDelta, Usage, UsageEvent


def _builder(**options):
    return ChunkBuilder(
        **{
            "completion_id": "chatcmpl-1",
            "created": 1700000000,
            "model": "p/m",
            "show_thinking": True,
            "include_usage": False,
            **options,
        }  # fmt: skip
    )


def _deltas(builder, events):
    chunks = [chunk for event in events for chunk in builder.chunks(event)] + builder.final()
    return chunks, [chunk["choices"][0]["delta"] if chunk["choices"] else None for chunk in chunks]


def test_text_stream_shape():
    chunks, deltas = _deltas(_builder(), [TextDelta("Hel"), TextDelta("lo"), Finish("stop")])
    assert deltas == [{"role": "assistant", "content": "Hel"}, {"content": "lo"}, {}]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, "stop"]
    assert {c["id"] for c in chunks} == {"chatcmpl-1"} and {c["model"] for c in chunks} == {"p/m"}
    assert all(c["object"] == "chat.completion.chunk" and "usage" not in c for c in chunks)


def test_reasoning_only_when_shown():
    _, shown = _deltas(_builder(), [ReasoningDelta("hmm"), TextDelta("ok")])
    _, hidden = _deltas(_builder(show_thinking=False), [ReasoningDelta("hmm"), TextDelta("ok")])
    assert shown[:2] == [{"role": "assistant", "reasoning_content": "hmm"}, {"content": "ok"}]
    assert hidden[0] == {"role": "assistant", "content": "ok"}


def test_tool_call_pieces():
    events = [
        ToolCallDelta(index=0, id="call_a", name="f"),
        ToolCallDelta(index=0, arguments='{"x":'),
        ToolCallDelta(index=0, arguments="1}"),
        ToolCallDelta(index=1, id="call_b", name="g", arguments="{}"),
        Finish("tool_calls"),
    ]
    chunks, deltas = _deltas(_builder(), events)
    calls = [d["tool_calls"][0] for d in deltas if d and "tool_calls" in d]
    assert calls == [
        {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"x":'}},
        {"index": 0, "function": {"arguments": "1}"}},
        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_usage_chunk_last_when_asked_and_finish_added_when_missing():
    builder = _builder(include_usage=True)
    chunks, _ = _deltas(builder, [TextDelta("a"), UsageEvent(Usage(prompt_tokens=3, completion_tokens=1))])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    assert all(c["usage"] is None for c in chunks[:-1])


def test_frames():
    data = {"a": "é"}
    assert frame(data) == b'data: {"a":"\xc3\xa9"}\n\n'
    assert json.loads(frame(data)[6:]) == data
    assert DONE == b"data: [DONE]\n\n"
