"""Generation defaults and presets kept in `RuntimeSetting` (SPEC §3).

The keys below are the only settings; values are validated here so the admin,
the API and the commands accept and reject exactly the same things.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError


def _number(low: float, high: float) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ValidationError(f"must be a number from {low} to {high}")
        return value

    return check


def _integer(low: int, high: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(f"must be a whole number from {low} to {high}")
        return value

    return check


def _boolean(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    raise ValidationError("must be true or false")


def _text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    raise ValidationError("must be a string")


def _response_format(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, dict) or value.get("type") not in {"text", "json_object", "json_schema"}:
        raise ValidationError('must be {"type": "text" | "json_object" | "json_schema", …}')
    return value


#: setting key → validator (returns the cleaned value or raises ValidationError).
GENERATION_SETTINGS: dict[str, Callable[[Any], Any]] = {
    "temperature": _number(0, 2),
    "max_tokens": _integer(1, 1_000_000),
    "system_prompt": _text,
    "response_format": _response_format,
    "parallel_tool_calls": _boolean,
    "thinking_budget_tokens": _integer(0, 1_000_000),
    "show_thinking_process": _boolean,
    "adaptive_thinking_budget": _boolean,
    "max_thinking_budget_tokens": _integer(1024, 1_000_000),
}

#: What a fresh install uses when nothing is stored.
BUILTIN_DEFAULTS: dict[str, Any] = {
    "temperature": None,
    "max_tokens": None,
    "system_prompt": "",
    "response_format": None,
    "parallel_tool_calls": None,
    "thinking_budget_tokens": None,
    "show_thinking_process": True,
    "adaptive_thinking_budget": False,
    "max_thinking_budget_tokens": 32000,
}

#: The `RuntimeSetting` key holding operator-defined presets (name → bundle of generation settings).
PRESETS_KEY = "presets"
PRESET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"temperature": 0.3, "max_tokens": 1024, "thinking_budget_tokens": 0},
    "balanced": {"temperature": 0.7, "max_tokens": 4096, "thinking_budget_tokens": 4096},
    "powerful": {"temperature": 1.0, "max_tokens": 16384, "thinking_budget_tokens": 16000},
}


def snake_case(key: str) -> str:
    """`thinkingBudgetTokens` → `thinking_budget_tokens` (the API accepts both)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def clean_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate generation settings, camelCase or snake_case; errors name each field."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for raw_key, value in values.items():
        key = snake_case(raw_key)
        check = GENERATION_SETTINGS.get(key)
        if check is None:
            errors[raw_key] = [f"unknown setting; known: {', '.join(sorted(GENERATION_SETTINGS))}"]
            continue
        try:
            cleaned[key] = check(value)
        except ValidationError as exc:
            errors[raw_key] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def clean_presets(value: Any) -> dict[str, dict[str, Any]]:
    """Validate the `presets` setting: `{name: {generation setting: value}}`, names like `fast`."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError({PRESETS_KEY: ['must be a JSON object: {"name": {"temperature": 0.2, …}}']})
    cleaned: dict[str, dict[str, Any]] = {}
    errors: dict[str, list[str]] = {}
    for name, bundle in value.items():
        if not isinstance(name, str) or not PRESET_NAME_RE.match(name):
            errors[f"{PRESETS_KEY}.{name}"] = ["preset names are lowercase letters, digits, - and _"]
            continue
        if not isinstance(bundle, Mapping):
            errors[f"{PRESETS_KEY}.{name}"] = ["must be a JSON object of generation settings"]
            continue
        try:
            cleaned[name] = clean_settings(bundle)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[f"{PRESETS_KEY}.{name}.{field}"] = messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def known_setting_keys() -> list[str]:
    """Every key a `RuntimeSetting` may have: the generation settings, then `presets`."""
    return [*GENERATION_SETTINGS, PRESETS_KEY]


def clean_setting(key: str, value: Any) -> tuple[str, Any]:
    """Validate one stored setting by key (camelCase accepted); returns the snake_case key and value."""
    if key == PRESETS_KEY:
        return key, clean_presets(value)
    if snake_case(key) not in GENERATION_SETTINGS:
        raise ValidationError({key: [f"unknown setting; known: {', '.join(known_setting_keys())}"]})
    cleaned = clean_settings({key: value})
    return next(iter(cleaned.items()))
