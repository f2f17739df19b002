"""The everyday answers (a case, a task with its form) are built without marshmallow's cost per field
(service/api/dumping.py); they must be exactly what the documented schemas dump, on real cases."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from marshmallow import Schema, fields

import processes
from processes.views import IncidentView
from service.api.dumping import tree_dumper
from service.schemas import CaseSchema, TaskDetailSchema

PROCESS = "lone_work_approval"


@pytest.fixture
def started(api, auth, database, lone_work_application):
    """A lone-work case with a decision, an open task with a form, and a few events."""
    applicant = auth.user(group="employees", unit="kemi", not_group="amk")
    response = api.post("/cases", as_=applicant, json={"process": PROCESS, "unit": "kemi",
                                                      "data": lone_work_application()})
    assert response.status_code == 201, response.get_json()
    return response.get_json(), processes.get_user(database, applicant)


def test_a_case_is_dumped_as_its_schema_dumps_it(api, database, started):
    answer, applicant = started
    view = processes.get_case(database, answer["id"], actor=applicant)
    assert view.decisions and view.tasks and view.history  # every nested part is there to compare
    incident = IncidentView(kind="timer", message="failed", at=dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC))
    with_incident = dataclasses.replace(view, incidents=[incident], history_next_cursor="17")

    assert tree_dumper(CaseSchema)(view) == CaseSchema().dump(view)
    assert tree_dumper(CaseSchema)(with_incident) == CaseSchema().dump(with_incident)
    assert api.get(f"/cases/{view.id}", as_=applicant.username).get_json() == CaseSchema().dump(view)


def test_a_task_with_its_form_is_dumped_as_its_schema_dumps_it(api, database, auth, started):
    answer, _applicant = started
    amk = processes.get_user(database, auth.user(group="amk", unit="kemi"))
    task = processes.get_task(database, answer["tasks"][0]["id"], actor=amk)
    assert task.form is not None

    assert tree_dumper(TaskDetailSchema)(task) == TaskDetailSchema().dump(task)
    assert api.get(f"/tasks/{task.id}", as_=amk.username).get_json()["form"]["schema"] == task.form.schema


def test_a_field_whose_dump_it_cannot_repeat_is_refused_when_the_dumper_is_built():
    class Measured(Schema):
        value = fields.Float()

    class Many(Schema):
        cases = fields.Nested(CaseSchema, many=True)

    for schema in (Measured, Many):
        with pytest.raises(TypeError, match="tree_dumper"):
            tree_dumper(schema)
