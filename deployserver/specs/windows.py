"""Maintenance windows: weekly local-time ranges in an IANA time zone.

A window is open when the local wall-clock time of the moment falls on one of its days
between its start (inclusive) and end (exclusive). An end at or before the start makes an
overnight window that belongs to the day it starts on. Local time comes from ``zoneinfo``,
so daylight-saving changes are honoured: a 02:00-06:00 window lasts three real hours on the
night clocks spring forward and five on the night they fall back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from deployserver.errors import Invalid

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
# IANA names: letters, digits, '_', '-', '+' and '/' separated parts ("America/Argentina/Salta").
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,30}(?:/[A-Za-z0-9_+-]{1,30}){0,3}")


@dataclass(frozen=True, slots=True)
class Window:
    days: tuple[str, ...]
    start: str
    end: str
    timezone: str

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls inside this window."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        start, end = _clock(self.start), _clock(self.end)
        today = DAYS[local.weekday()]
        if start < end:
            return today in self.days and start <= clock < end
        yesterday = DAYS[(local.date() - timedelta(days=1)).weekday()]
        return (today in self.days and clock >= start) or (yesterday in self.days and clock < end)

    def as_dict(self) -> dict[str, object]:
        return {
            "days": list(self.days),
            "start": self.start,
            "end": self.end,
            "timezone": self.timezone,
        }


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def parse_window(days: object, start: object, end: object, timezone: object) -> Window:
    """A window from API or file input; 422 naming the field for anything unusable."""
    errors: dict[str, list[str]] = {}
    if (
        not isinstance(days, list)
        or not days
        or not all(isinstance(day, str) and day in DAYS for day in days)
    ):
        errors["days"] = [f"a non-empty list of {', '.join(DAYS)}"]
    for field, value in (("start", start), ("end", end)):
        if not isinstance(value, str) or not _CLOCK.fullmatch(value):
            errors[field] = ["a 24-hour local time HH:MM"]
    if not errors and start == end:
        errors["end"] = ["must differ from start (a window of no length never opens)"]
    if not isinstance(timezone, str) or not _ZONE.fullmatch(timezone) or not _known(timezone):
        errors["timezone"] = ["an IANA time zone name such as Europe/Berlin"]
    if errors:
        raise Invalid("invalid maintenance window", errors=errors)
    assert isinstance(days, list) and isinstance(start, str) and isinstance(end, str)
    assert isinstance(timezone, str)
    ordered = tuple(day for day in DAYS if day in days)
    return Window(ordered, start, end, timezone)


def _known(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
