"""Plain JSON data within the bounds every request obeys: depth, size, digits, storable text.

Every free-form JSON value a request carries (values, base values, charts, metadata,
entitlements, render layers) is walked once here, iteratively, before anything recursive
(merge, canonical JSON, masking, diff) touches it:

- nesting: at most ``MAX_DEPTH`` (30) levels of maps and lists, the top-level object being
  level 1. Without a bound a value nested a few hundred deep passes the parser and then
  exhausts the recursion of every later step. 30, not more: MariaDB's JSON type refuses a
  document nested 32 deep (its CHECK fails the insert), and license claims store the
  entitlements one level down. Helm values in practice stay under 10.
- size: at most ``MAX_VALUE_NODES`` values (YAML aliases can expand a small document).
- integers: at most ``MAX_INTEGER_DIGITS`` (400) digits. Python refuses to convert more than
  4300 digits (a ValueError deep in the parser), and anything past 309 digits is beyond the
  float64 range the operator decodes anyway; the parser turns a longer one into
  :class:`OversizedInteger`, which this walk refuses by its path.
- text: every key and string storable by every backend (:mod:`deployserver.specs.text`).
"""

from __future__ import annotations

from typing import Any

from deployserver.specs.paths import index_path, key_path
from deployserver.specs.text import unstorable

MAX_DEPTH = 30
MAX_VALUE_NODES = 1_000_000
MAX_INTEGER_DIGITS = 400


class OversizedInteger:
    """A JSON integer literal with more than ``MAX_INTEGER_DIGITS`` digits, left unconverted.

    Neither a number nor a string, so every schema field refuses it by name.
    """

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"<integer of {self.digits} digits>"


def parse_int(literal: str) -> int | OversizedInteger:
    """``json.loads``' ``parse_int``: an int, or :class:`OversizedInteger` when too long."""
    digits = len(literal.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        return OversizedInteger(digits)
    return int(literal)


def integer_too_long(digits: int) -> str:
    return f"an integer of {digits} digits is over the bound of {MAX_INTEGER_DIGITS} digits"


def nested_too_deeply() -> str:
    return f"is nested deeper than {MAX_DEPTH} levels (the bound for any JSON or YAML value)"


class PlainDataError(ValueError):
    """Where (a path relative to the value, "" for the value itself) and what is wrong."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def check_plain(value: Any) -> None:
    """Raise :class:`PlainDataError` for the first bound ``value`` breaks (see the module)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    visited = 0
    while stack:
        item, where, depth = stack.pop()
        visited += 1
        if visited > MAX_VALUE_NODES:
            raise PlainDataError("", f"holds more than {MAX_VALUE_NODES} values")
        if isinstance(item, str):
            problem = unstorable(item)
            if problem is not None:
                raise PlainDataError(where, f"must not contain {problem}")
        elif isinstance(item, OversizedInteger):
            raise PlainDataError(where, integer_too_long(item.digits))
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise PlainDataError(where, nested_too_deeply())
            if isinstance(item, list):
                stack.extend(
                    (child, index_path(where, i), depth + 1) for i, child in enumerate(item)
                )
                continue
            for key, child in item.items():
                if isinstance(key, str):
                    problem = unstorable(key)
                    if problem is not None:
                        raise PlainDataError(where, f"key {key!r} must not contain {problem}")
                stack.append(
                    (child, key_path(where, key) if isinstance(key, str) else where, depth + 1)
                )
