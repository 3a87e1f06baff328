"""From what the client asked to what the adapter gets: defaults, presets and thinking (SPEC §3, §6).

Precedence, lowest first: built-in defaults < stored generation defaults
(`RuntimeSetting`) < the `preset` the request names < the request itself. Pure
functions over the snapshot's `runtime_settings` and `presets`, so they cost no
query and are tested without a database.

Thinking is shaped to what the model accepts (`capabilities.thinking`):
`none` → never sent; `adaptive` (newer Claude models) → `{"type": "adaptive"}`
with `reasoning_effort` as the effort, no budget; `budget` (older Claude models)
→ a `budget_tokens` that is the explicit value, else the default, or — adaptive
budget — a share of `max_tokens` that grows with the effort, never above
`max_thinking_budget_tokens`, always ≥ 1024 and below `max_tokens` (Anthropic's
limits). Defaults turn thinking on when `thinking_budget_tokens` is above 0
(the `fast` preset sets 0: off). A model whose thinking capability is unknown gets
thinking only when the request asks for it explicitly.
"""

from __future__ import annotations

from typing import Any

from chat.errors import InvalidRequest
from chat.validation import ParsedRequest
from providers.adapters.base import ChatRequest, ThinkingConfig
from providers.snapshot import ModelInfo

#: Anthropic's smallest thinking budget.
MIN_THINKING_BUDGET = 1024
#: Room left for the answer when max_tokens must be chosen for a thinking budget.
ANSWER_TOKENS = 4096
#: max_tokens when thinking needs one and neither the request, the defaults nor the model give it.
FALLBACK_MAX_TOKENS = 16384
#: Share of max_tokens an adaptive budget takes, by reasoning effort.
EFFORT_SHARE = {"minimal": 0.1, "low": 0.25, "medium": 0.5, "high": 0.75, "xhigh": 0.9}
DEFAULT_SHARE = 0.5


def effective_settings(
    runtime: dict[str, Any], presets: dict[str, dict[str, Any]], preset: str | None
) -> dict[str, Any]:
    """Generation defaults with the named preset applied over them."""
    merged = dict(runtime)
    if preset is not None:
        if preset not in presets:
            known = ", ".join(sorted(presets)) or "none"
            raise InvalidRequest(f"Unknown preset {preset!r}; known presets: {known}.", param="preset")
        merged.update(presets[preset] or {})
    return merged


def thinking_capability(capabilities: dict[str, Any]) -> str:
    """`none`, `budget`, `adaptive` or `unknown`, from `capabilities.thinking`."""
    value = capabilities.get("thinking")
    if value is None:
        return "unknown"
    if value is False or value in ("none", "", "false"):
        return "none"
    if value == "adaptive":
        return "adaptive"
    return "budget"


def build_chat_request(parsed: ParsedRequest, model: ModelInfo, settings: dict[str, Any]) -> ChatRequest:
    """The adapter's `ChatRequest`: the request's values, the settings' where it gave none."""
    params = parsed.params
    messages = parsed.messages
    system_prompt = settings.get("system_prompt")
    if system_prompt and not any(m["role"] == "system" for m in messages):
        messages = [{"role": "system", "content": system_prompt}, *messages]
    explicit_max = params.get("max_tokens")
    max_tokens = explicit_max
    if max_tokens is None and settings.get("max_tokens"):
        # A default is never larger than what the model can produce; an explicit value is the client's call.
        max_tokens = min(settings["max_tokens"], model.max_output_tokens or settings["max_tokens"])
    tools = params.get("tools")
    parallel = params.get("parallel_tool_calls", settings.get("parallel_tool_calls"))
    thinking, max_tokens = build_thinking(
        parsed.thinking,
        effort=params.get("reasoning_effort"),
        settings=settings,
        capability=thinking_capability(model.capabilities),
        max_tokens=max_tokens,
        explicit_max=explicit_max is not None,
        model_limit=model.max_output_tokens,
    )
    return ChatRequest(
        model=model.model_id,
        messages=messages,
        temperature=params.get("temperature", settings.get("temperature")),
        top_p=params.get("top_p"),
        max_tokens=max_tokens,
        stop=params.get("stop"),
        tools=tools,
        tool_choice=params.get("tool_choice"),
        parallel_tool_calls=parallel if tools else None,
        response_format=params.get("response_format", settings.get("response_format")),
        user=params.get("user"),
        reasoning_effort=params.get("reasoning_effort"),
        thinking=thinking,
        show_thinking=settings.get("show_thinking_process") is not False,
        include_usage=parsed.include_usage,
        capabilities=dict(model.capabilities),
        max_output_tokens=model.max_output_tokens,
    )


def build_thinking(
    asked: dict[str, Any] | None,
    *,
    effort: str | None,
    settings: dict[str, Any],
    capability: str,
    max_tokens: int | None,
    explicit_max: bool,
    model_limit: int | None,
) -> tuple[ThinkingConfig | None, int | None]:
    """The thinking to send (or None) and the max_tokens that goes with it."""
    kind = asked["type"] if asked else None
    if kind == "disabled" or effort == "none" or capability == "none":
        return None, max_tokens
    explicit = kind is not None or effort is not None
    default_budget = settings.get("thinking_budget_tokens") or 0
    adaptive_default = bool(settings.get("adaptive_thinking_budget"))
    if capability == "adaptive":
        if explicit or default_budget > 0:
            return ThinkingConfig(mode="adaptive", effort=effort), max_tokens
        return None, max_tokens
    if not explicit and (capability == "unknown" or default_budget <= 0):
        # Defaults turn thinking on (a budget above 0) only for models known to think.
        return None, max_tokens
    if capability == "unknown" and kind is None:
        # reasoning_effort alone, on a model of unknown kind, is for the upstream (OpenAI reasoning models).
        return None, max_tokens

    cap = settings.get("max_thinking_budget_tokens") or None
    limit = model_limit or None
    requested = asked.get("budget_tokens") if asked else None
    scaled = requested is None and (kind == "adaptive" or adaptive_default or effort is not None or not default_budget)
    if scaled:
        if max_tokens is None:
            max_tokens = min(limit or FALLBACK_MAX_TOKENS, FALLBACK_MAX_TOKENS)
        budget = int(max_tokens * EFFORT_SHARE.get(effort or "", DEFAULT_SHARE))
    else:
        budget = requested if requested is not None else default_budget
        if cap:
            budget = min(budget, cap)
        if max_tokens is None or (budget >= max_tokens and not explicit_max):
            max_tokens = budget + ANSWER_TOKENS if limit is None else min(budget + ANSWER_TOKENS, limit)
    if explicit_max and requested is not None and requested >= max_tokens:
        raise InvalidRequest(
            f"thinking.budget_tokens ({requested}) must be less than max_tokens ({max_tokens}).",
            param="thinking.budget_tokens",
        )
    budget = max(budget, MIN_THINKING_BUDGET)
    if cap:
        budget = min(budget, cap)
    budget = min(budget, max_tokens - 1)
    if budget < MIN_THINKING_BUDGET:
        if explicit:
            raise InvalidRequest(
                f"max_tokens ({max_tokens}) leaves no room for thinking: the budget must be at least "
                f"{MIN_THINKING_BUDGET} tokens and below max_tokens.",
                param="max_tokens",
            )
        return None, max_tokens
    return ThinkingConfig(mode="budget", budget_tokens=budget, effort=effort), max_tokens
