"""What of an upstream's answer may reach a client or the log (issue 14): text excerpts, tokens, `Retry-After`.

Upstream bodies and headers are hostile input: an internal service's error page,
control characters, a 100 KB header. Nothing of them is passed on as it came —
messages get a short plain-text excerpt, codes and ids a short token, and a wait
only whole seconds within a day. `errors.py` builds its messages with these.
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import math
import re
import time
from collections.abc import Mapping
from typing import Any

#: Longest excerpt of an upstream's text kept in a message (SPEC §6: an error page is never reflected).
MAX_MESSAGE = 200
#: Longest upstream error code/type passed on as our `code`.
MAX_CODE = 64
#: Longest wait an upstream may ask for that is passed on (`Retry-After`), in seconds.
MAX_RETRY_AFTER = 24 * 3600

_BLOCK_TAGS = re.compile(r"<(script|style|head|title)\b[^>]*>.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<!--.*?(-->|$)|<[!/?]?[A-Za-z][^<>]*(>|$)", re.DOTALL)
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_CODE = re.compile(r"[^A-Za-z0-9_.:-]")


def excerpt(text: Any, limit: int = MAX_MESSAGE) -> str:
    """A short, printable excerpt of upstream text for a message: HTML tags and control characters removed,
    whitespace collapsed, at most `limit` characters (an error page of an internal service is never reflected)."""
    text = str(text)[: limit * 50]  # enough for the excerpt; never a regex pass over megabytes
    if "<" in text or "&" in text:
        text = _TAG.sub(" ", _BLOCK_TAGS.sub(" ", text))
        text = _TAG.sub(" ", html.unescape(text))  # `&lt;b&gt;` is markup too once unescaped
    text = " ".join(_CONTROL.sub(" ", _ANSI.sub("", text)).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def token(value: Any) -> str | None:
    """An upstream's error code/type as we pass it on: token characters only, short."""
    code = _CODE.sub("", str(value))[:MAX_CODE]
    return code or None


def _seconds(value: str) -> int | None:
    """Whole seconds of a `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); None if invalid."""
    value = value.strip()
    if not value or len(value) > 40:
        return None
    if value.isdigit() and value.isascii():
        return int(value)
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    try:
        return max(0, math.ceil(email.utils.mktime_tz(parsed) - time.time()))
    except (OverflowError, ValueError):
        return None


def retry_after_value(headers: Mapping[str, str] | None) -> str | None:
    """The `Retry-After` to pass on, as whole seconds, or None.

    The upstream's `Retry-After` (integer seconds or an HTTP-date), else its
    `retry-after-ms` rounded up; anything else, or a wait over a day, is dropped:
    an upstream's header is never forwarded as it came.
    """
    if not headers:
        return None
    seconds: int | None = None
    value = headers.get("retry-after")
    if value:
        seconds = _seconds(value)
    else:
        millis = headers.get("retry-after-ms")
        if millis and len(millis) <= 20:
            with contextlib.suppress(ValueError, OverflowError):
                number = float(millis)
                if math.isfinite(number) and number >= 0:
                    seconds = max(1, math.ceil(number / 1000))
    if seconds is None or seconds > MAX_RETRY_AFTER:
        return None
    return str(seconds)
