"""Sample case data shared by the test suites."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from html import escape
from typing import Any

from processes.clock import SYSTEM_CLOCK, local_date


def days_from_today(days: int) -> str:
    """The ISO date ``days`` from today in Copenhagen (negative: before today).

    For dates that meet the real clock: an approval's ``valid_until`` starts timers (a reminder 30 days
    before it, the expiry at its end) that the engine fires as soon as they are past, so a fixed date would
    make a test pass this month and fail the next. A test on a ``FixedClock`` takes its dates from that clock.
    """
    return (local_date(SYSTEM_CLOCK.now()) + dt.timedelta(days=days)).isoformat()


# A G2 application: risky but controllable lone work (flammable chemicals, nobody within reach, the
# mitigations the lone_work rule set asks for, security informed as the windows are outside normal hours).
# DOMAIN.md B-R1, B-R4, B-R5, B-R11. The dates are around today (started two weeks ago, ending in four months),
# so an approval until the end date is active now and for a while, whenever the suite runs.
G2_APPLICATION: dict[str, Any] = {
    "applicant_name": "Anna Ansat",
    "applicant_role": "employee",
    "applicant_age": 34,
    "applicant_phone": "+45 45 25 25 25",
    "location": {"campus": "Lyngby", "building": "207", "room": "112"},
    "task_description": "Distilling ethanol in a fume hood in the evening.",
    "equipment": "Rotary evaporator",
    "start_date": days_from_today(-14),
    "end_date": days_from_today(120),
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
    "instruction_date": days_from_today(-21),
    "instruction_by": "Karl Koordinator",
}

# The kemi AMK's review of G2_APPLICATION: the risks are counteracted (B-R4, B-R5).
G2_AMK_REVIEW: dict[str, Any] = {
    "risk_assessment": [{"hazard": "Fire from flammable solvent", "consequence": "Burns with nobody near to help",
                         "measure": "Check-in calls every 30 minutes", "residual_risk": "low"}],
    "mitigations_adequate": True,
    "amr_consulted": True,
    "amr_consulted_date": "2026-08-20",  # a past fact: no timer and no rule reads it
}

# The kemi leader's approval of G2_APPLICATION until its end date (B-R9: never past it).
G2_APPROVAL: dict[str, Any] = {
    "decision": "approve", "valid_until": G2_APPLICATION["end_date"], "conditions": "Only weekdays.",
}


def _properties(properties: Mapping[str, str] | None) -> str:
    """``spiffworkflow:property`` elements, their values escaped as XML attributes (expressions may hold quotes)."""
    return "".join(f'<spiffworkflow:property name="{name}" value="{escape(value, quote=True)}" />'
                   for name, value in (properties or {}).items())


def one_task_bpmn(
    process_id: str = "api_test_process", *, name: str = "API test process", lane: str = "employees",
    task_id: str = "do_it", task_name: str = "Do it", form: str = "free_note",
    task_properties: Mapping[str, str] | None = None, process_properties: Mapping[str, str] | None = None,
    start_form: str | None = None, starter_lane: str | None = None, extra: str = "",
) -> bytes:
    """A small valid BPMN document: start, one user task with ``form`` in one lane named ``lane`` (a group), end.

    ``task_properties`` and ``process_properties`` add ``spiffworkflow:property`` elements (values are escaped
    here); ``start_form`` gives the start event a form; ``starter_lane`` puts the start and the end in a lane of
    their own (the task stays in ``lane``); ``extra`` adds elements to the process as they are.
    """
    process_extensions = (f"<bpmn:extensionElements><spiffworkflow:properties>{_properties(process_properties)}"
                          "</spiffworkflow:properties></bpmn:extensionElements>" if process_properties else "")
    start_extensions = (f"<bpmn:extensionElements><spiffworkflow:properties>{_properties({'form': start_form})}"
                        "</spiffworkflow:properties></bpmn:extensionElements>" if start_form else "")
    if starter_lane is None:
        lanes = f"""<bpmn:lane id="Lane_1" name="{lane}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>{task_id}</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>"""
    else:
        lanes = f"""<bpmn:lane id="Lane_0" name="{starter_lane}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_1" name="{lane}"><bpmn:flowNodeRef>{task_id}</bpmn:flowNodeRef></bpmn:lane>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_{process_id}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{process_id}" name="{escape(name, quote=True)}" isExecutable="true">
    {process_extensions}
    <bpmn:laneSet id="LaneSet_1">
      {lanes}
    </bpmn:laneSet>
    <bpmn:startEvent id="start">{start_extensions}<bpmn:outgoing>to_task</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="{task_id}" name="{escape(task_name, quote=True)}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>{_properties({"form": form, **(task_properties or {})})}</spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>to_task</bpmn:incoming>
      <bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_task" sourceRef="start" targetRef="{task_id}" />
    <bpmn:sequenceFlow id="to_end" sourceRef="{task_id}" targetRef="end" />
    {extra}
  </bpmn:process>
</bpmn:definitions>
""".encode()


def form_pairs(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """JSON data as the name/value pairs a browser posts for our forms."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            pairs += form_pairs(value, name + ".")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for index, row in enumerate(value):
                pairs += form_pairs(row, f"{name}.{index}.")
        elif isinstance(value, list):
            pairs += [(name, "")] + [(name, str(item)) for item in value]
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs
