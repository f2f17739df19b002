"""Two people completing the same task at the same moment: one wins, the other gets 409."""

from __future__ import annotations

import threading

AMK_REVIEW = {
    "risk_assessment": [
        {"hazard": "Fire", "consequence": "Burns", "measure": "Check-in calls", "residual_risk": "low"}
    ],
    "mitigations_adequate": True,
}


def test_two_concurrent_completions_of_one_task_give_one_200_and_one_409(app, api, auth, lone_work_application):
    applicant = auth.user(group="employees", unit="kemi", not_group="amk")
    amk = auth.user(group="amk", unit="kemi")
    case = api.post(
        "/cases", as_=applicant, json={"process": "lone_work_approval", "unit": "kemi", "data": lone_work_application()}
    ).get_json()
    task_id = next(task["id"] for task in case["tasks"] if task["group"] == "amk")
    headers = auth.headers(amk)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def complete() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": AMK_REVIEW}, headers=headers)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=complete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200, 409]
    history = api.get(f"/cases/{case['id']}", as_=amk).get_json()["history"]
    completions = [e for e in history if e["kind"] == "task_completed" and e["detail"].get("task") == "amk_review"]
    assert len(completions) == 1
