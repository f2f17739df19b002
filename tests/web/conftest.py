"""Fixtures of the web-page tests: a browser-like client that logs in and submits forms with their CSRF
token, and cases started through the use cases.

Helpers are offered as fixtures (never imported from a conftest), so the tests work in every pytest
import mode.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import processes
from tests.samples import G2_APPLICATION, one_task_bpmn

DEMO_PASSWORD = "demo-amflow"  # the published demo password of processes/demo.py
PROCESS = "lone_work_approval"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
TASK_ROW = re.compile(r'<tr class="task[^"]*" data-task-id="([^"]+)"')



@dataclass
class Browser:
    """The web pages as a person uses them: log in, follow links, submit forms with their CSRF token."""

    client: FlaskClient

    def csrf_token(self) -> str:
        """The CSRF token a page of this session carries in its forms."""
        page = self.client.get("/login", follow_redirects=True)
        match = CSRF_FIELD.search(page.text)
        assert match, page.text
        return match.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        """Submit a form to `path` as the page would, CSRF token included."""
        return self.client.post(path, data={"csrf_token": self.csrf_token(), **(data or {})}, **kwargs)

    def login(self, username: str, password: str = DEMO_PASSWORD) -> TestResponse:
        """Log in through the log-in form."""
        return self.post("/login", {"username": username, "password": password})

    def in_english(self) -> Browser:
        """Switch the pages to English."""
        assert self.post("/language", {"lang": "en"}).status_code == 302
        return self

    def task_ids(self, path: str = "/", **query: Any) -> list[str]:
        """The ids of the task rows a queue page shows, in order."""
        page = self.client.get(path, query_string=query)
        assert page.status_code == 200, page.text
        return TASK_ROW.findall(page.text)


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    """A fresh web session (not logged in)."""
    return Browser(client)


@pytest.fixture
def start_case(database: processes.Database) -> Callable[..., list[processes.TaskView]]:
    """Start lone-work cases for the unit's employee; returns the open tasks of the new cases."""

    def start(unit: str, count: int = 1, applicant: str | None = None) -> list[processes.TaskView]:
        actor = processes.get_user(database, applicant or {"kemi": "anna", "energi": "emil"}[unit])
        tasks: list[processes.TaskView] = []
        for _ in range(count):
            case = processes.start_case(database, process=PROCESS, unit=unit,
                                        data=copy.deepcopy(G2_APPLICATION), actor=actor)
            tasks.extend(case.tasks)
        return tasks

    return start


DUE_TASK_BPMN = one_task_bpmn("web_due_task", name="A task due in a day", lane="amk", task_id="check",
                              task_name="Check the room", task_properties={"dueIn": "P1D"})


@pytest.fixture
def start_due_task(database: processes.Database) -> Callable[..., processes.TaskView]:
    """Start a one-task case (lane amk, due a day after it starts) for a unit, started at `at`."""
    owner = processes.get_user(database, "owen")
    processes.deploy(database, DUE_TASK_BPMN, "web_due_task.bpmn", actor=owner)

    def start(unit: str, at: datetime) -> processes.TaskView:
        actor = processes.get_user(database, "karl" if unit == "kemi" else "eva")
        case = processes.start_case(database, process="web_due_task", unit=unit, data={}, actor=actor,
                                    clock=processes.FixedClock(at))
        return case.tasks[0]

    return start
