"""Calendar capabilities for rules: dates and times of day, deadlines in a time zone, time windows, normal
working hours with public holidays, validity dates.

Facts speak of local Danish wall-clock time (what the applicant reads on the lab clock): a window
"18:00-22:00" is 18:00-22:00 in winter (CET) and in summer (CEST) alike, so summer time never moves the
limits of normal hours. Public holidays come from the ``holidays`` package (maintained per country and
year, e.g. Store Bededag is gone from 2024), not from a hand-kept list; which of its categories count
as days off is a parameter.

Deadlines are wall-clock times in a zone: a deadline at 23:59 is 23:59 in Copenhagen on that day, +01:00
in winter and +02:00 in summer. An instant that summer time skips (02:30 on the last Sunday of March) is
read with the offset before the change (it is 03:30 summer time); one it repeats (02:30 on the last
Sunday of October) is its first occurrence.

Everything here is pure: no clock, no I/O. Bad values raise ``ValueError`` with a message meant for the
``fields`` of an ``InvalidFacts`` or ``InvalidRuleSet``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WORKING_DAYS = "working_days"  # the calendar's own working days: its weekdays, public holidays left out
DAY_SETS: Mapping[str, frozenset[int]] = {
    "every_day": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekend": frozenset({5, 6}),
    **{name: frozenset({number}) for number, name in enumerate(WEEKDAYS)},
}
DAY_VALUES = (*DAY_SETS, WORKING_DAYS)
MINUTES_PER_DAY = 24 * 60
_LANGUAGE = {"DK": "da"}  # holiday names in the country's own language, whatever the locale
# A period longer than this is refused: nobody applies for more, and it bounds the work per decision.
MAX_PERIOD_DAYS = 3660

_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_clock(value: Any, *, end: bool = False) -> int:
    """``"HH:MM"`` as minutes after midnight; ``"24:00"`` only as the end of a span."""
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None or (match[3] and not end):
        allowed = "00:00-24:00" if end else "00:00-23:59"
        raise ValueError(f"expected a time HH:MM ({allowed})")
    hours, minutes = (match[1], match[2]) if match[1] else (match[3], match[4])
    return int(hours) * 60 + int(minutes)


def parse_time(value: Any) -> datetime.time:
    """``"23:59"`` -> ``time(23, 59)``; ``ValueError`` for anything but HH:MM (00:00 to 23:59)."""
    hours, minutes = divmod(parse_clock(value), 60)
    return datetime.time(hours, minutes)


def parse_date(value: Any) -> datetime.date:
    """An ISO date ``YYYY-MM-DD`` (a ``datetime.date`` is taken as it is, a ``datetime`` is refused)."""
    if isinstance(value, datetime.datetime):
        raise ValueError("expected a date YYYY-MM-DD, not a date and time")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected a date YYYY-MM-DD; {value!r} is not a date") from None
    raise ValueError("expected a date YYYY-MM-DD")


def parse_zone(value: Any) -> ZoneInfo:
    """An IANA time zone name (``"Europe/Copenhagen"``)."""
    try:
        if isinstance(value, str) and value:
            return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise ValueError(f"unknown time zone {value!r}")


def local_instant(day: datetime.date, time_of_day: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """The wall-clock ``time_of_day`` on ``day`` in ``zone`` (``fold=0``, see the module docstring)."""
    return datetime.datetime.combine(day, time_of_day, tzinfo=zone)


def deadline(anchor: datetime.date, days: int, time_of_day: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """``time_of_day`` on the calendar day ``days`` days after ``anchor``, in ``zone``."""
    return local_instant(anchor + datetime.timedelta(days=days), time_of_day, zone)


def hours_after(start: datetime.datetime, hours: int) -> datetime.datetime:
    """``hours`` elapsed hours after ``start`` (across a summer-time change), in ``start``'s zone."""
    later = start.astimezone(datetime.UTC) + datetime.timedelta(hours=hours)
    return later.astimezone(start.tzinfo)


def months_later(day: datetime.date, months: int) -> datetime.date:
    """The same day of the month ``months`` later; a day that month lacks rolls on to the 1st of the next.

    2026-01-31 + 1 month is 2026-03-01 and 2028-02-29 + 12 months is 2029-03-01, so "one month from
    31 January" ends with 28 February (see ``latest_valid_until``).
    """
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    try:
        return datetime.date(year, month + 1, day.day)
    except ValueError:
        return datetime.date(year + (month == 11), (month + 1) % 12 + 1, 1)


def latest_valid_until(first_day: datetime.date, last_day: datetime.date | None, months: int) -> datetime.date:
    """The last day an approval may run: ``months`` from ``first_day`` (that day excluded), never past ``last_day``.

    An approval from 2026-09-01 for at most 12 months is valid up to and including 2027-08-31.
    """
    limit = months_later(first_day, months) - datetime.timedelta(days=1)
    return limit if last_day is None else min(limit, last_day)


# --- the calendar of normal hours ---------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Normal working hours: which weekdays, from when to when, and which public holidays are days off."""

    working_days: frozenset[int]
    opens: int  # minutes after midnight
    closes: int
    holiday_country: str | None = None
    holiday_categories: tuple[str, ...] = ("public",)

    def holiday(self, day: datetime.date) -> str | None:
        """The name of the public holiday on ``day`` (in the country's own language), or None."""
        if self.holiday_country is None:
            return None
        return _holidays(self.holiday_country, self.holiday_categories, day.year).get(day)

    def is_working_day(self, day: datetime.date) -> bool:
        """A working weekday that is no public holiday."""
        return day.weekday() in self.working_days and self.holiday(day) is None

    def covers(self, day: datetime.date, start: int, end: int) -> bool:
        """Whether minutes ``start``-``end`` of ``day`` lie wholly within normal hours."""
        return self.is_working_day(day) and self.opens <= start and end <= self.closes


DANISH_WORKING_DAYS = Calendar(working_days=DAY_SETS["weekdays"], opens=0, closes=MINUTES_PER_DAY,
                               holiday_country="DK", holiday_categories=("public",))
"""Monday to Friday except the Danish public holidays (helligdage): the days a time limit counts."""

MAX_WORKING_DAYS = 260  # about a year: a limit beyond it is a mistake in the model


def add_working_days(start: datetime.date, days: int, calendar: Calendar = DANISH_WORKING_DAYS) -> datetime.date:
    """The ``days``-th working day after ``start`` (``start`` itself not counted; 0 gives ``start``).

    Friday + 1 is Monday; the Thursday before Easter + 1 is the Tuesday after it (Skærtorsdag, Langfredag,
    Påskedag and 2. Påskedag are public holidays).
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_WORKING_DAYS:
        raise ValueError(f"a number of working days from 0 to {MAX_WORKING_DAYS}, not {days!r}")
    day = start
    while days:
        day += datetime.timedelta(days=1)
        if calendar.is_working_day(day):
            days -= 1
    return day


@lru_cache(maxsize=256)
def _holidays(country: str, categories: tuple[str, ...], year: int) -> Mapping[datetime.date, str]:
    # The language is fixed: the package otherwise follows the process's locale (LANG).
    found = holidays.country_holidays(country, years=year, categories=categories, language=_LANGUAGE.get(country))
    return {day: str(name) for day, name in found.items()}


def parse_calendar(value: Any) -> Calendar:
    """A calendar parameter: ``{"working_days": [...], "from": "07:00", "to": "18:00", "holidays": {...}}``.

    ``holidays`` is ``{"country": "DK", "categories": ["public", ...]}`` (the ``holidays`` package's
    country code and categories) or left out for none.
    """
    if not isinstance(value, Mapping) or set(value) - {"working_days", "from", "to", "holidays"}:
        raise ValueError("expected {working_days, from, to, holidays}")
    days = value.get("working_days")
    if not isinstance(days, list) or not days or any(day not in WEEKDAYS for day in days):
        raise ValueError("working_days must be a list of weekday names (monday ... sunday)")
    opens, closes = parse_clock(value.get("from")), parse_clock(value.get("to"), end=True)
    if closes <= opens:
        raise ValueError("'to' must be after 'from'")
    country, categories = None, ("public",)
    if (spec := value.get("holidays")) is not None:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("country"), str):
            raise ValueError("holidays must be {country, categories}")
        country = spec["country"]
        categories = tuple(spec.get("categories", ["public"]))
        if country not in holidays.list_supported_countries():
            raise ValueError(f"holidays: unknown country {country!r}")
        supported = holidays.country_holidays(country).supported_categories
        if not categories or any(category not in supported for category in categories):
            raise ValueError(f"holidays: categories must be among {sorted(supported)}")
    return Calendar(frozenset(WEEKDAYS.index(day) for day in days), opens, closes, country, categories)


# --- time windows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeWindow:
    """When someone works: on ``days`` (a name of ``DAY_VALUES``), ``start``-``end`` o'clock, within dates.

    ``end`` at or before ``start`` means the window runs past midnight into the next day (22:00-02:00).
    ``from_date``/``to_date`` narrow the window to part of the application's period.
    """

    days: str
    start: int
    end: int
    from_date: datetime.date | None = None
    to_date: datetime.date | None = None

    def applies_on(self, day: datetime.date, calendar: Calendar) -> bool:
        """Whether the window starts on ``day``."""
        if (self.from_date and day < self.from_date) or (self.to_date and day > self.to_date):
            return False
        if self.days == WORKING_DAYS:
            return calendar.is_working_day(day)
        return day.weekday() in DAY_SETS[self.days]

    def spans(self, day: datetime.date) -> Iterator[tuple[datetime.date, int, int]]:
        """The window started on ``day`` cut at midnight: (date, start minute, end minute) per calendar day."""
        if self.end > self.start:
            yield day, self.start, self.end
        else:
            yield day, self.start, MINUTES_PER_DAY
            if self.end > 0:
                yield day + datetime.timedelta(days=1), 0, self.end


def parse_time_windows(value: Any) -> tuple[TimeWindow, ...]:
    """A list of ``{"days", "from", "to", "from_date"?, "to_date"?}``; ``ValueError("row 2: ...")`` if bad.

    ``days`` may be one name or a list of names (one window each).
    """
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of time windows")
    windows: list[TimeWindow] = []
    for index, row in enumerate(value):
        try:
            windows.extend(_window(row))
        except ValueError as error:
            raise ValueError(f"row {index}: {error}") from None
    return tuple(windows)


def _window(row: Any) -> Iterator[TimeWindow]:
    if not isinstance(row, Mapping):
        raise ValueError("expected an object {days, from, to}")
    unknown = sorted(set(row) - {"days", "from", "to", "from_date", "to_date"})
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    days = row.get("days")
    names = days if isinstance(days, (list, tuple)) else [days]
    if not names or any(name not in DAY_VALUES for name in names):
        raise ValueError("days must be one of " + ", ".join(DAY_VALUES))
    try:
        start = parse_clock(row.get("from"))
    except ValueError as error:
        raise ValueError(f"from: {error}") from None
    try:
        end = parse_clock(row.get("to"), end=True)
    except ValueError as error:
        raise ValueError(f"to: {error}") from None
    if end == start:
        raise ValueError("'to' must differ from 'from'")
    bounds: dict[str, datetime.date | None] = {}
    for key in ("from_date", "to_date"):
        try:
            bounds[key] = None if row.get(key) is None else parse_date(row[key])
        except ValueError as error:
            raise ValueError(f"{key}: {error}") from None
    if bounds["from_date"] and bounds["to_date"] and bounds["to_date"] < bounds["from_date"]:
        raise ValueError("to_date is before from_date")
    for name in dict.fromkeys(names):
        yield TimeWindow(name, start, end, bounds["from_date"], bounds["to_date"])


def _days(first: datetime.date, last: datetime.date) -> Iterator[datetime.date]:
    day = first
    while day <= last:
        yield day
        day += datetime.timedelta(days=1)


def _always_normal(window: TimeWindow, calendar: Calendar) -> bool:
    return (
        window.days == WORKING_DAYS and window.start < window.end
        and calendar.opens <= window.start and window.end <= calendar.closes
    )  # fmt: skip


def first_outside(
    windows: tuple[TimeWindow, ...], first_day: datetime.date, last_day: datetime.date, calendar: Calendar
) -> tuple[datetime.date, int, int] | None:
    """The first stretch of the windows between ``first_day`` and ``last_day`` outside normal hours, or None.

    A window counts on each date of the period it applies on; a window past midnight also counts
    on the next day (which may be a Saturday or a holiday), even if that day is after ``last_day``.
    """
    if last_day < first_day:
        raise ValueError("the period ends before it starts")
    if (last_day - first_day).days > MAX_PERIOD_DAYS:
        raise ValueError(f"the period is longer than {MAX_PERIOD_DAYS} days")
    # A window on the calendar's own working days within its hours can never be outside: skip its dates.
    relevant = [window for window in windows if not _always_normal(window, calendar)]
    if not relevant:
        return None
    for day in _days(first_day, last_day):
        for window in relevant:
            if window.applies_on(day, calendar):
                for span in window.spans(day):
                    if not calendar.covers(*span):
                        return span
    return None


def outside_normal_hours(
    windows: tuple[TimeWindow, ...], first_day: datetime.date, last_day: datetime.date, calendar: Calendar
) -> bool:
    """Whether any of the windows, on any date of the period, lies (partly) outside normal hours."""
    return first_outside(windows, first_day, last_day, calendar) is not None
