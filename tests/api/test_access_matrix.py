"""Who may see and act (issue #11): every principal x every action on a case, its tasks, comments,
attachments and pages, through the JSON API and the web pages, against the expected allow/deny of each cell.

The case: a kemi lone-work application the AMK reviewed and the leader sent back, so it waits in the
applicant's own revise task. "allowed" means the permission check let the call through (any answer but
401/403/404: a 409 or 422 is the next check refusing bad data); "denied" is 401/403/404 (and, for a link
page, 410). Signed links (valid, expired, revoked, tampered) try the API with their token as a bearer
token, the case pages without a log-in, and their own link page.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest

import processes
from service.links import link_keys

PROCESS = "lone_work_approval"
PASSWORD = "demo-amflow"  # the demo password, also given to the extra people below
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
AMK_REVIEW = {
    "risk_assessment": [{"hazard": "Fire", "consequence": "Burns", "measure": "Check-in calls",
                         "residual_risk": "low"}],
    "mitigations_adequate": True, "amr_consulted": True, "amr_consulted_date": "2026-08-20",
}

# principal -> username (None: anonymous)
PRINCIPALS: dict[str, str | None] = {
    "applicant": "anna", "amk_same": "karl", "amk_other": "eva", "leader_same": "lene", "leader_other": "erik",
    "amr_same": "rasmus", "amr_other": "alma", "colleague": "bo", "hr": "hanne", "cas": "carl",
    "arbejdsmiljo": "ditte", "process_owner": "owen", "admin": "admin", "anonymous": None,
    # signed links to the revise task: their tokens are made in the scene
    "link_valid": "link:valid", "link_expired": "link:expired", "link_revoked": "link:revoked",
    "link_tampered": "link:tampered",
}
EXTRA_PEOPLE = [("alma", ["amr", "employees"], ["energi"]), ("bo", ["employees"], ["kemi"])]

CASE_READERS = {"applicant", "amk_same", "leader_same", "cas", "arbejdsmiljo", "admin"}
REVISE_WORKERS = {"applicant", "admin"}  # the revise task is the applicant's own
REVIEW_READERS = {"amk_same", "admin"}  # the done AMK review: the AMK group of kemi, who did it

# action -> who is allowed
EXPECTED: dict[str, set[str]] = {
    "api: read case": CASE_READERS,
    "api: read open revise task": REVISE_WORKERS,
    "api: queue shows revise task": REVISE_WORKERS,
    "api: queue of the case": REVISE_WORKERS,
    "api: claim revise task": REVISE_WORKERS,
    "api: complete revise task": REVISE_WORKERS,
    "api: unclaim revise task": REVISE_WORKERS,
    "api: read done review task": REVIEW_READERS,
    # done: 409 for the AMK of kemi and admin (allowed past the permission check), 403 for the rest
    "api: complete done review task": {"amk_same", "admin"},
    "api: start a case in kemi": {"applicant", "amk_same", "leader_same", "amr_same", "colleague", "hr", "cas",
                                  "arbejdsmiljo", "admin"},
    "web: case page": CASE_READERS,
    "web: diagram": CASE_READERS,
    "web: revise task page": REVISE_WORKERS,
    "web: attachment download": CASE_READERS,
    "web: add comment": CASE_READERS,
    "web: add attachment": CASE_READERS,
    "web: queue shows revise task": REVISE_WORKERS,
}
# what only a link holder does: open the link page, complete the task through it
LINK_EXPECTED: dict[str, set[str]] = {
    "link: page lists the revise task": {"link_valid"},
    "link: complete the revise task": {"link_valid"},
}


@pytest.fixture
def scene(app, database, api, auth, lone_work_application):
    for username, groups, units in EXTRA_PEOPLE:
        processes.create_user(database, username, password=PASSWORD, name=username.title(),
                              email=f"{username}@example.dtu.dk", groups=groups, units=units)
        auth._tokens[username] = processes.create_token(database, username).token  # not a demo user
    started = api.post("/cases", as_="anna", json={"process": PROCESS, "unit": "kemi",
                                                   "data": lone_work_application()}).get_json()
    review = next(task for task in started["tasks"] if task["name"] == "amk_review")
    reviewed = api.post(f"/tasks/{review['id']}/complete", as_="karl", json={"data": AMK_REVIEW}).get_json()
    approval = next(task for task in reviewed["tasks"] if task["name"] == "leader_approval")
    back = api.post(f"/tasks/{approval['id']}/complete", as_="lene",
                    json={"data": {"decision": "send_back", "reason": "More detail."}}).get_json()
    revise = next(task for task in back["tasks"] if task["name"] == "applicant_revise")
    attachment = processes.add_attachment(database, started["id"], filename="plan.txt", content_type="text/plain",
                                          content=b"plan", actor=processes.get_user(database, "anna"))
    with app.app_context():
        keys = link_keys()
    admin = processes.get_user(database, "admin")

    def link(**kwargs: Any) -> processes.views.LinkView:
        return processes.create_link(database, started["id"], name="Jens", email="jens@firma.dk",
                                     tasks=["applicant_revise"], keys=keys, actor=admin, **kwargs)

    valid = link()
    expired = link(ttl=dt.timedelta(days=1),
                   clock=processes.FixedClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=30)))
    revoked = link()
    processes.revoke_link(database, revoked.id, actor=admin)
    tokens = {"valid": valid.token, "expired": expired.token, "revoked": revoked.token,
              "tampered": valid.token[:-3] + ("A" if valid.token[-3] != "A" else "B") + valid.token[-2:]}
    return {"case": started["id"], "revise": revise["id"], "review": review["id"], "attachment": attachment.id,
            "tokens": tokens}


def _link_token(who: str | None, scene: dict[str, Any]) -> str | None:
    return scene["tokens"][who.split(":", 1)[1]] if who and who.startswith("link:") else None


def _allowed(status: int) -> bool:
    return status not in (401, 403, 404)


def _api_results(api: Any, who: str | None, scene: dict[str, Any], application: dict[str, Any]) -> dict[str, bool]:
    case, revise, review = scene["case"], scene["revise"], scene["review"]
    token = _link_token(who, scene)
    if token is not None:  # a link holder tries its token as a bearer token
        api = _WithHeaders(api, {"Authorization": f"Bearer {token}"})
        who = None

    def status(method: str, path: str, **kwargs: Any) -> bool:
        return _allowed(api.call(method, path, as_=who, **kwargs).status_code)

    def queue_holds(**filters: str) -> bool:
        response = api.get("/tasks", as_=who, query_string=filters)
        return response.status_code == 200 and revise in {t["id"] for t in response.get_json()["items"]}

    return {
        "api: read case": status("GET", f"/cases/{case}"),
        "api: read open revise task": status("GET", f"/tasks/{revise}"),
        "api: queue shows revise task": queue_holds(),
        "api: queue of the case": queue_holds(case_id=case),
        "api: claim revise task": status("POST", f"/tasks/{revise}/claim"),
        "api: complete revise task": status("POST", f"/tasks/{revise}/complete", json={"data": {}}),
        "api: unclaim revise task": status("POST", f"/tasks/{revise}/unclaim"),
        "api: read done review task": status("GET", f"/tasks/{review}"),
        "api: complete done review task": status("POST", f"/tasks/{review}/complete", json={"data": AMK_REVIEW}),
        "api: start a case in kemi": _start_allowed(api, who, application),
    }


class _WithHeaders:
    """The API helper sending extra headers with every call."""

    def __init__(self, api: Any, headers: dict[str, str]) -> None:
        self.api, self.headers = api, headers

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.api.call(method, path, headers=self.headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)


def _start_allowed(api: Any, who: str | None, application: dict[str, Any]) -> bool:
    """Starting is checked with invalid data, so an allowed caller gets 422 and no case is made."""
    response = api.post("/cases", as_=who, json={"process": PROCESS, "unit": "kemi",
                                                 "data": {**application, "applicant_age": "old"}})
    return _allowed(response.status_code)


def _web_results(app: Any, who: str | None, scene: dict[str, Any]) -> dict[str, bool]:
    pages = app.test_client()
    if _link_token(who, scene) is not None:
        who = None  # a link holder has no log-in: the case pages are closed to them
    if who is not None:
        token = CSRF.search(pages.get("/login").text).group(1)
        login = pages.post("/login", data={"csrf_token": token, "username": who, "password": PASSWORD})
        assert login.status_code == 302
    token = CSRF.search(pages.get("/login", follow_redirects=True).text).group(1)
    case, revise = scene["case"], scene["revise"]

    def status(path: str) -> bool:
        response = pages.get(path)
        return _allowed(response.status_code) and not (who is None and response.status_code == 302)

    def post(path: str, **kwargs: Any) -> bool:
        response = pages.post(path, **kwargs)
        return _allowed(response.status_code) and not (who is None and "/login" in response.location)

    queue = pages.get("/")
    return {
        "web: case page": status(f"/cases/{case}"),
        "web: diagram": status(f"/cases/{case}/diagram.xml"),
        "web: revise task page": status(f"/tasks/{revise}"),
        "web: attachment download": status(f"/cases/{case}/attachments/{scene['attachment']}"),
        "web: add comment": post(f"/cases/{case}/comments", data={"csrf_token": token, "body": "A remark"}),
        "web: add attachment": post(f"/cases/{case}/attachments", content_type="multipart/form-data",
                                    data={"csrf_token": token, "file": (_file(), "note.txt")}),
        "web: queue shows revise task": queue.status_code == 200 and revise in queue.text,
    }


def _link_results(app: Any, who: str | None, scene: dict[str, Any]) -> dict[str, bool]:
    token = _link_token(who, scene)
    assert token is not None
    pages = app.test_client()
    page = pages.get(f"/link/{token}")
    csrf = CSRF.search(pages.get("/login").text).group(1)
    posted = pages.post(f"/link/{token}/tasks/{scene['revise']}", data={"csrf_token": csrf})
    return {
        "link: page lists the revise task": page.status_code == 200 and scene["revise"] in page.text,
        "link: complete the revise task": _allowed(posted.status_code) and posted.status_code != 410,
    }


def _file() -> Any:
    return io.BytesIO(b"a note")


def test_every_principal_and_action_gets_exactly_the_expected_answer(app, api, scene, lone_work_application):
    unexpected_allows, unexpected_denials = [], []
    for principal, who in PRINCIPALS.items():
        results = {**_api_results(api, who, scene, lone_work_application()), **_web_results(app, who, scene)}
        assert set(results) == set(EXPECTED)
        expectations = EXPECTED
        if principal.startswith("link_"):
            results.update(_link_results(app, who, scene))
            expectations = {**EXPECTED, **LINK_EXPECTED}
        for action, allowed in results.items():
            expected = principal in expectations[action]
            if allowed and not expected:
                unexpected_allows.append((principal, action))
            elif expected and not allowed:
                unexpected_denials.append((principal, action))

    assert unexpected_allows == []
    assert unexpected_denials == []
