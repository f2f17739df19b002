"""The date and time functions a diagram's expressions may call (``add_days``, ``at_time``, ``end_of_day``, ...):
ISO text in, ISO text out, in Europe/Copenhagen."""

from __future__ import annotations

import datetime as dt
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from processes.clock import LOCAL_ZONE


def duration(text: str) -> dt.timedelta:
    """ISO-8601 duration such as ``P14D`` or ``PT2H`` (days, hours, minutes, seconds)."""
    return TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(text))


def parse_moment(value: str) -> dt.date | dt.datetime:
    text = str(value)
    return dt.datetime.fromisoformat(text) if "T" in text else dt.date.fromisoformat(text)


def add_days(value: str, days: int) -> str:
    """``add_days("2026-03-02", 14)`` -> ``"2026-03-16"`` (a date or an ISO datetime, kept as given)."""
    return (parse_moment(value) + dt.timedelta(days=int(days))).isoformat()


def at_time(value: str, clock_time: str = "23:59") -> str:
    """The moment ``clock_time`` (HH:MM) on a date, in Europe/Copenhagen, as ISO text with its offset.

    Statutory deadlines fall on a Danish calendar day (e.g. an accident report is on time when registered
    by 23:59 on the deadline day, BEK 485/2024 § 10(4)); summer time is taken into account.
    """
    day = parse_moment(value)
    day = day.date() if isinstance(day, dt.datetime) else day
    hours, minutes = (int(part) for part in clock_time.split(":"))
    return dt.datetime.combine(day, dt.time(hours, minutes), tzinfo=LOCAL_ZONE).isoformat()


def add_minutes(value: Any, minutes: Any) -> str:
    """``add_minutes("2026-11-30T20:00:00+01:00", 45)`` -> ``"2026-11-30T20:45:00+01:00"``: a moment (ISO
    text or a datetime) plus whole minutes, as ISO text with the moment's own offset."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return (moment + dt.timedelta(minutes=int(minutes))).isoformat()


def end_of_day(value: str) -> str:
    """23:59:59 on that date in Europe/Copenhagen."""
    day = parse_moment(value)
    day = day.date() if isinstance(day, dt.datetime) else day
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=LOCAL_ZONE).isoformat()
