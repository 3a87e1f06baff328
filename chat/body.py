"""Reading a /v1 request body: size limit, strict UTF-8 JSON, and the upstream-steering guard.

A client may never choose the upstream's URL, key or headers (SPEC §6): a field
such as `base_url`, `api_key` or `extra_headers` anywhere in the body, nested or
not, however it is spelled (`baseURL`, `api-key`), is a 400 before anything is
resolved or sent. The adapters never spread a client's body into an SDK call
either; this guard makes the refusal explicit and early.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from chat.errors import InvalidRequest, PayloadTooLarge

#: Largest body accepted (images as data URLs make bodies big, but not unbounded).
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Deepest nesting accepted; real requests are shallow, hostile ones may not be.
MAX_DEPTH = 64

#: Field names (normalized: lowercase, no `_`/`-`) that would steer an upstream call.
STEERING_FIELDS = frozenset(
    {
        "baseurl",
        "apibase",
        "apiurl",
        "baseapiurl",
        "apikey",
        "apikeys",
        "apiversion",
        "azureendpoint",
        "azureadtoken",
        "azuredeployment",
        "organization",
        "headers",
        "extraheaders",
        "defaultheaders",
        "extraquery",
        "defaultquery",
        "extrabody",
        "httpclient",
        "proxy",
        "proxies",
        "authorization",
        "authtoken",
        "bearertoken",
        "xapikey",
    }
)
#: Keys whose value is a JSON Schema: the keys of its `properties` maps are names chosen by
#: the client for its own tool arguments (an HTTP tool may well have a `headers` argument), not fields.
_SCHEMA_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_NORMALIZE = re.compile(r"[-_\s]")
#: The JSON escape of a UTF-16 surrogate (`\ud83d`): only bodies holding one get the full check.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def normalized(name: str) -> str:
    return _NORMALIZE.sub("", name).lower()


def read_body(raw: bytes, *, content_length: str | None = None) -> dict[str, Any]:
    """Parse a request body into a JSON object, or raise a 400/413 `GatewayError`."""
    if content_length:
        try:
            declared = int(content_length)
        except ValueError:
            raise InvalidRequest("The Content-Length header is not a number.") from None
        if declared > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.")
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON object (a chat completion request).")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        body = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float)
    except (ValueError, RecursionError) as exc:
        detail = f": {exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise InvalidRequest(f"We could not parse the JSON body of your request{detail}.") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"The request body must be a JSON object, not {json_type(body)}.")
    if _SURROGATE_ESCAPE.search(text):
        _check_no_lone_surrogate(body)
    check_no_steering_fields(body)
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_int(literal: str) -> int:
    # A 400-digit integer is valid JSON but no upstream field holds it: refused here, not sent on.
    value = int(literal)
    if not -(2**63) <= value < 2**63:
        raise InvalidRequest(f"The number {literal[:20]}… in the request body is out of range (more than 64 bits).")
    return value


def _parse_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise InvalidRequest(f"The number {literal[:20]} in the request body is out of range.")
    return value


def _check_no_lone_surrogate(body: dict[str, Any]) -> None:
    """Paired surrogate escapes decode to one character; a lone one is not text and cannot be sent on."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(
            "The request body contains an unpaired UTF-16 surrogate escape (\\ud800-\\udfff): it is not valid text."
        ) from None


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check_no_steering_fields(body: dict[str, Any]) -> None:
    """Raise a 400 naming the first upstream-steering field found anywhere in `body`."""
    found = find_steering_field(body)
    if found is not None:
        name, path = found
        raise InvalidRequest(
            f"The field {name!r} (at {path}) is not accepted: a client cannot choose the upstream's URL, "
            "API key or headers; these come from the provider configured in ModelDesk.",
            param=path,
            code="forbidden_field",
        )


def find_steering_field(
    value: Any, path: str = "", depth: int = 0, *, names_only: bool = False
) -> tuple[str, str] | None:
    """The first (field name, path) that would steer an upstream, or None.

    Walks every object and array. Under a JSON Schema `properties` map the keys are
    argument names, so they are not checked themselves, but the schemas under them are.
    """
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"The request body is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, dict):
        for key, item in value.items():
            key_path = f"{path}.{key}" if path else str(key)
            if not names_only and normalized(str(key)) in STEERING_FIELDS:
                return str(key), key_path
            found = find_steering_field(
                item, key_path, depth + 1, names_only=key in _SCHEMA_NAME_MAPS and not names_only
            )
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_steering_field(item, f"{path}[{index}]", depth + 1)
            if found is not None:
                return found
    return None
