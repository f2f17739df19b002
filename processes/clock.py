"""One injectable clock for the engine, the rules and (later) the timer worker.

Tests pass a ``FixedClock`` and move it instead of sleeping. Times are UTC inside; a calendar date for the
rules is the date in Europe/Copenhagen, where DTU's deadlines fall.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Europe/Copenhagen")


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that stands still until moved."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, delta: dt.timedelta) -> None:
        self.at += delta


SYSTEM_CLOCK = SystemClock()


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar date in Copenhagen at that moment."""
    return moment.astimezone(LOCAL_ZONE).date()
