"""chat/params.py: defaults, presets and the thinking budget, without a database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chat.errors import InvalidRequest
from chat.params import build_chat_request, effective_settings
from chat.validation import validate_request
from providers.runtime import BUILTIN_DEFAULTS, PRESETS
from providers.snapshot import ModelInfo


def _model(thinking=None, max_output_tokens=None):
    capabilities = {} if thinking is None else {"thinking": thinking}
    return ModelInfo(
        id=1,
        provider_id=1,
        provider_slug="anthropic",
        name="Claude",
        model_id="claude-x",
        alias="",
        is_enabled=True,
        is_default=False,
        capabilities=capabilities,
        context_window=None,
        max_output_tokens=max_output_tokens,
        input_price_per_mtok=Decimal("3"),
        output_price_per_mtok=Decimal("15"),
        sort_order=0,
        status="unknown",
    )


def _build(model=None, preset=None, **body):
    parsed = validate_request({"messages": [{"role": "user", "content": "hi"}], **body})
    settings = effective_settings({**BUILTIN_DEFAULTS, **body.pop("_settings", {})}, PRESETS, preset)
    return build_chat_request(parsed, model or _model(), settings)


def _with_settings(model=None, settings=None, **body):
    parsed = validate_request({"messages": [{"role": "user", "content": "hi"}], **body})
    return build_chat_request(parsed, model or _model(), {**BUILTIN_DEFAULTS, **(settings or {})})


def test_request_wins_over_preset_wins_over_defaults():
    assert _build(preset="fast").temperature == 0.3
    assert _build(preset="fast", temperature=1.5).temperature == 1.5
    assert _with_settings(settings={"temperature": 0.9}).temperature == 0.9
    assert _build(preset="balanced").max_tokens == 4096


def test_unknown_preset_is_a_400_listing_the_known_ones():
    with pytest.raises(InvalidRequest) as caught:
        _build(preset="turbo")
    assert caught.value.param == "preset"
    assert "balanced" in caught.value.message


def test_default_max_tokens_never_exceeds_the_model_but_an_explicit_one_does():
    model = _model(max_output_tokens=2000)
    assert _build(model=model, preset="powerful").max_tokens == 2000
    assert _build(model=model, max_tokens=5000).max_tokens == 5000


def test_system_prompt_fills_in_only_without_a_system_message():
    request = _with_settings(settings={"system_prompt": "Be nice."})
    assert request.messages[0] == {"role": "system", "content": "Be nice."}
    request = _with_settings(
        settings={"system_prompt": "Be nice."},
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}],
    )
    assert [m["content"] for m in request.messages] == ["Be terse.", "hi"]


def test_parallel_tool_calls_only_with_tools():
    assert _with_settings(settings={"parallel_tool_calls": False}).parallel_tool_calls is None
    tools = [{"type": "function", "function": {"name": "t"}}]
    assert _with_settings(settings={"parallel_tool_calls": False}, tools=tools).parallel_tool_calls is False


def test_explicit_budget_is_sent_with_room_for_the_answer():
    request = _build(model=_model("budget"), thinking={"type": "enabled", "budget_tokens": 2048})
    assert (request.thinking.mode, request.thinking.budget_tokens) == ("budget", 2048)
    assert request.max_tokens > 2048


def test_explicit_budget_not_below_max_tokens():
    with pytest.raises(InvalidRequest) as caught:
        _build(model=_model("budget"), max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 2048})
    assert caught.value.param == "thinking.budget_tokens"


def test_adaptive_budget_scales_with_max_tokens_and_is_capped():
    model = _model("budget")
    small = _build(model=model, max_tokens=8000, thinking={"type": "adaptive"})
    large = _build(model=model, max_tokens=100000, thinking={"type": "adaptive"})
    assert small.thinking.budget_tokens == 4000
    assert large.thinking.budget_tokens == BUILTIN_DEFAULTS["max_thinking_budget_tokens"]
    capped = _with_settings(
        model=model, settings={"max_thinking_budget_tokens": 2000}, max_tokens=60000, thinking={"type": "adaptive"}
    )
    assert capped.thinking.budget_tokens == 2000
    assert _build(model=model, max_tokens=8000, reasoning_effort="high").thinking.budget_tokens == 6000


def test_adaptive_budget_stays_within_anthropic_limits():
    request = _build(model=_model("budget"), max_tokens=1500, thinking={"type": "adaptive"})
    assert 1024 <= request.thinking.budget_tokens < 1500
    with pytest.raises(InvalidRequest):
        _build(model=_model("budget"), max_tokens=1000, thinking={"type": "adaptive"})


def test_defaults_turn_thinking_on_only_for_models_that_think():
    settings = {"thinking_budget_tokens": 3000}
    assert _with_settings(model=_model("budget"), settings=settings).thinking.budget_tokens == 3000
    assert _with_settings(model=_model(None), settings=settings).thinking is None
    assert _with_settings(model=_model("none"), settings=settings).thinking is None
    assert _build(model=_model("budget"), preset="fast").thinking is None
    # A default budget that does not fit a small explicit max_tokens is dropped, not an error.
    assert _with_settings(model=_model("budget"), settings=settings, max_tokens=900).thinking is None


def test_adaptive_models_get_no_budget():
    request = _build(
        model=_model("adaptive"), thinking={"type": "enabled", "budget_tokens": 4096}, reasoning_effort="medium"
    )
    assert (request.thinking.mode, request.thinking.budget_tokens, request.thinking.effort) == (
        "adaptive",
        None,
        "medium",
    )


def test_disabled_thinking_and_none_models():
    assert _build(model=_model("budget"), thinking={"type": "disabled"}).thinking is None
    assert _build(model=_model("none"), thinking={"type": "enabled", "budget_tokens": 2048}).thinking is None


def test_show_thinking_follows_the_setting():
    assert _with_settings(settings={"show_thinking_process": False}).show_thinking is False
    assert _with_settings().show_thinking is True
