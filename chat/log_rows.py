"""The request log's rows: values normalised to what their columns hold, inserted so a bad row costs only itself.

Clients and upstreams control much of a row (the model string asked, `finish_reason`,
token counts, error messages, logged content). A value a column refuses used to fail
the whole batch of the writer — other requests' rows with it. So `normalise()` turns
a row's values into what the columns take before the row is queued, cheaply (a few
microseconds; it runs on the request's thread), from the model's own fields:

- text: NUL removed (PostgreSQL refuses it), lone surrogates replaced (no UTF-8),
  cut to the column's `max_length`; `None` in a non-null text column is "";
- integers: clamped to the field's range on the backend (`integer_field_range`);
- floats: finite, else NULL (or 0 in a non-null column); decimals: finite and
  within the column's digits;
- JSON (logged messages): the same for every string and key inside, and non-finite
  floats become null (PostgreSQL's jsonb refuses NaN and NUL escapes).

`write()` inserts rows in one `executemany` and one transaction; when the database
refuses the batch for its data, the rows are written one by one, so only a row the
database still refuses is lost — logged with its reason (the error's class and
SQLSTATE, never its values). When the database cannot be reached, `Unavailable`
carries the rows not yet written back to the writer, which keeps and retries them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import ForeignKey, JSONField
from django.db.models import fields as model_fields
from django.utils import timezone

logger = logging.getLogger("chat.request_log")

Row = tuple[Any, ...]
#: SQLSTATE classes that are about a row's data or the statement, never about reaching the database:
#: data exception, integrity violation, program limit exceeded (e.g. an index row too large), syntax/access.
_DATA_SQLSTATES = ("22", "23", "42", "54")


class Unavailable(Exception):  # noqa: N818 (a state the writer waits out, not a failure of the rows)
    """The database cannot be reached (or is locked): `rows` were not written and should be tried again."""

    def __init__(self, rows: Sequence[Row], reason: str) -> None:
        super().__init__(reason)
        self.rows = list(rows)
        self.reason = reason


def describe(exc: BaseException) -> str:
    """A short reason for a log line: the class, the SQLSTATE and the first line of the message, cut.

    Database messages name the column or the limit, not the value; details (PostgreSQL's
    DETAIL, which may quote a value) are on later lines and left out.
    """
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None)
    first_line = str(exc).strip().split("\n", 1)[0][:200]
    name = type(cause).__name__
    return f"{name} [{sqlstate}]: {first_line}" if sqlstate else f"{name}: {first_line}"


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be reached (or was locked), not that the rows were bad."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    return not sqlstate.startswith(_DATA_SQLSTATES)


# --- Normalising --------------------------------------------------------------------


def clean_text(value: Any, limit: int | None = None) -> str:
    """`value` as text a column takes: no NUL, valid UTF-8, at most `limit` characters."""
    if type(value) is not str:
        value = "" if value is None else str(value)
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, as a JSON escape may carry them
            value = value.encode("utf-8", "replace").decode("utf-8")
    if limit is not None and len(value) > limit:
        value = value[:limit]
    return value


def clean_json(value: Any) -> Any:
    """Every string (and key) in a JSON value cleaned; non-finite floats as null; other values as they are."""
    kind = type(value)
    if kind is str:
        return clean_text(value)
    if kind is dict:
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [clean_json(item) for item in value]
    if kind is float and not math.isfinite(value):
        return None
    return value


def _text_cleaner(limit: int | None, null: bool) -> Callable[[Any], Any]:
    def clean(value: Any) -> Any:
        # The common case costs two C-level checks: short ASCII text without NUL.
        if type(value) is str and value.isascii() and "\x00" not in value and (limit is None or len(value) <= limit):
            return value
        if value is None and null:
            return None
        return clean_text(value, limit)

    return clean


def _int_cleaner(low: int | None, high: int | None, null: bool) -> Callable[[Any], Any]:
    def clean(value: Any) -> Any:
        if type(value) is not int:
            if value is None:
                return None if null else (low or 0)
            try:
                value = int(value)  # floats, Decimals, numeric strings; bool is 0/1
            except (TypeError, ValueError, OverflowError):
                return None if null else (low or 0)
        if low is not None and value < low:
            return low
        if high is not None and value > high:
            return high
        return value

    return clean


def _float_cleaner(null: bool) -> Callable[[Any], Any]:
    def clean(value: Any) -> Any:
        if type(value) is float and math.isfinite(value):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if math.isfinite(number):
            return number
        return None if null else 0.0

    return clean


def _decimal_cleaner(max_digits: int, decimal_places: int, null: bool) -> Callable[[Any], Any]:
    # The largest whole number that fits: exact as a float too (SQLite stores decimals as REAL).
    largest = Decimal(10) ** (max_digits - decimal_places) - 1

    def clean(value: Any) -> Any:
        if value is None:
            return None if null else Decimal(0)
        try:
            number = value if type(value) is Decimal else Decimal(str(value))
        except ArithmeticError:
            return None if null else Decimal(0)
        if not number.is_finite():
            return None if null else Decimal(0)
        if abs(number) > largest:
            return largest.copy_sign(number)
        return number

    return clean


def _same(value: Any) -> Any:
    return value


def _cleaner(field: Any, connection: Any) -> Callable[[Any], Any]:
    if isinstance(field, ForeignKey):
        # Ids we hold; a vanished one is handled at insert (IntegrityError).
        return lambda value: value if type(value) is int else None
    if isinstance(field, JSONField):
        return lambda value: None if value is None else clean_json(value)
    if isinstance(field, model_fields.BooleanField):
        return bool
    if isinstance(field, model_fields.DateTimeField):
        return lambda value: value if isinstance(value, datetime) else timezone.now()
    if isinstance(field, model_fields.DecimalField):
        return _decimal_cleaner(field.max_digits, field.decimal_places, field.null)
    if isinstance(field, model_fields.FloatField):
        return _float_cleaner(field.null)
    if isinstance(field, model_fields.IntegerField):
        # The narrower of the backend's range and Django's portable one (PostgreSQL's), so a row
        # holds the same counts on every database (SQLite's integers are 64-bit) and can move between them.
        kind = field.get_internal_type()
        low, high = connection.ops.integer_field_range(kind)
        portable_low, portable_high = BaseDatabaseOperations.integer_field_ranges.get(kind, (low, high))
        low = portable_low if low is None else max(low, portable_low) if portable_low is not None else low
        high = portable_high if high is None else min(high, portable_high) if portable_high is not None else high
        return _int_cleaner(low, high, field.null)
    if isinstance(field, model_fields.CharField | model_fields.TextField):
        return _text_cleaner(field.max_length, field.null)
    return _same


class _Columns:
    """The request log's columns, what each value goes through, and the INSERT: built once per process."""

    def __init__(self) -> None:
        from chat.models import RequestLog

        self.alias = router.db_for_write(RequestLog)
        connection = connections[self.alias]  # no query: only its operations (ranges, quoting)
        fields = [field for field in RequestLog._meta.concrete_fields if not field.primary_key]
        self.fields = fields
        self.plan = [(field.attname, field.get_default, _cleaner(field, connection)) for field in fields]
        self.links = [position for position, field in enumerate(fields) if isinstance(field, ForeignKey)]
        self.positions = {field.attname: position for position, field in enumerate(fields)}
        quote = connection.ops.quote_name
        # Only the model's own table and column names, quoted by the backend; every value is a parameter.
        self.sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
            quote(RequestLog._meta.db_table),
            ", ".join(quote(field.column) for field in fields),
            ", ".join(["%s"] * len(fields)),
        )


_columns: _Columns | None = None


def columns() -> _Columns:
    global _columns
    if _columns is None:
        _columns = _Columns()
    return _columns


def normalise(values: dict[str, Any]) -> Row:
    """The row for `values` (attribute names → values), each value as its column takes it; defaults filled."""
    plan = (_columns or columns()).plan
    return tuple(clean(values[name]) if name in values else default() for name, default, clean in plan)


def field_value(row: Row, name: str) -> Any:
    return row[columns().positions[name]]


# --- Writing ------------------------------------------------------------------------


def write(rows: Sequence[Row]) -> int:
    """Insert `rows`; returns how many were refused (and logged). `Unavailable`: the database is out of reach.

    The batch is one transaction. When it is refused for its data, the rows go one by one:
    a row whose provider, model or key vanished while its request ran is kept without
    those links; a row the database still refuses is logged (request id and reason) and lost.
    """
    try:
        _insert(rows)
    except Exception as exc:
        if is_unavailable(exc):
            raise Unavailable(rows, describe(exc)) from exc
        if isinstance(exc, DatabaseError) and not isinstance(exc, DataError | IntegrityError):
            # Neither about the data nor clearly about reaching the server: a connection the
            # server or the driver closed says so in several ways (SQLite: "Cannot operate on a
            # closed database"). Once more on a new connection, then row by row.
            _close(connections[columns().alias])
            try:
                _insert(rows)
            except Exception as again:
                if is_unavailable(again):
                    raise Unavailable(rows, describe(again)) from again
            else:
                return 0
    else:
        return 0
    refused = 0
    for position, row in enumerate(rows):
        try:
            _insert_one(row)
        except Exception as exc:
            if is_unavailable(exc):
                raise Unavailable(rows[position:], describe(exc)) from exc
            refused += 1
            logger.error(
                "request log: row %s (status %s) dropped, the database refused it: %s",
                clean_text(field_value(row, "request_id"), 64) or "(no request id)",
                field_value(row, "status_code"),
                describe(exc),
            )
    return refused


def _close(connection: Any) -> None:
    try:
        connection.close()
    except Exception:
        # Closing a connection the server already dropped can fail; it is gone either way.
        logger.debug("Closing the request log's connection failed", exc_info=True)


def _insert_one(row: Row) -> None:
    try:
        _insert([row])
    except IntegrityError:
        # The provider, model or key was deleted while the request ran: keep the row, drop the links.
        unlinked = list(row)
        for position in columns().links:
            unlinked[position] = None
        _insert([tuple(unlinked)])


def _insert(rows: Sequence[Row]) -> None:
    """One multi-row INSERT in one transaction: each value prepared by its model field, as the ORM does.

    Not `bulk_create`: building a model instance per row (and reading back the new ids) cost
    ~0.25 ms a row, as much as a tenth of the request itself; this is a few hundredths of that.
    """
    spec = columns()
    connection = connections[spec.alias]
    prepare = [field.get_db_prep_save for field in spec.fields]
    params = [[to_db(value, connection) for to_db, value in zip(prepare, row, strict=True)] for row in rows]
    with transaction.atomic(using=spec.alias), connection.cursor() as cursor:
        cursor.executemany(spec.sql, params)
