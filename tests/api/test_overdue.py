"""`GET /api/v1/tasks?overdue=...&due_before=...`: the open tasks past (or before) a due time, as far as the caller
may see them.

The cases run tests/api/bpmn/deadline_process.bpmn: the start form's `details.deadline` (an ISO date) makes the
AMK's follow-up task due at 23:59:59 that day in Copenhagen. The API compares with the system clock, so the
deadlines lie decades in the past or the future.
"""

from __future__ import annotations

import datetime as dt

import pytest

# name: (unit, deadline)
PAST = {
    "kemi_2001": ("kemi", "2001-01-15"), "kemi_2010": ("kemi", "2010-06-30"), "energi_2005": ("energi", "2005-03-01"),
}
FUTURE = {"kemi_2099": ("kemi", "2099-06-30"), "energi_2098": ("energi", "2098-01-01")}
UNDATED = {"kemi_undated": "kemi", "energi_undated": "energi"}


@pytest.fixture
def deadline_tasks(api, auth, bpmn_dir, make_bpmn):
    """Open AMK tasks in kemi and energi: due long ago, due far ahead, and without a due date; name -> task."""
    owner = auth.user(group="process-owners")
    for filename, xml in (
        ("deadline_process.bpmn", (bpmn_dir / "deadline_process.bpmn").read_bytes()),
        ("undated_process.bpmn", make_bpmn(process_id="undated_process", lane="amk")),
    ):
        deployed = api.post("/processes", as_=owner, data=xml, content_type="application/xml",
                            query_string={"filename": filename})
        assert deployed.status_code == 201, deployed.get_json()

    def start(process, unit, data):
        starter = auth.user(group="amk", unit=unit)
        response = api.post("/cases", as_=starter, json={"process": process, "unit": unit, "data": data})
        assert response.status_code == 201, response.get_json()
        [task] = response.get_json()["tasks"]
        return task

    tasks = {
        name: start("deadline_process", unit, {"note": name, "details": {"deadline": deadline}})
        for name, (unit, deadline) in (PAST | FUTURE).items()
    }
    tasks |= {name: start("undated_process", unit, {}) for name, unit in UNDATED.items()}
    return tasks


@pytest.fixture
def kemi_amk(auth):
    return auth.user(group="amk", unit="kemi")


@pytest.fixture
def energi_amk(auth):
    return auth.user(group="amk", unit="energi")


def listed(api, user, tasks, **query):
    """The names of the tasks `user` gets for `query`; the total must agree with the page."""
    response = api.get("/tasks", as_=user, query_string=query)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    names = {task["id"]: name for name, task in tasks.items()}
    assert body["total"] == len(body["items"])
    return {names.get(item["id"], item["id"]) for item in body["items"]}


def test_a_task_is_due_at_the_end_of_its_deadline_day_in_copenhagen(deadline_tasks):
    winter, summer = deadline_tasks["kemi_2001"], deadline_tasks["kemi_2099"]

    assert dt.datetime.fromisoformat(winter["due_at"]) == dt.datetime(2001, 1, 15, 22, 59, 59, tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(summer["due_at"]) == dt.datetime(2099, 6, 30, 21, 59, 59, tzinfo=dt.UTC)
    assert deadline_tasks["kemi_undated"]["due_at"] is None


def test_overdue_true_gives_a_kemi_amk_exactly_the_kemi_tasks_past_their_due_time(api, kemi_amk, deadline_tasks):
    assert listed(api, kemi_amk, deadline_tasks, overdue="true") == {"kemi_2001", "kemi_2010"}


def test_overdue_false_gives_the_kemi_tasks_due_later_or_never(api, kemi_amk, deadline_tasks):
    assert listed(api, kemi_amk, deadline_tasks, overdue="false") == {"kemi_2099", "kemi_undated"}
    assert listed(api, kemi_amk, deadline_tasks) == {"kemi_2001", "kemi_2010", "kemi_2099", "kemi_undated"}


@pytest.mark.parametrize(
    ("due_before", "expected"),
    [
        ("2050-01-01T00:00:00Z", {"kemi_2001", "kemi_2010"}),
        ("2001-01-15T23:00:00Z", {"kemi_2001"}),
        ("2001-01-15T23:59:59+01:00", set()),  # the due time itself is not before it
        ("2001-01-16T00:00:00+01:00", {"kemi_2001"}),
        ("2099-07-01T00:00:00+02:00", {"kemi_2001", "kemi_2010", "kemi_2099"}),  # never a task without a due date
    ],
)
def test_due_before_gives_the_kemi_tasks_due_before_that_instant(api, kemi_amk, deadline_tasks, due_before, expected):
    assert listed(api, kemi_amk, deadline_tasks, due_before=due_before) == expected


def test_overdue_and_due_before_combine(api, kemi_amk, deadline_tasks):
    ahead = "2099-07-01T00:00:00+02:00"

    assert listed(api, kemi_amk, deadline_tasks, overdue="false", due_before=ahead) == {"kemi_2099"}
    assert listed(api, kemi_amk, deadline_tasks, overdue="true", due_before="2005-01-01T00:00:00Z") == {"kemi_2001"}


def test_an_energi_amk_never_sees_a_kemi_task(api, energi_amk, deadline_tasks):
    assert listed(api, energi_amk, deadline_tasks, overdue="true") == {"energi_2005"}
    assert listed(api, energi_amk, deadline_tasks, overdue="false") == {"energi_2098", "energi_undated"}
    assert listed(api, energi_amk, deadline_tasks, due_before="2100-01-01T00:00:00Z") == {"energi_2005", "energi_2098"}
    assert listed(api, energi_amk, deadline_tasks, overdue="true", unit="kemi") == set()


def test_users_outside_the_lane_see_no_overdue_task_and_an_admin_sees_all_of_them(api, auth, deadline_tasks):
    kemi_employee = auth.user(group="employees", unit="kemi", not_group="amk")
    kemi_leader = auth.user(group="leaders", unit="kemi", not_group="amk")
    admin = auth.user(group="admins")

    assert listed(api, kemi_employee, deadline_tasks, overdue="true") == set()
    assert listed(api, kemi_leader, deadline_tasks, overdue="true") == set()
    assert listed(api, admin, deadline_tasks, overdue="true") == set(PAST)


def test_a_completed_task_is_no_longer_overdue(api, kemi_amk, deadline_tasks):
    done = api.post(f"/tasks/{deadline_tasks['kemi_2010']['id']}/complete", as_=kemi_amk,
                    json={"data": {"note": "followed up"}})
    assert done.status_code == 200, done.get_json()

    assert listed(api, kemi_amk, deadline_tasks, overdue="true") == {"kemi_2001"}
    assert listed(api, kemi_amk, deadline_tasks, overdue="true", status="completed") == {"kemi_2010"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"due_before": "2050-01-01T00:00:00"}, "due_before"),  # no time zone
        ({"due_before": "2050-01-01"}, "due_before"),
        ({"due_before": "next week"}, "due_before"),
        ({"overdue": "perhaps"}, "overdue"),
    ],
    ids=["naive datetime", "date only", "not a date", "not a boolean"],
)
def test_a_bad_filter_is_refused_naming_the_field(api, kemi_amk, deadline_tasks, query, field):
    response = api.get("/tasks", as_=kemi_amk, query_string=query)

    assert response.status_code in {400, 422}, response.get_json()
    assert field in response.get_json()["error"]["fields"]
