"""Checking each listed entry against the columns it would be written to (issue 14, item 13).

An upstream's listing is untrusted input. An entry is used only when every value discovery keeps
fits its `ProviderModel` column on every supported database: ids and names are strings without
control characters (NUL, CR/LF…), lone surrogates or bidirectional overrides, no longer than the
column; token counts are integers within the column's range; prices are finite, non-negative and
within the column's digits. Otherwise the whole entry is skipped and reported with the reason
(`InvalidEntry`): nothing is cut or clamped, because a cut id is another model and a listing that
lies about one field says nothing good about the others.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.models import ProviderModel

#: PositiveIntegerField is `integer` on PostgreSQL; SQLite's column is wider, but we keep to the
#: narrowest supported database so that what one stores, the other can load.
INT_MAX = 2_147_483_647
#: Control characters (C0, DEL, C1), lone surrogates (not encodable as UTF-8) and the bidirectional
#: overrides and isolates (they make an id display as another one).
_BAD_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_SHOWN_LENGTH = 80


class InvalidEntry(ValueError):
    """A listed entry that cannot be stored as it is; the message says why."""


def max_length(field_name: str) -> int:
    return ProviderModel._meta.get_field(field_name).max_length


def shown(value: Any) -> str:
    """A listed value as it can be reported: control characters escaped, cut to a readable length."""
    if isinstance(value, str):
        text = (
            value.encode("unicode_escape", "backslashreplace").decode("ascii")
            if _BAD_CHARACTER.search(value)
            else value
        )
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        text = str(value)
    else:
        text = repr(value)
    if len(text) > _SHOWN_LENGTH:
        return f"{text[:_SHOWN_LENGTH]}… ({len(text)} characters)"
    return text


def _character_problem(text: str) -> str | None:
    bad = _BAD_CHARACTER.search(text)
    if bad is None:
        return None
    code = f"U+{ord(bad.group()):04X}"
    if "\ud800" <= bad.group() <= "\udfff":
        return f"is not valid unicode (a lone surrogate, {code})"
    return f"contains a control character ({code})"


def text(value: Any, what: str, *, field_name: str, required: bool = False) -> str:
    """A string for the column `field_name`; `""` when absent and not required."""
    if value is None or value == "":
        if required:
            raise InvalidEntry(f"no {what}")
        return ""
    if not isinstance(value, str):
        raise InvalidEntry(f"the {what} is not a string ({type(value).__name__})")
    problem = _character_problem(value)
    if problem:
        raise InvalidEntry(f"the {what} {problem}")
    limit = max_length(field_name)
    if len(value) > limit:
        raise InvalidEntry(f"the {what} is longer than {limit} characters ({len(value)})")
    return value


def token_count(value: Any, what: str) -> int | None:
    """A positive token count within the column's range; None when absent (0 means "not said")."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidEntry(f"the {what} is not a number ({value!r})")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None:
        raise InvalidEntry(f"the {what} is not a whole number ({shown(value)})")
    if number < 0 or number > INT_MAX:
        raise InvalidEntry(f"the {what} {number} is out of range (0 to {INT_MAX:,})")
    return number or None


def price(value: Any, what: str, *, field_name: str) -> Decimal | None:
    """A price per million tokens for the column `field_name`: finite, non-negative, within its digits."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidEntry(f"the {what} is not a number ({value!r})")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidEntry(f"the {what} is not a number ({shown(value)})") from None
    if not amount.is_finite():
        raise InvalidEntry(f"the {what} is not a finite number ({shown(value)})")
    field = ProviderModel._meta.get_field(field_name)
    step = Decimal(1).scaleb(-field.decimal_places)
    highest = Decimal(10).scaleb(field.max_digits - field.decimal_places) - step
    if amount < 0:
        raise InvalidEntry(f"the {what} is negative ({amount.normalize():f} per million tokens)")
    if amount > highest:
        raise InvalidEntry(f"the {what} is out of range ({amount:.4E} per million tokens; at most {highest:,})")
    return amount.quantize(step)


def clean_detail(value: str) -> str:
    """Free text from an upstream (a ping's answer or error) for a text column: control characters dropped."""
    return _BAD_CHARACTER.sub("", value)
