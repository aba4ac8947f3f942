"""Keyset pagination: ``?limit=`` and an opaque ``?cursor=`` on every list."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, Select, and_, or_

from deployserver.errors import Invalid
from deployserver.specs.text import unstorable

T = TypeVar("T")
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# The integer keys cursors carry are 32-bit id columns on PostgreSQL and MariaDB; a larger
# number in a cursor would fail in the database, not select an empty page.
MAX_CURSOR_INT = 2**31 - 1


class PageArgsSchema(Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT)
    )
    cursor = fields.String(load_default=None)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *keys: str) -> dict[str, Any] | None:
    """The position a cursor names; 422 naming ``cursor`` when it was not one of ours."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _not_a_cursor() from None
    if not isinstance(position, dict) or any(key not in position for key in keys):
        raise _not_a_cursor()
    return position


def _not_a_cursor() -> Invalid:
    return Invalid.field("cursor", "is not a valid cursor", "INVALID_CURSOR")


def cursor_int(position: dict[str, Any], key: str) -> int:
    """An integer a cursor carries; 422 naming ``cursor`` when it is not one."""
    value = position[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CURSOR_INT:
        raise _not_a_cursor()
    return value


def cursor_str(position: dict[str, Any], key: str) -> str:
    """A string a cursor carries; 422 naming ``cursor`` when it is not one a column holds."""
    value = position[key]
    if not isinstance(value, str) or unstorable(value) is not None:
        raise _not_a_cursor()
    return value


def cursor_time(position: dict[str, Any], key: str) -> datetime:
    """An aware timestamp a cursor carries, in UTC; 422 naming ``cursor`` when it is not one.

    Converted here: near the ends of the calendar (``9999-12-31T23:59:59-14:00``) UTC falls
    outside what ``datetime`` holds, and the conversion raises OverflowError.
    """
    try:
        moment = datetime.fromisoformat(cursor_str(position, key))
        if moment.tzinfo is None:
            raise _not_a_cursor()
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _not_a_cursor() from None


@dataclass(frozen=True)
class SortKey:
    """One key of a keyset ordering: its name in the cursor, its column, how it is read."""

    name: str
    column: Any
    read: Callable[[dict[str, Any], str], Any]


def keyset(
    query: SelectT,
    cursor: str | None,
    limit: int,
    *keys: SortKey,
    descending: bool = True,
) -> SelectT:
    """``query`` in ``keys`` order, ``limit + 1`` rows, starting after ``cursor``: the one
    keyset paging of every list (cut the rows with :func:`page_of`).

    Two keys are compared as ``first <= v AND (first < v OR second < w)`` (descending)
    rather than an OR alone or a row value: the leading range is one every backend, MariaDB
    included, walks on an index over ``(first, second)``, so a deep page costs what the
    first one does.
    """
    position = decode_cursor(cursor, *(key.name for key in keys))
    columns = [key.column for key in keys]
    query = query.order_by(*(c.desc() if descending else c.asc() for c in columns))
    query = query.limit(limit + 1)
    if position is None:
        return query
    values = [key.read(position, key.name) for key in keys]
    return query.where(_after(columns, values, descending))


def _after(columns: list[Any], values: list[Any], descending: bool) -> ColumnElement[bool]:
    first, first_value = columns[0], values[0]
    if len(columns) == 1:
        return first < first_value if descending else first > first_value
    if len(columns) != 2:
        raise ValueError("keyset orderings have one or two keys")
    second, second_value = columns[1], values[1]
    if descending:
        return and_(first <= first_value, or_(first < first_value, second < second_value))
    return and_(first >= first_value, or_(first > first_value, second > second_value))


def page_of(rows: list[T], limit: int, position_of: Any) -> Page[T]:
    """Cut the ``limit + 1`` rows a query fetched into a page and the cursor after it."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, encode_cursor(position_of(rows[-1])))
    return Page(rows, None)
