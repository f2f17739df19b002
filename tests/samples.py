"""Sample case data shared by the test suites."""

from __future__ import annotations

from typing import Any

# A G2 application: risky but controllable lone work (flammable chemicals, nobody within reach, the
# mitigations the lone_work rule set asks for, security informed as the windows are outside normal hours).
# DOMAIN.md B-R1, B-R4, B-R5, B-R11.
G2_APPLICATION: dict[str, Any] = {
    "applicant_name": "Anna Ansat",
    "applicant_role": "employee",
    "applicant_age": 34,
    "applicant_phone": "+45 45 25 25 25",
    "location": {"campus": "Lyngby", "building": "207", "room": "112"},
    "task_description": "Distilling ethanol in a fume hood in the evening.",
    "equipment": "Rotary evaporator",
    "start_date": "2026-09-01",
    "end_date": "2026-12-31",
    # Weekday evenings: outside normal hours (B-R11), which the rules derive from the windows and dates.
    "time_windows": [{"days": "weekdays", "from": "18:00", "to": "22:00"}],
    "another_competent_person_within_reach": False,
    "hazards": ["chemicals_flammable"],
    "mitigations": ["check_in_calls", "phone_coverage_checked", "alarm_device", "security_informed"],
    "buddy_name": "Karl Koordinator",
    "buddy_phone": "+45 45 25 00 00",
    "check_in_interval_minutes": 30,
    "alarm_device_id": "ALARM-17",
    "instruction_completed": True,
    "instruction_date": "2026-08-15",
    "instruction_by": "Karl Koordinator",
}
