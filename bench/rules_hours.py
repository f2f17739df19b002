"""The cost of deriving outside_normal_hours (B-R11) from time windows, against a decision that is told it.

Baseline: a lone_work decision with ``outside_normal_hours`` given (no calendar work). Against it, the same
decision with the fact left out and derived from time windows over a period: one week, four months, and
twelve months (the longest, ``lone_work.max_validity_months``) of daytime windows on Tuesdays and
Wednesdays, the worst case because no window is outside and every date of the period must be looked at;
and twelve months of working-day windows, which need no date at all. Rounds alternate between
the variants, medians are printed with their ratio to the baseline from the same run (the machine is shared).

    .venv/bin/python bench/rules_hours.py
"""

from __future__ import annotations

import datetime
import statistics
import time
from typing import Any

from rules import decide

ON = datetime.date(2026, 3, 2)
BASE: dict[str, Any] = {
    "another_competent_person_within_reach": False, "hazards": ["laser_class3b_4"], "applicant_role": "employee",
    "applicant_age": 30, "mitigations": [], "instruction_completed": True,
}  # fmt: skip
# Tuesdays and Wednesdays in the daytime: no public holiday falls on them from September 2026 to August 2027,
# so every date of the period is looked at (the worst case). Working-day windows are skipped outright.
DAYTIME = [{"days": "tuesday", "from": "08:00", "to": "16:00"}, {"days": "wednesday", "from": "07:00", "to": "09:00"}]
WORKING_DAYS = [{"days": "working_days", "from": "08:00", "to": "16:00"}]
VARIANTS: dict[str, dict[str, Any]] = {
    "given (baseline)": {**BASE, "outside_normal_hours": False},
    "derived, 1 week": {**BASE, "time_windows": DAYTIME, "start_date": "2026-09-07", "end_date": "2026-09-13"},
    "derived, 4 months": {**BASE, "time_windows": DAYTIME, "start_date": "2026-09-01", "end_date": "2026-12-31"},
    "derived, 12 months": {**BASE, "time_windows": DAYTIME, "start_date": "2026-09-01"},
    "working days, 12 m.": {**BASE, "time_windows": WORKING_DAYS, "start_date": "2026-09-01"},
}
ROUNDS, PER_ROUND = 15, 200


def main() -> None:
    for facts in VARIANTS.values():  # warm up: rule set load, holiday tables per year
        decide("lone_work", facts, on=ON)
    timings: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(ROUNDS):
        for name, facts in VARIANTS.items():
            started = time.perf_counter()
            for _ in range(PER_ROUND):
                decide("lone_work", facts, on=ON)
            timings[name].append((time.perf_counter() - started) / PER_ROUND)
    baseline = statistics.median(timings["given (baseline)"])
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:20} {median * 1e6:8.1f} µs per decision   x{median / baseline:5.2f}")


if __name__ == "__main__":
    main()
