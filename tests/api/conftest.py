"""Fixtures of the API tests: calls as a demo user, BPMN documents to deploy.

Helpers are offered as fixtures (never imported from a conftest), so the tests work in every pytest
import mode.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.samples import G2_APPLICATION, one_task_bpmn

API = "/api/v1"
BPMN_DIR = Path(__file__).parent / "bpmn"


@dataclass
class Api:
    """The JSON API as one demo user or another."""

    client: FlaskClient
    auth: Any  # tests/conftest.py's Auth

    def call(self, method: str, path: str, *, as_: str | None = None, **kwargs: Any) -> TestResponse:
        """Send a request to `/api/v1{path}` with the bearer token of `as_` (none if None)."""
        headers = dict(kwargs.pop("headers", {}))
        if as_ is not None:
            headers.update(self.auth.headers(as_))
        return self.client.open(API + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, *, as_: str | None, **kwargs: Any) -> TestResponse:
        """GET as `as_`."""
        return self.call("GET", path, as_=as_, **kwargs)

    def post(self, path: str, *, as_: str | None, **kwargs: Any) -> TestResponse:
        """POST as `as_`."""
        return self.call("POST", path, as_=as_, **kwargs)

    def open_tasks(self, *, as_: str, **filters: str) -> list[dict[str, Any]]:
        """The caller's task queue (default filters), as a list."""
        response = self.get("/tasks", as_=as_, query_string=filters)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["items"]


@pytest.fixture
def api(client: FlaskClient, auth: Any) -> Api:
    """Call the API as a demo user."""
    return Api(client, auth)


@pytest.fixture
def people(auth: Any) -> dict[str, str]:
    """Demo users by their role in the lone-work flow, found by group and unit (usernames)."""
    return {
        "applicant": auth.user(group="employees", unit="kemi", not_group="amk"),
        "kemi_amk": auth.user(group="amk", unit="kemi"),
        "kemi_leader": auth.user(group="leaders", unit="kemi"),
        "other_amk": auth.user(group="amk", unit="energi"),
    }


@pytest.fixture
def bpmn_dir() -> Path:
    """The folder of the API tests' own BPMN files."""
    return BPMN_DIR


@pytest.fixture
def make_bpmn() -> Any:
    """Build a small BPMN document; see `tests.samples.one_task_bpmn`."""
    return one_task_bpmn


@pytest.fixture
def lone_work_application() -> Any:
    """Start-form data of a lone-work application, G2 unless changed: `lone_work_application(hazards=[])`."""

    def build(**changes: Any) -> dict[str, Any]:
        return {**copy.deepcopy(G2_APPLICATION), **changes}

    return build
