"""Fuzz the JSON API from its own OpenAPI document with schemathesis (issue #9, finding 8).

The app runs in-process (WSGI) on a copy of the demo database, called as the demo admin, who may reach
every operation. For each operation schemathesis sends its examples, its coverage cases (boundary values:
each documented limit, one past it, missing and wrong-typed fields) and a bounded number of generated
requests, valid (positive) and invalid (negative) per the document; once with generated path ids and
once with the ids of a real case, task and rule set, so requests get past "not found" into the code
behind. Every response must be no 5xx, one of the statuses documented for its operation, and match the
documented schema and content type.

Deterministic: Hypothesis is derandomized and keeps no example database, so CI sends the same requests
on every run. Failures are collected, not raised at the first, so one run lists them all. The run prints
how many operations and requests it covered.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.generation.overrides import Override

import processes
from tests.samples import G2_APPLICATION

MAX_EXAMPLES = 100  # generated requests per operation and set of ids at most; the coverage cases come on top
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    negative_data_rejection,  # what the document forbids is refused (a 4xx) ...
    positive_data_acceptance,  # ... and what it allows gets past the syntax checks (statuses below)
]
# Statuses a request valid per the document may still get: unknown ids, no right to act, a conflict, the
# log-in throttle (the fuzzer guesses passwords, so it is soon refused: that is the throttle working).
ACCEPTED = ["2xx", "401", "403", "404", "409", "429"]
# Operations whose valid request may still not fit what the document cannot describe: a form's data
# (its JSON Schema depends on the task), the facts a rule set takes, a BPMN file, a queue cursor, a user or
# unit that does not exist, a date range whose ends are swapped, a filter on a field the process does not
# list, a migration to a version not newer, an empty file. Their 422 names the field and says so.
SEMANTIC_422 = (
    "start_case", "complete_task", "run_decision", "deploy_process", "list_tasks", "create_link",
    "list_cases",  # GET /cases: created_from after created_to
    "list_process_cases",  # GET /processes/{key}/cases: a `where` field the process does not list
    "create_start_link", "assign_task", "add_attachment", "save_draft", "deploy", "migrate",
    "import_model",  # POST /modeler/imports: files that are not a SpiffArena model folder
)
CONFIG = {
    "generation": {"mode": "all", "deterministic": True},  # positive and negative; Hypothesis derandomized
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
    "operations": [
        {
            "include-operation-id": name,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
        }
        for name in SEMANTIC_422
    ],
}
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # a fixed seed per test: the same requests on every run
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each failure is recorded as it was sent
    suppress_health_check=list(HealthCheck),
)
MODES = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]


@pytest.fixture
def real_ids(api, auth, database) -> dict[str, Any]:
    """The ids of a running lone-work case, its open task, the lone-work rule set, a spare API token of
    another user (not the admin's own: revoking it must not end the run) and a signed link to the case."""
    applicant = auth.user(group="employees", unit="kemi")
    started = api.post(
        "/cases",
        as_=applicant,
        json={"process": "lone_work_approval", "unit": "kemi", "data": copy.deepcopy(G2_APPLICATION)},
    )
    assert started.status_code == 201, started.get_json()
    case = started.get_json()
    link = api.post(f"/cases/{case['id']}/links", as_="admin",
                    json={"name": "Fuzz", "tasks": [case["tasks"][0]["name"]]})
    assert link.status_code == 201, link.get_json()
    spare = processes.create_token(database, applicant)
    return {"case_id": case["id"], "task_id": case["tasks"][0]["id"], "ruleset": "lone_work",
            "token_id": spare.id, "link_id": link.get_json()["id"], "name": "a message the case does not wait for",
            "key": "lone_work_approval", "version": 1, "process": "psych_accident_report", "form": "free_note",
            "code": "amk", "attachment_id": 1, "notice_id": 1}


@pytest.mark.slow
def test_the_api_answers_generated_requests_as_documented(app, auth, database, real_ids, capsys):
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    headers = auth.headers("admin")
    requests: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: dict[str, str] = {}

    def call(case: schemathesis.Case) -> None:
        requests[case.operation.label] += 1
        own = headers
        if case.operation.label == "POST /api/v1/auth/logout":  # it revokes the token it is sent with
            own = {"Authorization": f"Bearer {processes.create_token(database, 'admin').token}"}
        try:
            response = case.call_and_validate(headers=own, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as error:  # a failed check: keep the first of each kind, go on
            failures.setdefault(f"{case.operation.label}: {str(error).splitlines()[0]}", str(error))
            return
        statuses[response.status_code] += 1

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        path_names = [parameter.name for parameter in operation.path_parameters]
        overrides = [Override()]
        if path_names:
            overrides.append(Override(path_parameters={name: real_ids[name] for name in path_names}))
        for override in overrides:
            test: Any = create_test(
                operation=operation,
                test_func=call,
                config=HypothesisTestConfig(project=schema.config, modes=MODES, settings=SETTINGS, override=override),
            )
            test()

    with capsys.disabled():
        print(
            f"\nschemathesis: {len(operations)} operations, {sum(requests.values())} requests, "
            f"statuses {dict(sorted(statuses.items()))}, {len(failures)} kinds of failure"
        )
    assert {operation.label for operation in operations} >= {"POST /api/v1/cases", "GET /api/v1/tasks"}
    assert not failures, "\n\n".join(f"{key}\n{failure}" for key, failure in failures.items())
    # not vacuous: most requests were answered as the admin, not refused for want of a token
    assert statuses[401] < sum(statuses.values()) / 4, statuses
    assert sum(count for status, count in statuses.items() if status < 300) >= len(operations), statuses
