"""The clock SpiffWorkflow's timers read, and the wake-up computed from a workflow."""

from __future__ import annotations

import datetime as dt

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

from processes import FixedClock
from processes.engine.timers import using_clock


def test_spiffs_timer_module_reads_the_run_clock_inside_a_run_and_the_system_clock_outside():
    moment = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with using_clock(FixedClock(moment)):
        assert spiff_timer.datetime.now(dt.UTC) == moment
    assert abs(spiff_timer.datetime.now(dt.UTC) - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_clocks_of_nested_runs_are_restored_in_order():
    outer, inner = (FixedClock(dt.datetime(year, 1, 1, tzinfo=dt.UTC)) for year in (2030, 2031))
    with using_clock(outer):
        with using_clock(inner):
            assert spiff_timer.datetime.now(dt.UTC).year == 2031
        assert spiff_timer.datetime.now(dt.UTC).year == 2030


def test_within_a_run_a_moment_equal_to_now_has_passed_as_spiff_asks_it():
    moment = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    due = spiff_timer.TimerEventDefinition.get_datetime(moment.isoformat())
    with using_clock(FixedClock(moment)):
        now = spiff_timer.datetime.now(dt.UTC)
        assert due < now  # SpiffWorkflow's own test: `due < datetime.now(timezone.utc)`
        assert not moment + dt.timedelta(microseconds=1) < now
        assert now == moment and (now + dt.timedelta(hours=1)).isoformat() == "2030-01-02T04:04:05+00:00"
