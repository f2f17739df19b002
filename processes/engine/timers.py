"""Time in the engine: BPMN timers read our clock, and a case's next wake-up is computed after every step.

SpiffWorkflow's timer module asks ``datetime.now(timezone.utc)`` directly when it starts and checks a
timer, so nothing could move time for a test or a replay (``amflow worker --once --now ...``). We give that
module a ``datetime`` whose ``now()`` reads the clock of the current run (a context variable) and falls back
to the system clock outside a run; within a run, a timer due at exactly that now has passed (``_RunNow``),
so a timer fires at its due instant, not one tick later. It is the only patch we make to SpiffWorkflow,
and it is tested.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from processes.clock import Clock

_CURRENT_CLOCK: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("amflow_clock", default=None)

TIMER_EVENT_TYPES = frozenset({
    "TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition",
})


class _ClockedDatetime(dt.datetime):
    """``datetime`` whose ``now()`` is the current run's clock."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _ClockedDatetime:
        clock = _CURRENT_CLOCK.get()
        if clock is None:
            return super().now(tz)
        return _RunNow.fromtimestamp(clock.now().timestamp(), tz)


class _RunNow(_ClockedDatetime):
    """The run's "now" as SpiffWorkflow sees it: a timer due at this very instant counts as passed.

    SpiffWorkflow asks ``due < datetime.now(...)`` of every timer. A subclass's reflected comparison goes
    first, so ``due < now`` is ``now.__gt__(due)``, answered here as ``now >= due``: a timer fires at a pass
    at exactly its due instant, as the worker claims it (``case_timers.due_at <= now``) and as a timer start
    is due (``next_at <= now``). Arithmetic and text are those of a plain datetime.
    """

    def __gt__(self, other: object) -> bool:
        return dt.datetime.__ge__(self, other)  # type: ignore[operator]


spiff_timer.datetime = _ClockedDatetime


@contextlib.contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    """Within the block, SpiffWorkflow's timers see ``clock``."""
    token = _CURRENT_CLOCK.set(clock)
    try:
        yield
    finally:
        _CURRENT_CLOCK.reset(token)


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = TimerEventDefinition.get_datetime(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def next_due(workflow: BpmnWorkflow) -> dt.datetime | None:
    """The earliest time at which one of the workflow's waiting timers fires, or None.

    A timer behind an event-based gateway is not a waiting event of its own: the gateway waits for all its
    branches' events at once (a ``MultipleEventDefinition``, whose own details carry no time), and the
    timer's due time is in the gateway task's data. It is asked for by the timer's own definition.
    """
    times = []
    for task in list(workflow.event_manager.tasks.values()):
        definition = task.task_spec.event_definition
        for item in getattr(definition, "event_definitions", None) or [definition]:
            event = item.details(task)
            if event.event_type in TIMER_EVENT_TYPES and (moment := _as_datetime(event.value)) is not None:
                times.append(moment)
    return min(times).astimezone(dt.UTC) if times else None


def before(moment: dt.datetime, duration: str) -> dt.datetime:
    """``moment`` minus the ISO-8601 ``duration`` (``P5Y``, ``P18M``, ``P30D``, ``PT12H``): years and months
    on the calendar (31 March minus one month is 28/29 February), the rest in elapsed time.

    ValueError if ``duration`` is not an ISO-8601 duration.
    """
    try:
        parts = TimerEventDefinition.parse_iso_duration(duration.strip())
    except Exception:  # Spiff raises a bare Exception("Invalid duration")
        raise ValueError(f"{duration!r} is not an ISO-8601 duration such as P5Y or P30D") from None
    months = int(parts.get("years", 0)) * 12 + int(parts.get("months", 0))
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    last_day = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    shifted = moment.replace(year=year, month=month, day=min(moment.day, last_day))
    return shifted - dt.timedelta(weeks=parts.get("weeks", 0), days=parts.get("days", 0),
                                  hours=parts.get("hours", 0), minutes=parts.get("minutes", 0),
                                  seconds=parts.get("seconds", 0))
