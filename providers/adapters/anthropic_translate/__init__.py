"""OpenAI Chat Completions ↔ Anthropic Messages, as pure functions (no I/O, no SDK import; SPEC §6).

`request.build_params()` builds the arguments of `messages.create`;
`answer.message_body()` and `answer.StreamTranslator` turn Anthropic's answers
back into OpenAI shapes. The adapter (`anthropic_sdk.py`) only does the I/O.
"""

from providers.adapters.anthropic_translate.answer import (
    STOP_REASONS,
    StreamTranslator,
    finish_reason,
    message_body,
    usage_of,
)
from providers.adapters.anthropic_translate.request import (
    DEFAULT_MAX_TOKENS,
    EFFORT_BUDGETS,
    EFFORTS,
    JSON_OBJECT_INSTRUCTION,
    MIN_THINKING_BUDGET,
    build_params,
    content_blocks,
    image_block,
    shape_thinking,
    thinking_modes,
    translate_messages,
    translate_tool_choice,
    translate_tools,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "EFFORTS",
    "EFFORT_BUDGETS",
    "JSON_OBJECT_INSTRUCTION",
    "MIN_THINKING_BUDGET",
    "STOP_REASONS",
    "StreamTranslator",
    "build_params",
    "content_blocks",
    "finish_reason",
    "image_block",
    "message_body",
    "shape_thinking",
    "thinking_modes",
    "translate_messages",
    "translate_tool_choice",
    "translate_tools",
    "usage_of",
]
