"""Maintenance windows: days, overnight ranges and daylight-saving edges, from literals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deployserver.errors import Invalid
from deployserver.specs.windows import Window, parse_window

BERLIN_NIGHT = Window(("sun",), "02:00", "06:00", "Europe/Berlin")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        # 2026-01-11 is a Sunday; Berlin is UTC+1 in winter.
        ("2026-01-11T00:59:59", False),
        ("2026-01-11T01:00:00", True),
        ("2026-01-11T04:59:59", True),
        ("2026-01-11T05:00:00", False),
        # Saturday at the same local times: not a window day.
        ("2026-01-10T02:00:00", False),
        # Summer (UTC+2): 02:00 local is 00:00 UTC.
        ("2026-07-12T00:00:00", True),
        ("2026-07-12T03:59:00", True),
        ("2026-07-12T04:00:00", False),
    ],
)
def test_a_window_opens_on_its_days_in_local_time(moment: str, open_: bool) -> None:
    assert BERLIN_NIGHT.is_open(utc(moment)) is open_


def open_minutes(window: Window, start: datetime, hours: int) -> int:
    return sum(window.is_open(start + timedelta(minutes=m)) for m in range(hours * 60))


def test_spring_forward_night_is_three_hours_long() -> None:
    # Berlin springs forward on Sunday 2026-03-29: 02:00 local does not exist (01:00 UTC
    # is 03:00 CEST), so 02:00-06:00 local is 01:00-04:00 UTC.
    assert open_minutes(BERLIN_NIGHT, utc("2026-03-28T22:00:00"), 10) == 180
    assert BERLIN_NIGHT.is_open(utc("2026-03-29T00:59:00")) is False
    assert BERLIN_NIGHT.is_open(utc("2026-03-29T01:00:00")) is True
    assert BERLIN_NIGHT.is_open(utc("2026-03-29T03:59:00")) is True
    assert BERLIN_NIGHT.is_open(utc("2026-03-29T04:00:00")) is False


def test_fall_back_night_is_five_hours_long() -> None:
    # Berlin falls back on Sunday 2026-10-25: 02:00 CEST is 00:00 UTC, 06:00 CET is 05:00 UTC.
    assert open_minutes(BERLIN_NIGHT, utc("2026-10-24T22:00:00"), 10) == 300
    assert BERLIN_NIGHT.is_open(utc("2026-10-25T00:00:00")) is True
    assert BERLIN_NIGHT.is_open(utc("2026-10-25T04:59:00")) is True
    assert BERLIN_NIGHT.is_open(utc("2026-10-25T05:00:00")) is False


def test_an_overnight_window_belongs_to_the_day_it_starts() -> None:
    friday_night = Window(("fri",), "22:00", "03:00", "UTC")
    assert friday_night.is_open(utc("2026-01-09T22:00:00")) is True  # Friday
    assert friday_night.is_open(utc("2026-01-10T02:59:00")) is True  # Saturday morning
    assert friday_night.is_open(utc("2026-01-10T03:00:00")) is False
    assert friday_night.is_open(utc("2026-01-10T22:30:00")) is False  # Saturday night
    assert friday_night.is_open(utc("2026-01-09T02:00:00")) is False  # Friday morning


def test_new_york_window_follows_its_own_daylight_saving() -> None:
    window = Window(("mon", "tue", "wed", "thu", "fri"), "09:00", "17:00", "America/New_York")
    assert window.is_open(utc("2026-01-12T14:00:00")) is True  # 09:00 EST
    assert window.is_open(utc("2026-01-12T13:59:00")) is False
    assert window.is_open(utc("2026-07-13T13:00:00")) is True  # 09:00 EDT
    assert window.is_open(utc("2026-07-13T21:00:00")) is False  # 17:00 EDT


def test_parse_orders_days_and_keeps_fields() -> None:
    window = parse_window(["sun", "sat"], "02:00", "06:00", "Europe/Berlin")
    assert window == Window(("sat", "sun"), "02:00", "06:00", "Europe/Berlin")


@pytest.mark.parametrize(
    ("days", "start", "end", "timezone", "field"),
    [
        ([], "02:00", "06:00", "UTC", "days"),
        (["saturday"], "02:00", "06:00", "UTC", "days"),
        ("sat", "02:00", "06:00", "UTC", "days"),
        (["sat"], "2:00", "06:00", "UTC", "start"),
        (["sat"], "24:00", "06:00", "UTC", "start"),
        (["sat"], "02:00", "06:60", "UTC", "end"),
        (["sat"], "02:00", 6, "UTC", "end"),
        (["sat"], "02:00", "02:00", "UTC", "end"),
        (["sat"], "02:00", "06:00", "Mars/Olympus", "timezone"),
        (["sat"], "02:00", "06:00", "../../etc/passwd", "timezone"),
        (["sat"], "02:00", "06:00", "", "timezone"),
        (["sat"], "02:00", "06:00", None, "timezone"),
    ],
)
def test_parse_refuses_naming_the_field(
    days: object, start: object, end: object, timezone: object, field: str
) -> None:
    with pytest.raises(Invalid) as caught:
        parse_window(days, start, end, timezone)
    assert field in (caught.value.errors or {})
