"""Keyset pagination: ``?limit=`` and an opaque ``?cursor=`` on every list."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, and_, or_

from deployserver.errors import Invalid
from deployserver.specs.text import unstorable

T = TypeVar("T")

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


@dataclass
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


def before(first: Any, second: Any, first_value: Any, second_value: Any) -> ColumnElement[bool]:
    """Rows after a cursor in ``first DESC, second DESC`` order: ``(first, second) < values``.

    Written as ``first <= v AND (first < v OR second < w)`` rather than an OR alone or a row
    value: the leading ``first <= v`` is a range every backend (MariaDB included) walks on an
    index over ``(first, second)``, so a deep page costs what the first one does.
    """
    return and_(first <= first_value, or_(first < first_value, second < second_value))


def page_of(rows: list[T], limit: int, position_of: Any) -> Page[T]:
    """Cut the ``limit + 1`` rows a query fetched into a page and the cursor after it."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, encode_cursor(position_of(rows[-1])))
    return Page(rows, None)
