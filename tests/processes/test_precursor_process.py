"""Drug-precursor reporting (issue #16): a campaign over five units with a moved clock.

kemi and energi answer early, fysik declares none, food is reminded (14 and 3 days before) and answers late
through its leader after the escalation, compute is escalated and still open when the board is read. The
annual reports reconcile (energi's is sent back for a discrepancy and corrected); the consolidated table,
its CSV and its XLSX carry the totals per substance.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from processes import (
    CaseStatus,
    Database,
    FixedClock,
    case_board,
    case_table,
    complete_task,
    create_user,
    deploy,
    errors,
    fire_due_starts,
    fire_due_timers,
    start_case,
)
from processes.store.models import Notification, TaskRecord
from service.exports import to_csv, to_xlsx

BPMN = Path(__file__).resolve().parents[2] / "bpmn" / "precursor_reporting.bpmn"
UNITS = ["kemi", "energi", "fysik", "food", "compute"]


def at(month: int, day: int, hour: int = 10) -> FixedClock:
    return FixedClock(dt.datetime(2026, month, day, hour, tzinfo=dt.UTC))


def open_task(db: Database, case_id: str, name: str, unit: str) -> str:
    with db.read() as session:
        return session.scalars(select(TaskRecord.id).where(
            TaskRecord.case_id == case_id, TaskRecord.name == name, TaskRecord.unit == unit,
            TaskRecord.status.in_(["ready", "claimed"]))).one()


def open_tasks(db: Database, case_id: str, name: str) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(TaskRecord.id).where(
            TaskRecord.case_id == case_id, TaskRecord.name == name,
            TaskRecord.status.in_(["ready", "claimed"])).order_by(TaskRecord.created_at, TaskRecord.id)))


def states(db: Database, case_id: str, actor, clock: FixedClock) -> dict[str, str]:
    return {row.unit: row.state for row in case_board(db, case_id, actor=actor, clock=clock).rows}


def mails(db: Database, template: str) -> list[tuple[str | None, str | None]]:
    with db.read() as session:
        return sorted(session.execute(select(Notification.recipient_group, Notification.unit)
                                      .where(Notification.template == template)).all())


def report(substance: str, unit: str, opening: float, purchases: list[tuple[str, float]], consumption: float,
           supplied: list[tuple[str, float]], disposed: float, closing: float, **extra) -> dict:
    return {"substance": substance, "quantity_unit": unit, "opening_stock": opening,
            "purchases": [{"supplier": name, "quantity": q} for name, q in purchases], "consumption": consumption,
            "supplied": [{"recipient": name, "country": "DK", "quantity": q} for name, q in supplied],
            "disposed": disposed, "closing_stock": closing, **extra}


@pytest.fixture
def people(db: Database, owner):
    deploy(db, BPMN.read_bytes(), BPMN.name, actor=owner)
    found = {"pia": create_user(db, "pia", password="pia-password", groups=["precursor-coordinator"], units=[],
                                email="pia@example.dtu.dk")}
    for unit in UNITS:
        found[f"amk-{unit}"] = create_user(db, f"amk-{unit}", password="amk-password", groups=["amk"],
                                           units=[unit], email=f"amk-{unit}@example.dtu.dk")
        found[f"leader-{unit}"] = create_user(db, f"leader-{unit}", password="leader-password",
                                              groups=["leaders"], units=[unit], email=f"leader-{unit}@example.dtu.dk")
        found[f"contact-{unit}"] = create_user(db, f"contact-{unit}", password="contact-password",
                                               groups=["employees"], units=[unit])
    return found


def test_a_campaign_over_five_units_from_declarations_to_the_consolidated_report(db, people):
    pia = people["pia"]
    case = start_case(db, process="precursor_reporting", unit="cas-ab",
                      data={"reporting_year": 2026, "units": UNITS}, actor=pia, clock=at(3, 2))
    assert case.data["unit_deadline"] == "2026-06-15"  # the parameter precursor.unit_deadline
    assert sorted(task.unit for task in case.tasks) == sorted(UNITS)
    assert {task.group for task in case.tasks} == {"amk"}
    assert set(states(db, case.id, pia, at(3, 2)).values()) == {"open"}

    # kemi and energi answer early; kemi's ephedrine (category 1, no licence) raises a coordinator task
    complete_task(db, open_task(db, case.id, "declare", "kemi"), actor=people["amk-kemi"], clock=at(3, 10), data={
        "handles_precursors": True, "contact_person": "contact-kemi",
        "substances": [{"substance": "108-24-7", "annual_quantity": 20, "quantity_unit": "l"},
                       {"substance": "ephedrine hydrochloride", "annual_quantity": 0.2, "quantity_unit": "kg"}]})
    complete_task(db, open_task(db, case.id, "declare", "energi"), actor=people["amk-energi"], clock=at(3, 12),
                  data={"handles_precursors": True, "contact_person": "contact-energi",
                        "substances": [{"substance": "Acetic anhydride", "annual_quantity": 3, "quantity_unit": "l"}]})
    # fysik: a nil declaration is an answer
    complete_task(db, open_task(db, case.id, "declare", "fysik"), actor=people["amk-fysik"], clock=at(3, 15),
                  data={"handles_precursors": False, "contact_person": "amk-fysik"})
    assert states(db, case.id, pia, at(3, 16)) == {
        "kemi": "answered", "energi": "answered", "fysik": "answered", "food": "open", "compute": "open"}
    (action,) = open_tasks(db, case.id, "coordinator_action")
    complete_task(db, action, actor=pia, clock=at(3, 20),
                  data={"actions_taken": "Ephedrine added to the DTU licence application"})

    # reminders 14 and 3 days before the deadline, to the AMKs of the units that have not answered
    fire_due_timers(db, clock=at(6, 1, 8))  # one wake-up per case: the due timers of its instances fire together
    fire_due_timers(db, clock=at(6, 12, 8))
    assert mails(db, "precursor_reminder") == [("amk", "compute"), ("amk", "compute"), ("amk", "food"),
                                               ("amk", "food")]
    # the deadline day ends: the task goes to the unit's leader, the leader and the coordinator are told
    fire_due_timers(db, clock=at(6, 16, 8))
    assert mails(db, "precursor_escalated") == [("leaders", "compute"), ("leaders", "food"),
                                                ("precursor-coordinator", "compute"),
                                                ("precursor-coordinator", "food")]
    with pytest.raises(errors.Forbidden):  # the AMK's task was taken away
        complete_task(db, open_task(db, case.id, "declare_escalated", "food"), actor=people["amk-food"],
                      data={"handles_precursors": False, "contact_person": "amk-food"})
    complete_task(db, open_task(db, case.id, "declare_escalated", "food"), actor=people["leader-food"],
                  clock=at(6, 17), data={"handles_precursors": True, "contact_person": "contact-food",
                                         "substances": [{"substance": "acetic anhydride", "quantity_unit": "l"}]})
    board = case_board(db, case.id, actor=pia, clock=at(6, 17, 12))
    assert {row.unit: row.state for row in board.rows} == {
        "kemi": "answered", "energi": "answered", "fysik": "answered", "food": "answered_late", "compute": "late"}
    assert board.counts == {"answered": 3, "answered_late": 1, "late": 1, "open": 0}
    with pytest.raises(errors.Forbidden):  # the board is the case's: an AMK of another unit may not read it
        case_board(db, case.id, actor=create_user(db, "amk-wind", password="amk-password", groups=["amk"],
                                                  units=["wind"]))
    complete_task(db, open_task(db, case.id, "declare_escalated", "compute"), actor=people["leader-compute"],
                  clock=at(6, 20), data={"handles_precursors": True, "contact_person": "contact-compute",
                                         "substances": [{"substance": "piperidine", "quantity_unit": "kg"}]})

    # the annual reports, one per substance, by each unit's contact person
    kemi_reports = {"Acetic anhydride": report("Acetic anhydride", "l", 10, [("Merck", 5), ("Sigma", 2.5)], 8,
                                               [], 0.5, 9),
                    "Ephedrine": report("Ephedrine", "kg", 0.2, [], 0.05, [("Spin-out ApS", 0.05)], 0, 0.1)}
    for task_id in open_tasks(db, case.id, "file_report"):
        with db.read() as session:
            row = session.get(TaskRecord, task_id)
            unit, assignee, title = row.unit, row.assignee, row.title
        contact = people[f"contact-{unit}"]
        assert assignee == contact.username
        if unit == "kemi":  # each instance's title names its substance (property title)
            assert title in ("Årsrapport 2026: Acetic anhydride (l)", "Årsrapport 2026: Ephedrine (kg)")
            data = kemi_reports.pop(title.split(": ")[1].split(" (")[0])
        elif unit == "energi":
            unbalanced = report("Acetic anhydride", "l", 4, [("Merck", 2)], 1, [], 0, 4)
            with pytest.raises(errors.InvalidData) as refused:
                complete_task(db, task_id, data=unbalanced, actor=contact, clock=at(7, 1))
            assert set(refused.value.fields) == {"discrepancy_explanation"}
            data = {**unbalanced, "discrepancy_explanation": "Counted twice?"}
        elif unit == "food":
            data = report("Acetic anhydride", "l", 0, [("VWR", 1)], 0.25, [], 0, 0.75)
        else:
            data = report("Piperidine", "kg", 1, [], 0.5, [], 0, 0.5)
        complete_task(db, task_id, data=data, actor=contact, clock=at(7, 1))
    assert kemi_reports == {}

    # the coordinator reviews each unit: energi is sent back for its discrepancy and corrected
    for task_id in open_tasks(db, case.id, "review"):
        with db.read() as session:
            unit = session.get(TaskRecord, task_id).unit
        decision = {"review": "send_back", "review_comment": "Closing stock should be 5 l"} if unit == "energi" \
            else {"review": "accept"}
        complete_task(db, task_id, data=decision, actor=pia, clock=at(7, 2))
    (again,) = open_tasks(db, case.id, "file_report")
    complete_task(db, again, data=report("Acetic anhydride", "l", 4, [("Merck", 2)], 1, [], 0, 5),
                  actor=people["contact-energi"], clock=at(7, 3))
    (last_review,) = open_tasks(db, case.id, "review")
    progress = complete_task(db, last_review, data={"review": "accept"}, actor=pia, clock=at(7, 4))

    # one DTU report per substance and category: per-unit lines and the DTU total
    table = case_table(db, case.id, "consolidated_report", actor=pia)
    assert table.columns == ["substance", "category", "unit", "quantity_unit", "opening_stock", "purchases",
                             "consumption", "supplied", "disposed", "closing_stock"]
    totals = {row[0]: row for row in table.rows if row[2] == "DTU"}
    assert totals["Acetic anhydride"] == ["Acetic anhydride", "2A", "DTU", "l", 14, 10.5, 9.25, 0, 0.5, 14.75]
    assert totals["Ephedrine"] == ["Ephedrine", "1", "DTU", "kg", 0.2, 0, 0.05, 0.05, 0, 0.1]
    assert totals["Piperidine"] == ["Piperidine", "2B", "DTU", "kg", 1, 0, 0.5, 0, 0, 0.5]
    assert sorted(row[2] for row in table.rows if row[0] == "Acetic anhydride") == ["DTU", "energi", "food", "kemi"]
    assert table.rows[-1][2] == "DTU"  # each substance's lines end with its total
    assert progress.data["nil_units"] == ["fysik"]

    lines = list(csv.reader(io.StringIO(to_csv(table))))
    assert lines[0] == table.columns
    assert [line for line in lines if line[0] == "Acetic anhydride" and line[2] == "DTU"] == [
        ["Acetic anhydride", "2A", "DTU", "l", "14", "10.5", "9.25", "0", "0.5", "14.75"]]
    sheet = load_workbook(io.BytesIO(to_xlsx(table))).active
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert cells[0] == table.columns
    dtu = {row[0]: row for row in cells[1:] if row[2] == "DTU"}
    assert dtu["Acetic anhydride"][4:] == [14, 10.5, 9.25, 0, 0.5, 14.75]
    assert dtu["Ephedrine"][9] == 0.1

    # submitted with date and reference; the case archives it and completes
    (submit,) = open_tasks(db, case.id, "submit")
    done = complete_task(db, submit, data={"submitted_on": "2026-07-10", "submission_reference": "TS-2026-0042"},
                         actor=pia, clock=at(7, 10))
    assert done.status == CaseStatus.COMPLETED
    assert done.data["archive"]["submission_reference"] == "TS-2026-0042"


def test_the_yearly_timer_starts_a_campaign_for_every_unit_with_the_default_deadline(db, people):
    assert fire_due_starts(db, clock=FixedClock(dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC))).started == 1
    with db.read() as session:
        units = set(session.scalars(select(TaskRecord.unit).where(TaskRecord.name == "declare")))
    assert {"kemi", "energi", "compute", "wind", "cas-ab"} <= units and "dtu" not in units
    with db.read() as session:
        any_task = session.scalars(select(TaskRecord).where(TaskRecord.name == "declare")).first()
    assert any_task.due_at == dt.datetime(2027, 6, 15, 21, 59, 59, tzinfo=dt.UTC)  # end of 15 June in Copenhagen
