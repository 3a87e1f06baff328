"""Hostile model listings for the fake upstream (issue 14, item 13): what a broken or malicious
upstream may list, in OpenAI's `/models` shape and in Anthropic's paginated `models.list` shape.

    fake_upstream.set_models(openai=hostile.openai_entries(), raw=True)
    fake_upstream.set_models(anthropic=hostile.anthropic_entries(), raw=True)
    fake_upstream.set_models(openai=hostile.many_models(50_003))

Each hostile entry comes with the reason discovery must give for skipping it (`HOSTILE`), so
tests can assert the report entry by entry. `GOOD_IDS` are listed among them and must be added.
"""

from __future__ import annotations

from typing import Any

from tests.fake_upstream import wire

LONG_ID = "m" * 201  # one more than ProviderModel.model_id's 200 characters
GOOD_IDS = ("good-model", "good-model-with-metadata")

#: (OpenAI-shaped entry, the words the skip reason must contain). Ids are unique so that the
#: report can be matched entry by entry.
HOSTILE: list[tuple[Any, str]] = [
    ({"id": "nul\x00model", "object": "model"}, "control character"),
    ({"id": "newline\nmodel", "object": "model"}, "control character"),
    ({"id": LONG_ID, "object": "model"}, "longer than 200"),
    ({"id": 12345, "object": "model"}, "not a string"),
    ({"id": None, "object": "model"}, "no id"),
    ({"object": "model"}, "no id"),
    ({"id": "", "object": "model"}, "no id"),
    ({"id": "surrogate-\ud800", "object": "model"}, "not valid unicode"),
    ("just-a-string", "not an object"),
    (None, "not an object"),
    ({"id": "huge-context", "context_length": 10**15}, "context window"),
    ({"id": "negative-context", "context_length": -5}, "context window"),
    ({"id": "nan-context", "context_length": float("nan")}, "context window"),
    ({"id": "bool-context", "context_length": True}, "context window"),
    ({"id": "huge-output", "top_provider": {"max_completion_tokens": 2**40}}, "max output tokens"),
    ({"id": "negative-price", "pricing": {"prompt": "-0.000001", "completion": "0.000002"}}, "input price"),
    ({"id": "huge-price", "pricing": {"prompt": "0.000001", "completion": "1e12"}}, "output price"),
    ({"id": "nan-price", "pricing": {"prompt": "NaN", "completion": "0"}}, "input price"),
    ({"id": "nul-name", "name": "Bad\x00Name"}, "name"),
    ({"id": "long-name", "name": "N" * 201}, "name"),
    ({"id": "good-model", "object": "model"}, ""),
    ({"id": "good-model", "object": "model", "name": "listed twice"}, "listed more than once"),
]


def openai_entries() -> list[Any]:
    """The hostile entries plus two good ones, in OpenAI's `/models` shape (list with `raw=True`)."""
    good = {
        "id": "good-model-with-metadata",
        "object": "model",
        "name": "Good Model",
        "context_length": 131072,
        "pricing": {"prompt": "0.000001", "completion": "0.000002"},
        "top_provider": {"max_completion_tokens": 8192},
    }
    return [entry for entry, _ in HOSTILE] + [good]


def expected_skips() -> dict[int, str]:
    """Position in `openai_entries()` → words of the skip reason (good entries left out)."""
    return {position: words for position, (_, words) in enumerate(HOSTILE) if words}


def anthropic_entries() -> list[Any]:
    """Hostile entries in Anthropic's `models.list` shape (list with `raw=True`)."""
    return [
        {**wire.anthropic_model("claude-good-1"), "display_name": "Claude Good"},
        {**wire.anthropic_model("claude-nul"), "id": "claude\x00nul"},
        {**wire.anthropic_model("claude-long"), "id": "c" * 300},
        {**wire.anthropic_model("claude-int"), "id": 7},
        {**wire.anthropic_model("claude-huge-context"), "max_input_tokens": 10**15},
        {**wire.anthropic_model("claude-negative-output"), "max_tokens": -1},
        "not-an-object",  # not last on its page (2 a page): a page's cursor is its last entry's id
        {**wire.anthropic_model("claude-bad-name"), "display_name": "x\x00y"},
        {**wire.anthropic_model("claude-bad-caps"), "capabilities": {"vision\x00": "x\x00y", "junk": "z" * 10_000}},
        wire.anthropic_model("claude-good-2"),
    ]


def many_models(count: int, *, prefix: str = "bulk-model") -> list[dict[str, Any]]:
    """`count` well-formed models (OpenAI shape; Anthropic's with `wire.anthropic_model`)."""
    return [{"id": f"{prefix}-{n:06d}", "object": "model", "created": 1_715_367_049} for n in range(count)]
