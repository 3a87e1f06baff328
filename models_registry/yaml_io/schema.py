"""The providers file format (SPEC §8), validated into plain specs before anything touches the database.

```yaml
providers:
  openai:                      # slug
    name: OpenAI
    kind: openai               # optional: inferred from the slug, else openai_compatible
    base_api_url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY} # an environment reference or a literal; optional
    valid_models:              # short form, model_id: alias (or a list of model ids)
      gpt-4o-mini-2024-07-18: 4o-mini
    invalid_models: []         # optional: model ids known not to work
    models:                    # optional long form, the API's fields
      - {model_id: gpt-4o, name: GPT-4o, capabilities: {vision: true}}
default_model: openai/4o-mini  # optional
```

Short forms state a model's whole short state: a `valid_models` entry is enabled,
`valid`, with exactly that alias; an `invalid_models` entry is disabled, `invalid`,
without alias. A long-form entry sets the fields it names and leaves the others
as they are (defaults for a new model). Every problem found is reported, each
with its path in the file (`providers.openai.valid_models.gpt-4o`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.models import SLUG_RE, CapabilitySource, ModelStatus, ProviderKind
from providers.services import MODEL_FIELDS, normalize_capabilities

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
TOP_LEVEL_KEYS = ("providers", "default_model")
#: File key → Provider field (`base_url` is accepted for `base_api_url`).
PROVIDER_KEYS = {
    "name": "name",
    "kind": "kind",
    "base_api_url": "base_url",
    "base_url": "base_url",
    "api_key": "api_key",
    "organization": "organization",
    "api_version": "api_version",
    "image_url": "image_url",
    "is_enabled": "is_enabled",
    "timeout_seconds": "timeout_seconds",
    "max_retries": "max_retries",
    "extra_headers": "extra_headers",
    "stream_timeout_seconds": "stream_timeout_seconds",
    "max_response_bytes": "max_response_bytes",
    "max_error_body_bytes": "max_error_body_bytes",
    "max_sse_event_bytes": "max_sse_event_bytes",
    "max_connections": "max_connections",
}
MODEL_LIST_KEYS = ("valid_models", "invalid_models", "models")
#: Keys of a long-form model entry: the writable model fields (discovery alone sets `last_checked_at`).
LONG_FORM_KEYS = tuple(name for name in MODEL_FIELDS if name != "last_checked_at")


@dataclass(slots=True)
class ModelSpec:
    model_id: str
    fields: dict[str, Any]
    where: str


@dataclass(slots=True)
class ProviderSpec:
    slug: str
    fields: dict[str, Any]
    models: list[ModelSpec]
    where: str
    key_env: str | None = None


@dataclass(slots=True)
class ProvidersDocument:
    providers: list[ProviderSpec] = field(default_factory=list)
    default_model: str | None = None
    warnings: list[str] = field(default_factory=list)


class DocumentErrors(ValueError):
    """Everything wrong with a file, one message per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


_TYPE_NAMES = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "null" if value is None else type(value).__name__)


class _Checker:
    """Small typed getters that record an error (with the path) instead of raising."""

    def __init__(self, *, allow_missing_keys: bool) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.allow_missing_keys = allow_missing_keys

    def fail(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def string(self, value: Any, where: str, *, allow_empty: bool = True) -> str | None:
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail(where, f"must be a string, not {_type_name(value)}")
            return None
        if not allow_empty and not value.strip():
            self.fail(where, "must not be empty")
            return None
        return value

    def boolean(self, value: Any, where: str) -> bool | None:
        if not isinstance(value, bool):
            self.fail(where, f"must be true or false, not {_type_name(value)}")
            return None
        return value

    def integer(self, value: Any, where: str, *, minimum: int = 0, nullable: bool = False) -> int | None:
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(where, f"must be a whole number of at least {minimum}, not {value!r}")
            return None
        return value

    def number(self, value: Any, where: str, *, minimum: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            self.fail(where, f"must be a number of at least {minimum}, not {value!r}")
            return None
        return float(value)

    def price(self, value: Any, where: str) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.fail(where, f"must be a number, not {_type_name(value)}")
            return None
        try:
            price = Decimal(str(value)).quantize(Decimal("0.0001"))
        except InvalidOperation:
            self.fail(where, f"must be a number, not {value!r}")
            return None
        if price < 0 or not price.is_finite() or len(price.as_tuple().digits) > 12:
            self.fail(where, f"must be a price from 0 with at most 8 digits before the point, not {value!r}")
            return None
        return price

    def model_id(self, value: Any, where: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).strip():
            self.fail(where, f"a model id must be a non-empty string, not {_type_name(value)}")
            return None
        return str(value).strip()

    def env_value(self, value: str, where: str) -> tuple[str | None, str | None]:
        """Resolve a `${VAR}` reference; returns (value or None when unset, variable name)."""
        found = ENV_REF.match(value)
        if not found:
            if "${" in value:
                self.fail(where, "an environment reference must be the whole value, like ${OPENAI_API_KEY}")
            return value, None
        name = found.group(1)
        resolved = os.environ.get(name)
        if not resolved:
            if self.allow_missing_keys:
                self.warnings.append(f"{where}: environment variable {name} is not set; the stored key is kept")
            else:
                self.fail(where, f"environment variable {name} is not set (or pass --allow-missing-keys)")
            return None, name
        return resolved, name


def _provider_fields(check: _Checker, data: dict[str, Any], where: str) -> tuple[dict[str, Any], str | None]:
    fields: dict[str, Any] = {}
    key_env = None
    if "base_url" in data and "base_api_url" in data:
        check.fail(where, "give base_api_url or base_url, not both")
    for key, value in data.items():
        path = f"{where}.{key}"
        target = PROVIDER_KEYS.get(key)
        if target is None:
            continue
        if target in ("name", "base_url", "organization", "api_version", "image_url"):
            text = check.string(value, path, allow_empty=target != "name")
            if text is not None and target == "base_url":
                text, _ = check.env_value(text, path)
            if text is not None:
                fields[target] = text.strip()
        elif target == "kind":
            if value not in ProviderKind.values:
                check.fail(path, f"must be one of {', '.join(ProviderKind.values)}, not {value!r}")
            else:
                fields["kind"] = value
        elif target == "api_key":
            if value is None:
                continue  # null: keep the stored key
            text = check.string(value, path)
            if text is not None:
                text, key_env = check.env_value(text, path)
                if text is not None:
                    fields["api_key"] = text
        elif target == "is_enabled":
            if (flag := check.boolean(value, path)) is not None:
                fields["is_enabled"] = flag
        elif target == "timeout_seconds":
            if (seconds := check.number(value, path, minimum=0.1)) is not None:
                fields["timeout_seconds"] = seconds
        elif target == "max_retries":
            if (retries := check.integer(value, path)) is not None:
                fields["max_retries"] = retries
        elif target == "stream_timeout_seconds":
            if (seconds := check.number(value, path, minimum=1)) is not None:
                fields["stream_timeout_seconds"] = seconds
        elif target in ("max_response_bytes", "max_error_body_bytes", "max_sse_event_bytes", "max_connections"):
            # null: the server's UPSTREAM_* default
            minimum = 1 if target == "max_connections" else 1024
            if (number := check.integer(value, path, minimum=minimum, nullable=True)) is not None or value is None:
                fields[target] = number
        elif target == "extra_headers":
            if value is None:
                fields["extra_headers"] = {}
            elif not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                check.fail(path, "must be a mapping of header names to string values")
            else:
                fields["extra_headers"] = dict(value)
    return fields, key_env


def _long_form(check: _Checker, entry: Any, where: str) -> ModelSpec | None:
    if not isinstance(entry, dict):
        check.fail(where, f"a model must be a mapping with at least model_id, not {_type_name(entry)}")
        return None
    unknown = sorted(str(k) for k in entry if k not in LONG_FORM_KEYS)
    if unknown:
        check.fail(where, f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(LONG_FORM_KEYS)})")
    if "model_id" not in entry:
        check.fail(where, "model_id is required")
        return None
    model_id = check.model_id(entry["model_id"], f"{where}.model_id")
    if model_id is None:
        return None
    where = f"{where}({model_id})"
    fields: dict[str, Any] = {}
    for key, value in entry.items():
        path = f"{where}.{key}"
        if key in ("name", "alias", "status_detail"):
            if (text := check.string(value, path)) is not None:
                fields[key] = text.strip()
        elif key in ("is_enabled", "is_listed_upstream"):
            if (flag := check.boolean(value, path)) is not None:
                fields[key] = flag
        elif key == "capabilities":
            try:
                fields[key] = normalize_capabilities(value)
            except Exception as exc:  # noqa: BLE001  (ValidationError: its message goes to the report)
                check.fail(path, "; ".join(getattr(exc, "messages", [str(exc)])))
        elif key == "capabilities_source":
            if value not in CapabilitySource.values:
                check.fail(path, f"must be one of {', '.join(CapabilitySource.values)}, not {value!r}")
            else:
                fields[key] = value
        elif key in ("context_window", "max_output_tokens"):
            number = check.integer(value, path, minimum=1, nullable=True)
            if number is not None or value is None:
                fields[key] = number
        elif key in ("input_price_per_mtok", "output_price_per_mtok"):
            price = check.price(value, path)
            if price is not None or value is None:
                fields[key] = price
        elif key == "sort_order":
            if (order := check.integer(value, path, minimum=-(2**31))) is not None:
                fields[key] = order
        elif key == "status":
            if value not in ModelStatus.values:
                check.fail(path, f"must be one of {', '.join(ModelStatus.values)}, not {value!r}")
            else:
                fields[key] = value
    if "capabilities" in fields and "capabilities_source" not in fields:
        fields["capabilities_source"] = CapabilitySource.DECLARED.value
    return ModelSpec(model_id=model_id, fields=fields, where=where)


def _short_forms(check: _Checker, data: dict[str, Any], where: str) -> list[ModelSpec]:
    specs = []
    valid = data.get("valid_models")
    path = f"{where}.valid_models"
    if isinstance(valid, list):
        valid = dict.fromkeys(valid)
    if isinstance(valid, dict):
        for raw_id, alias in valid.items():
            model_id = check.model_id(raw_id, f"{path}.{raw_id}")
            alias_text = check.string(alias, f"{path}.{raw_id}")
            if model_id is not None and alias_text is not None:
                fields = {"alias": alias_text.strip(), "is_enabled": True, "status": ModelStatus.VALID.value}
                specs.append(ModelSpec(model_id, fields, f"{path}.{model_id}"))
    elif valid is not None:
        check.fail(path, f"must be a mapping of model_id: alias (or a list of model ids), not {_type_name(valid)}")
    invalid = data.get("invalid_models")
    path = f"{where}.invalid_models"
    if isinstance(invalid, dict):
        invalid = list(invalid)
    if isinstance(invalid, list):
        for raw_id in invalid:
            model_id = check.model_id(raw_id, f"{path}[{raw_id!r}]")
            if model_id is not None:
                fields = {"alias": "", "is_enabled": False, "status": ModelStatus.INVALID.value}
                specs.append(ModelSpec(model_id, fields, f"{path}.{model_id}"))
    elif invalid is not None:
        check.fail(path, f"must be a list of model ids, not {_type_name(invalid)}")
    return specs


def parse_document(data: Any, *, allow_missing_keys: bool = False) -> ProvidersDocument:
    """Validate a loaded YAML document; raise DocumentErrors listing every problem."""
    check = _Checker(allow_missing_keys=allow_missing_keys)
    doc = ProvidersDocument()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DocumentErrors([f"the file must hold a mapping with `providers:`, not {_type_name(data)}"])
    unknown = sorted(str(k) for k in data if k not in TOP_LEVEL_KEYS)
    if unknown:
        check.fail("top level", f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(TOP_LEVEL_KEYS)})")
    providers = data.get("providers") or {}
    if not isinstance(providers, dict):
        check.fail("providers", f"must be a mapping of slug to provider, not {_type_name(providers)}")
        providers = {}
    for slug, body in providers.items():
        where = f"providers.{slug}"
        if not isinstance(slug, str) or not re.match(SLUG_RE, slug) or len(slug) > 50:
            check.fail(where, "a slug is lowercase letters, digits and hyphens, starting with a letter or digit")
            continue
        body = {} if body is None else body
        if not isinstance(body, dict):
            check.fail(where, f"must be a mapping, not {_type_name(body)}")
            continue
        unknown = sorted(str(k) for k in body if k not in PROVIDER_KEYS and k not in MODEL_LIST_KEYS)
        if unknown:
            allowed = ", ".join([k for k in PROVIDER_KEYS if k != "base_url"] + list(MODEL_LIST_KEYS))
            check.fail(where, f"unknown key(s) {', '.join(unknown)} (allowed: {allowed})")
        fields, key_env = _provider_fields(check, body, where)
        models = _short_forms(check, body, where)
        long_form = body.get("models")
        if isinstance(long_form, list):
            for index, entry in enumerate(long_form):
                if (spec := _long_form(check, entry, f"{where}.models[{index}]")) is not None:
                    models.append(spec)
        elif long_form is not None:
            check.fail(f"{where}.models", f"must be a list of models, not {_type_name(long_form)}")
        seen: dict[str, str] = {}
        for spec in models:
            if spec.model_id in seen:
                check.fail(spec.where, f"model {spec.model_id!r} is listed twice (also at {seen[spec.model_id]})")
            seen.setdefault(spec.model_id, spec.where)
        doc.providers.append(ProviderSpec(slug=slug, fields=fields, models=models, where=where, key_env=key_env))
    default = data.get("default_model")
    if default is not None:
        if not isinstance(default, str) or not default.strip():
            check.fail("default_model", f"must be a model string like openai/gpt-4o-mini, not {default!r}")
        else:
            doc.default_model = default.strip()
    _check_aliases(check, doc)
    doc.warnings = check.warnings
    if check.errors:
        raise DocumentErrors(check.errors)
    return doc


def _check_aliases(check: _Checker, doc: ProvidersDocument) -> None:
    owners: dict[str, str] = {}
    for provider in doc.providers:
        for spec in provider.models:
            alias = spec.fields.get("alias")
            if not alias:
                continue
            qualified = f"{provider.slug}/{spec.model_id}"
            if alias in owners and owners[alias] != qualified:
                check.fail(spec.where, f"alias {alias!r} is also given to {owners[alias]} (aliases are unique)")
            owners.setdefault(alias, qualified)
