"""Signed links for people without an account (issue #11): scoped to one case and its named tasks,
expiring, revocable, renewable, tamper-proof, throttled; their actions are in the history by name."""

from __future__ import annotations

import datetime as dt
import re

import pytest

import processes
from service.links import link_keys

PROCESS = "lone_work_approval"
AMK_REVIEW = {
    "risk_assessment": [{"hazard": "Fire", "consequence": "Burns", "measure": "Check-in calls",
                         "residual_risk": "low"}],
    "mitigations_adequate": True,
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def two_cases(api, lone_work_application):
    """Two kemi applications waiting in the AMK review: (case A, its review task), (case B, its review task)."""
    found = []
    for _ in range(2):
        started = api.post("/cases", as_="anna", json={"process": PROCESS, "unit": "kemi",
                                                       "data": lone_work_application()}).get_json()
        found.append((started["id"], next(t for t in started["tasks"] if t["name"] == "amk_review")["id"]))
    return found


@pytest.fixture
def link_a(api, two_cases):
    case_a, _task = two_cases[0]
    response = api.post(f"/cases/{case_a}/links", as_="karl",
                        json={"name": "Jens Entreprenør", "email": "jens@firma.dk", "tasks": ["amk_review"],
                              "ttl_days": 7, "language": "en"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _post_form(client, path, data):
    token = CSRF.search(client.get(path.split("/tasks/")[0]).text).group(1)
    return client.post(path, data={"csrf_token": token, **data})


def test_the_link_page_shows_the_granted_task_and_nothing_else_of_the_case(client, link_a, two_cases):
    page = client.get(f"/link/{link_a['token']}")

    assert page.status_code == 200
    assert 'data-testid="link-page"' in page.text
    assert two_cases[0][1] in page.text  # the granted task
    assert "Anna Ansat" not in page.text  # the applicant's name is case data, not granted
    assert two_cases[1][1] not in page.text
    assert 'name="viewport"' in page.text


def test_what_the_link_does_is_in_the_history_as_link_for_the_person(client, api, database, link_a, two_cases):
    case_a, review_a = two_cases[0]
    path = f"/link/{link_a['token']}/tasks/{review_a}"
    token = CSRF.search(client.get(f"/link/{link_a['token']}").text).group(1)
    form = {"csrf_token": token, "risk_assessment.0.hazard": "Fire", "risk_assessment.0.consequence": "Burns",
            "risk_assessment.0.measure": "Calls", "risk_assessment.0.residual_risk": "low",
            "mitigations_adequate": "true"}

    response = client.post(path, data=form)

    assert response.status_code == 303, response.text
    history = api.get(f"/cases/{case_a}", as_="anna").get_json()["history"]
    completed = [entry for entry in history if entry["kind"] == "task_completed"]
    assert completed[-1]["actor"] == "link for Jens Entreprenør"


def _keys(client):
    with client.application.app_context():
        return link_keys()


def test_a_link_for_case_a_can_neither_read_nor_work_case_b(client, api, database, link_a, two_cases):
    case_b, review_b = two_cases[1]
    grant = processes.grant_for(database, link_a["token"], keys=_keys(client))

    with pytest.raises(processes.errors.Forbidden):
        processes.get_case(database, case_b, actor=grant)
    with pytest.raises(processes.errors.Forbidden):  # nor case A itself: the page shows its tasks only
        processes.get_case(database, link_a["case_id"], actor=grant)
    with pytest.raises(processes.errors.Forbidden):
        processes.get_task(database, review_b, actor=grant)
    with pytest.raises(processes.errors.Forbidden):
        processes.complete_task(database, review_b, data=AMK_REVIEW, actor=grant)
    token = CSRF.search(client.get(f"/link/{link_a['token']}").text).group(1)
    assert client.post(f"/link/{link_a['token']}/tasks/{review_b}",
                       data={"csrf_token": token, "mitigations_adequate": "true"}).status_code == 403
    assert api.get(f"/cases/{case_b}", as_=None, headers={"Authorization": f"Bearer {link_a['token']}"}
                   ).status_code == 401


def test_a_link_reads_no_comments_and_no_attachments(client, database, link_a, two_cases):
    grant = processes.grant_for(database, link_a["token"], keys=_keys(client))

    with pytest.raises(processes.errors.Forbidden):
        processes.list_comments(database, two_cases[0][0], actor=grant)
    with pytest.raises(processes.errors.Forbidden):
        processes.list_attachments(database, two_cases[0][0], actor=grant)
    with pytest.raises(processes.errors.Forbidden):
        processes.add_comment(database, two_cases[0][0], body="hello", actor=grant)


@pytest.mark.parametrize("position", [0, 5, -1, -10])
def test_changing_one_character_gives_the_refused_page(client, link_a, position):
    token = link_a["token"]
    changed = token[position] if position >= 0 else token[len(token) + position]
    replacement = "A" if changed != "A" else "B"
    index = position if position >= 0 else len(token) + position
    tampered = token[:index] + replacement + token[index + 1:]

    page = client.get(f"/link/{tampered}")

    assert page.status_code in (404, 410)
    assert 'data-testid="link-refused"' in page.text


def test_a_revoked_link_is_refused_and_a_renewed_one_works_with_its_new_token_only(client, api, link_a):
    assert api.post(f"/links/{link_a['id']}/revoke", as_="karl").status_code == 200
    refused = client.get(f"/link/{link_a['token']}")
    assert refused.status_code == 410
    assert 'data-reason="revoked"' in refused.text

    renewed = api.post(f"/links/{link_a['id']}/renew", as_="karl", json={"ttl_days": 3})

    assert renewed.status_code == 200
    assert client.get(f"/link/{renewed.get_json()['token']}").status_code == 200
    assert client.get(f"/link/{link_a['token']}").status_code == 410


def test_an_expired_link_is_refused(client, database, two_cases):
    case_a, _review = two_cases[0]
    long_ago = processes.FixedClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    link = processes.create_link(database, case_a, name="Old", email="old@firma.dk", tasks=["amk_review"],
                                 ttl=dt.timedelta(days=1), keys=_keys(client),
                                 actor=processes.get_user(database, "karl"), clock=long_ago)

    page = client.get(f"/link/{link.token}")

    assert page.status_code == 410
    assert 'data-reason="expired"' in page.text


@pytest.mark.parametrize("who", ["eva", "erik", "anna", "carl", "lene"])
def test_only_the_case_handlers_manage_its_links(api, link_a, two_cases, who):
    case_a, _review = two_cases[0]

    assert api.post(f"/cases/{case_a}/links", as_=who, json={"name": "X", "tasks": ["amk_review"]}
                    ).status_code == 403
    assert api.post(f"/links/{link_a['id']}/revoke", as_=who).status_code == 403
    assert api.post(f"/links/{link_a['id']}/renew", as_=who, json={}).status_code == 403
    assert api.get(f"/cases/{case_a}/links", as_=who).status_code == 403


def test_a_link_names_only_tasks_of_its_case(api, two_cases):
    case_a, _review = two_cases[0]

    response = api.post(f"/cases/{case_a}/links", as_="karl", json={"name": "X", "tasks": ["no_such_task"]})

    assert response.status_code == 422
    assert "tasks" in response.get_json()["error"]["fields"]


def test_guessing_links_is_throttled(client, link_a):
    statuses = [client.get(f"/link/k1.guess{number}").status_code for number in range(40)]

    assert 429 in statuses
