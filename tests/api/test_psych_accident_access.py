"""Who reads a psychological work-accident case (issue #14): every principal x every read of the case, its
tasks, comments and attachments, through the JSON API and the web pages, against the expected allow/deny of
each cell; and every allowed read leaves a row in ``case_reads``.

Two cases of anna's (DTU Kemi), both restricted (``sensitivity`` = restricted, ``readers`` = arbejdsmiljo, amk):
- *threat*: a visitor's threat with absence reported later by the leader lene (message), so the EASY report
  waits for DTU Arbejdsmiljø; lene held the follow-up, the AMR of kemi (rasmus) now investigates;
- *harassment*: sexual harassment by the nearest leader lene (C-R9): the leader above (dorthe, DTU) held the
  follow-up and the case is on the confidential HR track (hanne). lene, the reported leader, reads nothing.

"allowed" is any answer but 401/403/404; "denied" is 401/403/404. A contractor's signed link of another case
tries its token as a bearer token and its own link page's task URL on these cases.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import select

import processes
from processes.store.models import CaseRead
from service.links import link_keys

PROCESS = "psych_accident_report"
PASSWORD = "demo-amflow"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
THREAT = {
    "reporter_role": "affected", "personal_injury": True, "what_happened": "A visitor threatened me at the desk.",
    "where": "Building 101", "injury_date": "2026-03-04", "injury_time": "14:30", "event_type": "threat_verbal",
    "perpetrator": "visitor_external", "outside_working_hours": False, "work_related": True, "exposure": "sudden",
    "absence_days_beyond_injury_day": 0, "police_report": False, "psychological_first_aid": True,
}
HARASSMENT = {**THREAT, "event_type": "sexual_harassment", "perpetrator": "leader",
              "perpetrator_is_nearest_leader": True, "perpetrator_username": "lene"}
FOLLOW_UP = {"conversation_held_on": "2026-03-05", "crisis_psychologist_offered": True}

PRINCIPALS: dict[str, str | None] = {
    "affected": "anna", "leader_same": "lene", "leader_above": "dorthe", "amr_same": "rasmus", "amk_same": "karl",
    "amk_other": "eva", "leader_other": "erik", "colleague": "mette", "hr": "hanne", "arbejdsmiljo": "ditte",
    "cas": "carl", "process_owner": "owen", "admin": "admin", "anonymous": None, "link_other_case": "link",
}
# who reads each case (page, API, history, diagram, messages, comments, attachments)
CASE_READERS = {
    "threat": {"affected", "leader_same", "amr_same", "amk_same", "arbejdsmiljo"},
    "harassment": {"affected", "leader_above", "hr", "amk_same", "arbejdsmiljo"},
}
# who reads the case's open task and its done follow-up task (a task: who may work it, or who did it)
OPEN_TASK_READERS = {"threat": {"amr_same"}, "harassment": {"hr"}}
DONE_TASK_READERS = {"threat": {"leader_same"}, "harassment": {"leader_above"}}
READS = ("api: case", "api: history", "api: messages", "api: open task", "api: done follow-up",
         "web: case page", "web: history page", "web: diagram", "web: open task page", "web: attachment")
WRITES = ("web: add comment", "web: add attachment")


def _expected(case: str, action: str) -> set[str]:
    if action.endswith(("open task", "open task page")):
        return OPEN_TASK_READERS[case]
    if action.endswith("done follow-up"):
        return DONE_TASK_READERS[case]
    return CASE_READERS[case]


def _task(case: processes.views.CaseView, name: str) -> Any:
    [task] = [task for task in case.tasks if task.name == name]
    return task


@pytest.fixture
def scene(app, database):
    user = lambda name: processes.get_user(database, name)  # noqa: E731
    threat = processes.start_case(database, process=PROCESS, unit="kemi", data=THREAT, actor=user("anna"))
    follow_up = _task(threat, "follow_up")
    processes.send_message(database, threat.id, "absence", actor=user("lene"),
                           data={"first_absence_day": "2026-03-05", "absence_days_beyond_injury_day": 2})
    threat = processes.complete_task(database, follow_up.id, data=FOLLOW_UP, actor=user("lene"))
    investigation = _task(threat, "investigation")

    harassment = processes.start_case(database, process=PROCESS, unit="kemi", data=HARASSMENT, actor=user("anna"))
    above = _task(harassment, "follow_up")
    assert above.assignee == "dorthe"
    harassment = processes.complete_task(database, above.id, data=FOLLOW_UP, actor=user("dorthe"))
    hr = _task(harassment, "hr_track")

    cases = {}
    for name, case, open_task, done in (("threat", threat, investigation, follow_up),
                                        ("harassment", harassment, hr, above)):
        processes.add_comment(database, case.id, body="I was scared.", actor=user("anna"))
        attachment = processes.add_attachment(database, case.id, filename="note.txt", content_type="text/plain",
                                              content=b"what happened", actor=user("anna"))
        cases[name] = {"case": case.id, "open": open_task.id, "done": done.id, "attachment": attachment.id}

    # a contractor's link to a task of another (unrestricted) case
    other = processes.deploy(database, _one_task_bpmn(), "contractor_note.bpmn", actor=user("owen"))
    assert other.key == "contractor_note"
    started = processes.start_case(database, process="contractor_note", unit="kemi", data={}, actor=user("anna"))
    with app.app_context():
        keys = link_keys()
    link = processes.create_link(database, started.id, name="Jens", email="jens@firma.dk", tasks=["do_it"],
                                 keys=keys, actor=user("anna"))
    return {"cases": cases, "link": link.token}


def _one_task_bpmn() -> bytes:
    return b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="x">
  <bpmn:process id="contractor_note" name="Contractor note" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="employees">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>do_it</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>a</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="do_it" name="Do it"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="assignTo" value="starter" /><spiffworkflow:property name="form" value="free_note" />
    </spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>a</bpmn:incoming>
      <bpmn:outgoing>b</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>b</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="a" sourceRef="start" targetRef="do_it" />
    <bpmn:sequenceFlow id="b" sourceRef="do_it" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _allowed(status: int) -> bool:
    return status not in (401, 403, 404)


class _Reads:
    """The case_reads rows of one case, to tell which of a caller's reads left one."""

    def __init__(self, database: Any, case_id: str) -> None:
        self.database, self.case_id = database, case_id

    def allowed_count(self, actor: str | None) -> int:
        with self.database.read() as session:
            rows = session.scalars(select(CaseRead).where(CaseRead.case_id == self.case_id,
                                                          CaseRead.allowed.is_(True), CaseRead.actor == actor))
            return len(list(rows))


def _api_results(api: Any, who: str | None, token: str | None, ids: dict[str, str],
                 reads: _Reads, unaudited: list[tuple[str, str]]) -> dict[str, bool]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def status(action: str, path: str) -> bool:
        before = reads.allowed_count(who)
        allowed = _allowed(api.call("GET", path, as_=who, headers=headers).status_code)
        if allowed and reads.allowed_count(who) == before:
            unaudited.append((str(who), action))
        return allowed

    case = ids["case"]
    return {
        "api: case": status("api: case", f"/cases/{case}"),
        "api: history": status("api: history", f"/cases/{case}/history"),
        "api: messages": status("api: messages", f"/cases/{case}/messages"),
        "api: open task": status("api: open task", f"/tasks/{ids['open']}"),
        "api: done follow-up": status("api: done follow-up", f"/tasks/{ids['done']}"),
    }


def _web_results(app: Any, who: str | None, token: str | None, ids: dict[str, str],
                 reads: _Reads, unaudited: list[tuple[str, str]]) -> dict[str, bool]:
    pages = app.test_client()
    if who is not None:
        csrf = CSRF.search(pages.get("/login").text).group(1)
        assert pages.post("/login", data={"csrf_token": csrf, "username": who, "password": PASSWORD}).status_code == 302
    csrf = CSRF.search(pages.get("/login", follow_redirects=True).text).group(1)
    case = ids["case"]

    def status(action: str, path: str) -> bool:
        before = reads.allowed_count(who)
        response = pages.get(path)
        allowed = _allowed(response.status_code) and not (who is None and response.status_code == 302)
        if allowed and reads.allowed_count(who) == before:
            unaudited.append((str(who), action))
        return allowed

    def post(path: str, **kwargs: Any) -> bool:
        response = pages.post(path, **kwargs)
        return _allowed(response.status_code) and not (who is None and "/login" in (response.location or ""))

    results = {
        "web: case page": status("web: case page", f"/cases/{case}"),
        "web: history page": status("web: history page", f"/cases/{case}/history"),
        "web: diagram": status("web: diagram", f"/cases/{case}/diagram.xml"),
        "web: open task page": status("web: open task page", f"/tasks/{ids['open']}"),
        "web: attachment": status("web: attachment", f"/cases/{case}/attachments/{ids['attachment']}"),
        "web: add comment": post(f"/cases/{case}/comments", data={"csrf_token": csrf, "body": "A remark"}),
        "web: add attachment": post(f"/cases/{case}/attachments", content_type="multipart/form-data",
                                    data={"csrf_token": csrf, "file": (io.BytesIO(b"x"), "more.txt")}),
    }
    if token is not None:  # the link's own page, aimed at a task of this case
        posted = pages.post(f"/link/{token}/tasks/{ids['open']}", data={"csrf_token": csrf})
        results["web: open task page"] = results["web: open task page"] or (
            _allowed(posted.status_code) and posted.status_code != 410)
    return results


@pytest.mark.parametrize("case_name", ["threat", "harassment"])
def test_only_the_people_on_the_case_read_it_and_every_read_is_audited(app, api, database, scene, case_name):
    ids = scene["cases"][case_name]
    reads = _Reads(database, ids["case"])
    unexpected_allows, unexpected_denials, unaudited = [], [], []
    for principal, who in PRINCIPALS.items():
        token = scene["link"] if who == "link" else None
        username = None if who == "link" else who
        results = {**_api_results(api, username, token, ids, reads, unaudited),
                   **_web_results(app, username, token, ids, reads, unaudited)}
        assert set(results) == set(READS) | set(WRITES)
        for action, allowed in results.items():
            expected = principal in _expected(case_name, action if action in READS else "case")
            if allowed and not expected:
                unexpected_allows.append((principal, action))
            elif expected and not allowed:
                unexpected_denials.append((principal, action))

    assert unexpected_allows == []
    assert unexpected_denials == []
    assert unaudited == []


def test_a_refused_read_of_the_case_leaves_a_refused_row(api, database, scene):
    ids = scene["cases"]["harassment"]

    assert api.get(f"/cases/{ids['case']}", as_="lene").status_code == 403  # the reported leader

    with database.read() as session:
        last = session.scalars(select(CaseRead).where(CaseRead.case_id == ids["case"])
                               .order_by(CaseRead.id.desc()).limit(1)).one()
    assert (last.actor, last.what, last.allowed) == ("lene", "case", False)
