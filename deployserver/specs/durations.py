"""Go's ``time.ParseDuration``, reproduced step for step, and the ``reconcileFrequency`` bounds.

The operator reads the top-level values key ``reconcileFrequency`` with Go's parser and waits
that long between reconciles (and so between polls). Matching its grammar and arithmetic
exactly matters at the bounds: Go computes fractions in float64 and truncates, so
``59.99999999999999999s`` is exactly one minute to it.
"""

from __future__ import annotations

# Go's unitMap: both spellings of the micro sign (U+00B5 and U+03BC) are accepted.
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_LIMIT = 1 << 63
MINUTE = _UNITS["m"]
HOUR = _UNITS["h"]
RECONCILE_MIN = MINUTE
RECONCILE_MAX = 24 * HOUR
RECONCILE_RANGE = "1m and 24h"


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"  # ASCII only, as Go's byte comparison


def _leading_int(text: str) -> tuple[int, str] | None:
    value, i = 0, 0
    while i < len(text) and _is_digit(text[i]):
        if value > _LIMIT // 10:
            return None
        value = value * 10 + int(text[i])
        if value > _LIMIT:
            return None
        i += 1
    return value, text[i:]


def _leading_fraction(text: str) -> tuple[int, float, str]:
    value, scale, i, overflow = 0, 1.0, 0, False
    while i < len(text) and _is_digit(text[i]):
        if not overflow:
            if value > (_LIMIT - 1) // 10:
                overflow = True
            else:
                bigger = value * 10 + int(text[i])
                if bigger > _LIMIT:
                    overflow = True
                else:
                    value, scale = bigger, scale * 10
        i += 1
    return value, scale, text[i:]


def parse_go_duration(text: str) -> int | None:
    """Nanoseconds as Go's ``time.ParseDuration`` reads ``text``; None where Go errs."""
    rest, negative, total = text, False, 0
    if rest and rest[0] in "+-":
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if not rest:
        return None
    while rest:
        if not (rest[0] == "." or _is_digit(rest[0])):
            return None
        before = len(rest)
        leading = _leading_int(rest)
        if leading is None:
            return None
        whole, rest = leading
        had_whole = len(rest) != before
        fraction, scale, had_fraction = 0, 1.0, False
        if rest.startswith("."):
            rest = rest[1:]
            before = len(rest)
            fraction, scale, rest = _leading_fraction(rest)
            had_fraction = len(rest) != before
        if not had_whole and not had_fraction:
            return None
        end = 0
        while end < len(rest) and not (rest[end] == "." or _is_digit(rest[end])):
            end += 1
        unit = _UNITS.get(rest[:end])
        if unit is None:
            return None
        rest = rest[end:]
        if whole > _LIMIT // unit:
            return None
        whole *= unit
        if fraction > 0:
            # float64 arithmetic and truncation, as Go does it
            whole += int(float(fraction) * (float(unit) / scale))
            if whole > _LIMIT:
                return None
        total += whole
        if total > _LIMIT:
            return None
    if negative:
        return -total
    if total > _LIMIT - 1:
        return None
    return total


def reconcile_frequency_problem(value: object) -> str | None:
    """Why ``value`` may not be published as ``reconcileFrequency``, or None when it may.

    Shorter than a minute makes every installation of the channel poll in a tight loop; zero
    or negative stops its periodic poll; longer than a day leaves fixes undelivered for days.
    """
    nanoseconds = parse_go_duration(value) if isinstance(value, str) else None
    if nanoseconds is None:
        return f"must be a Go duration string between {RECONCILE_RANGE}, such as 10m or 1h30m"
    if not RECONCILE_MIN <= nanoseconds <= RECONCILE_MAX:
        return f"must be between {RECONCILE_RANGE} (got {value})"
    return None
