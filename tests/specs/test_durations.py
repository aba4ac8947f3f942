"""Go's time.ParseDuration, case by case, and the reconcileFrequency bounds (1m..24h).

Expected values follow Go's algorithm by hand: integers before the point, the fraction in
float64 times the unit, truncated; "0" alone is zero; overflow beyond int64 is an error.
"""

from __future__ import annotations

from typing import Any

import pytest

from deployserver.specs.durations import parse_go_duration, reconcile_frequency_problem

GO_DURATIONS = [
    ("0", 0),
    ("+0", 0),
    ("-0", 0),
    ("0s", 0),
    ("1ns", 1),
    ("1us", 1_000),
    ("1\u00b5s", 1_000),  # MICRO SIGN
    ("1\u03bcs", 1_000),  # GREEK SMALL LETTER MU
    ("300ms", 300_000_000),
    ("1m", 60_000_000_000),
    ("10m", 600_000_000_000),
    ("1h30m", 5_400_000_000_000),
    ("1.5h", 5_400_000_000_000),
    ("24h", 86_400_000_000_000),
    ("-5m", -300_000_000_000),
    ("+5s", 5_000_000_000),
    (".5s", 500_000_000),
    ("5.s", 5_000_000_000),
    ("1h1h", 7_200_000_000_000),  # a unit may repeat
    ("2h45m0.5s", 9_900_500_000_000),
    ("0.99999m", 59_999_400_000),
    # float64 arithmetic: 99999999999999999 rounds up to 1e17, so this is exactly 1m in Go
    ("59.99999999999999999s", 60_000_000_000),
    ("0.999999999999999999m", 59_999_999_999),
    ("9223372036854775807ns", 9_223_372_036_854_775_807),
    ("-9223372036854775808ns", -9_223_372_036_854_775_808),
    ("2562047h", 9_223_369_200_000_000_000),
]


@pytest.mark.parametrize(("text", "nanoseconds"), GO_DURATIONS)
def test_go_durations(text: str, nanoseconds: int) -> None:
    assert parse_go_duration(text) == nanoseconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "+",
        "-",
        "1",
        "00",
        "10",
        "1d",
        "1H",
        "h",
        ".s",
        "-.s",
        "1h 30m",
        " 1h",
        "1h ",
        "1.h2",
        "1e3s",
        "0.0",
        "1hm",
        "\u0661m",  # ARABIC-INDIC DIGIT ONE is not a digit to Go
        "9223372036854775808ns",
        "2562048h",
        "99999999999h",
    ],
)
def test_not_go_durations(text: str) -> None:
    assert parse_go_duration(text) is None


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("1m", True),
        ("1h30m", True),
        ("24h", True),
        ("60s", True),
        ("1440m", True),
        ("59.99999999999999999s", True),
        ("1ms", False),
        ("0s", False),
        ("0", False),
        ("-5m", False),
        ("25h", False),
        ("59s", False),
        ("24h0.000000001s", False),
        ("0.999999999999999999m", False),
        ("", False),
        ("1 hour", False),
        (600, False),
        (None, False),
        (["1h"], False),
    ],
)
def test_reconcile_frequency_range(value: Any, accepted: bool) -> None:
    problem = reconcile_frequency_problem(value)
    assert (problem is None) is accepted
    if not accepted:
        assert problem is not None and "between 1m and 24h" in problem
