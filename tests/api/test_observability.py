"""Operating amflow: `/healthz`, `/readyz`, Prometheus `/metrics`, request ids and JSON log lines.

The app runs on a real database (a copy of the demo database); the checks' failures are produced for real
(a database nobody listens on, a schema at an older migration, a stale heartbeat) rather than simulated.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

import processes
from processes.store.models import CaseTimer, Incident, Notification, TaskRecord, utcnow
from processes.worker import record_heartbeat, run_pass
from service import create_app, get_database
from service.config import ConfigError, load_config
from service.logs import JsonFormatter, RequestIdFilter
from tests.served import free_port

TEST_SECRET_KEY = "test-secret-key-not-for-production"
PROCESS = "lone_work_approval"


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """An app on a database of the test's choosing, disposed at the end."""
    made: list[Flask] = []

    def make(database_url: str, **config: Any) -> Flask:
        app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": TEST_SECRET_KEY,
                          "INSTANCE_PATH": str(tmp_path / f"instance-{len(made)}"), **config})
        made.append(app)
        return app

    yield make
    for app in made:
        get_database(app).dispose()


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """`/metrics` parsed by prometheus_client's own parser: {(sample name, sorted labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- /healthz and /readyz ---------------------------------------------------------------------------------


def test_healthz_is_200_even_when_the_database_is_unreachable_and_readyz_names_the_database(make_app):
    app = make_app(f"postgresql+psycopg://amflow@127.0.0.1:{free_port()}/nowhere?connect_timeout=2")
    client = app.test_client()

    alive = client.get("/healthz")
    assert (alive.status_code, alive.get_json()) == (200, {"status": "alive"})

    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.get_json()
    assert body["error"]["code"] == "not_ready"
    assert "database" in body["error"]["fields"]
    assert body["checks"]["database"]["ok"] is False
    assert "127.0.0.1" not in json.dumps(body)  # no connection details leak to an unauthenticated caller


def test_readyz_is_503_naming_the_worker_when_no_worker_has_ever_run(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert list(body["error"]["fields"]) == ["worker"]
    assert "no timer worker has ever run" in body["error"]["fields"]["worker"]
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["migrations"]["ok"] is True


def test_readyz_is_503_with_a_stale_heartbeat_and_200_after_a_worker_pass(client, database, app):
    window = max(30.0, 3 * app.config["WORKER_INTERVAL"])
    record_heartbeat(database, "gone-host:1234", at=utcnow() - dt.timedelta(seconds=window + 5))
    stale = client.get("/readyz")
    assert stale.status_code == 503
    assert list(stale.get_json()["error"]["fields"]) == ["worker"]
    assert stale.get_json()["checks"]["worker"]["age_seconds"] > window

    run_pass(database, clock=processes.SYSTEM_CLOCK, smtp_url=None)  # a real worker pass writes its heartbeat

    fresh = client.get("/readyz")
    assert fresh.status_code == 200, fresh.get_json()
    body = fresh.get_json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "migrations": True, "worker": True}
    assert body["checks"]["worker"]["age_seconds"] < window


def test_the_worker_interval_widens_the_heartbeat_window(make_app, database_url):
    app = make_app(database_url, WORKER_INTERVAL=20)  # 3 x 20 s = 60 s
    record_heartbeat(get_database(app), "slow-host:1", at=utcnow() - dt.timedelta(seconds=45))
    assert app.test_client().get("/readyz").status_code == 200


def _upgrade_to(url: str, revision: str) -> None:
    """Migrate a database only as far as `revision` (as an older release of amflow would have)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(resources.files("processes") / "migrations"))
    database = processes.Database(url)
    try:
        with database.write_engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
    finally:
        database.dispose()


def test_readyz_is_503_naming_migrations_on_a_database_at_an_older_migration(make_app, make_database_url):
    url = make_database_url("old")
    _upgrade_to(url, "0005")
    app = make_app(url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert "migrations" in body["error"]["fields"]
    assert "amflow db upgrade" in body["error"]["fields"]["migrations"]
    assert body["checks"]["migrations"]["current"] == ["0005"]
    assert body["checks"]["database"]["ok"] is True

    get_database(app).upgrade()
    record_heartbeat(get_database(app), "host:1", at=utcnow())
    assert app.test_client().get("/readyz").status_code == 200


# --- /metrics ----------------------------------------------------------------------------------------------


def test_metrics_are_not_served_unless_enabled(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("app_config", [{"METRICS": True}])
def test_metrics_parse_and_count_a_request_by_its_route_not_its_path(client, api, lone_work_application):
    before = scrape(client)
    case = api.post("/cases", as_="anna", json={"process": PROCESS, "unit": "kemi", "data": lone_work_application()})
    assert case.status_code == 201, case.get_json()
    assert api.get(f"/cases/{case.get_json()['id']}", as_="anna").status_code == 200
    assert api.get("/cases/no-such-case", as_="anna").status_code == 404
    after = scrape(client)

    route = "/api/v1/cases/<case_id>"
    requests = "amflow_http_requests_total"
    assert value(after, requests, method="GET", route=route, status="200") == \
        value(before, requests, method="GET", route=route, status="200") + 1
    assert value(after, requests, method="GET", route=route, status="404") == \
        value(before, requests, method="GET", route=route, status="404") + 1
    assert not any(dict(labels).get("route", "").endswith("no-such-case") for _, labels in after)
    count = "amflow_http_request_duration_seconds_count"
    assert value(after, count, method="GET", route=route) == value(before, count, method="GET", route=route) + 2
    assert value(after, "amflow_http_request_duration_seconds_bucket", method="GET", route=route, le="+Inf") == \
        value(after, count, method="GET", route=route)
    assert value(after, "amflow_engine_steps_total", kind="start") == \
        value(before, "amflow_engine_steps_total", kind="start") + 1


@pytest.mark.parametrize("app_config", [{"METRICS": True}])
def test_completing_a_task_counts_an_engine_step(client, api, lone_work_application):
    case = api.post("/cases", as_="anna", json={"process": PROCESS, "unit": "kemi", "data": lone_work_application()})
    review = next(task for task in case.get_json()["tasks"] if task["group"] == "amk")
    assert api.post(f"/tasks/{review['id']}/claim", as_="karl").status_code == 200
    before = scrape(client)
    done = api.post(f"/tasks/{review['id']}/complete", as_="karl", json={"data": {
        "risk_assessment": [{"hazard": "Fire", "consequence": "Burns", "measure": "Calls", "residual_risk": "low"}],
        "mitigations_adequate": True, "amr_consulted": True, "amr_consulted_date": "2026-08-20"}})
    assert done.status_code == 200, done.get_json()
    after = scrape(client)
    assert value(after, "amflow_engine_steps_total", kind="complete") == \
        value(before, "amflow_engine_steps_total", kind="complete") + 1


@pytest.mark.parametrize("app_config", [{"METRICS": True}])
def test_the_database_gauges_count_what_is_in_the_database(client, api, database, lone_work_application):
    started = [
        api.post("/cases", as_="anna", json={"process": PROCESS, "unit": "kemi", "data": lone_work_application()})
        .get_json() for _ in range(3)
    ]
    first_review = next(task for task in started[0]["tasks"] if task["group"] == "amk")
    assert api.post(f"/tasks/{first_review['id']}/claim", as_="karl").status_code == 200
    now = utcnow()
    with database.write() as session:
        session.add_all([
            CaseTimer(case_id=started[0]["id"], due_at=now - dt.timedelta(minutes=5)),
            CaseTimer(case_id=started[1]["id"], due_at=now + dt.timedelta(hours=1)),
            CaseTimer(case_id=started[2]["id"], due_at=now - dt.timedelta(hours=1), status="incident"),
            Incident(case_id=started[2]["id"], kind="timer", message="it broke", at=now),
            Incident(case_id=started[1]["id"], kind="timer", message="it broke before", at=now,
                     resolved_at=now),
            Notification(case_id=started[0]["id"], template="t", data={}, status="failed"),
            Notification(case_id=started[0]["id"], template="t", data={}, status="sending"),
            Notification(case_id=started[0]["id"], template="t", data={}, status="sent"),
        ])

    samples = scrape(client)

    with database.read() as session:  # counted here the plain way: every row, filtered in Python
        tasks = Counter((row.process_key, row.status) for row in session.scalars(select(TaskRecord))
                        if row.status in ("ready", "claimed"))
        outbox = Counter(row.status for row in session.scalars(select(Notification)))
        incidents = Counter(row.kind for row in session.scalars(select(Incident)) if row.resolved_at is None)
    assert tasks[(PROCESS, "ready")] >= 2 and tasks[(PROCESS, "claimed")] == 1
    for (process, status), count in tasks.items():
        assert value(samples, "amflow_open_tasks", process=process, status=status) == count
    assert sum(v for (name, _), v in samples.items() if name == "amflow_open_tasks") == sum(tasks.values())
    assert value(samples, "amflow_timers_due") == 1  # the scheduled one in the past; not the future or incident
    for status in ("pending", "sending", "failed"):
        assert value(samples, "amflow_outbox_messages", status=status) == outbox[status]
    assert outbox["pending"] >= 1 and outbox["sending"] == 1 and outbox["failed"] == 1
    assert value(samples, "amflow_open_incidents", kind="timer") == incidents["timer"] == 1
    assert value(samples, "amflow_database_up") == 1
    assert ("amflow_worker_heartbeat_age_seconds", ()) not in samples  # no worker has run

    record_heartbeat(database, "host:7", at=utcnow() - dt.timedelta(seconds=100))
    assert 100 <= value(scrape(client), "amflow_worker_heartbeat_age_seconds") < 200


def test_importing_the_service_does_not_load_prometheus_client_before_serve_sets_its_folder():
    """prometheus-client picks in-memory or multiprocess values when first imported (see service/metrics.py)."""
    probe = "import sys, service, service.cli; sys.exit('prometheus_client' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


# --- request ids and JSON log lines ----------------------------------------------------------------------


def _json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


@pytest.mark.parametrize("app_config", [{"LOG_FORMAT": "json"}])
def test_every_log_line_of_a_request_carries_the_request_id_the_response_echoes(client, caplog):
    caplog.handler.addFilter(RequestIdFilter())  # as configure_logging puts it on the real handler
    with caplog.at_level(logging.INFO):
        response = client.post("/api/v1/auth/token", json={"username": "anna", "password": "wrong"},
                               headers={"X-Request-Id": "trace-42.a"})
    assert response.status_code == 401
    assert response.headers["X-Request-Id"] == "trace-42.a"
    lines = _json_lines(caplog)
    assert lines, "nothing was logged"
    assert {line["request_id"] for line in lines} == {"trace-42.a"}
    access = [line for line in lines if line["logger"] == "amflow.access"]
    assert len(access) == 1
    assert access[0]["method"] == "POST"
    assert access[0]["route"] == "/api/v1/auth/token"
    assert access[0]["status"] == 401
    assert isinstance(access[0]["duration_ms"], float)

    caplog.clear()
    with caplog.at_level(logging.INFO):
        outside = logging.getLogger("amflow.test")
        outside.info("after the request")
    assert _json_lines(caplog)[0]["request_id"] is None


@pytest.mark.parametrize("app_config", [{"LOG_FORMAT": "json"}])
@pytest.mark.parametrize("given", [None, "", "has spaces", "x" * 129, "quote\"", "tab\tid", "<script>"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_uuid(client, caplog, given):
    caplog.handler.addFilter(RequestIdFilter())
    headers = {} if given is None else {"X-Request-Id": given}
    with caplog.at_level(logging.INFO, logger="amflow.access"):
        response = client.get("/healthz", headers=headers)
    request_id = response.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert [line["request_id"] for line in _json_lines(caplog)] == [request_id]


def test_there_is_no_access_line_from_the_app_in_text_mode(client, caplog):
    with caplog.at_level(logging.INFO, logger="amflow.access"):
        response = client.get("/healthz")
    assert response.headers["X-Request-Id"]
    assert [record for record in caplog.records if record.name == "amflow.access"] == []


@pytest.mark.parametrize(("overrides", "named"), [
    ({"LOG_FORMAT": "xml"}, "AMFLOW_LOG_FORMAT"),
    ({"METRICS": "sometimes"}, "AMFLOW_METRICS"),
])
def test_bad_observability_settings_fail_at_start_up_naming_them(tmp_path, overrides, named):
    with pytest.raises(ConfigError, match=named):
        load_config({"INSTANCE_PATH": str(tmp_path), **overrides})


def test_the_command_line_refuses_a_bad_log_format_in_one_line(tmp_path):
    amflow = Path(sys.executable).parent / "amflow"
    done = subprocess.run([str(amflow), "db", "--help"], capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "AMFLOW_LOG_FORMAT": "yaml",
                               "AMFLOW_INSTANCE_PATH": str(tmp_path)})
    assert done.returncode != 0
    assert "AMFLOW_LOG_FORMAT" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_bench_sql_count_header_is_off_by_default_and_counts_a_requests_sql_when_on(
    database_url, tmp_path, monkeypatch, demo_users
):
    """bench/w1.py reads each request's statements and transactions from X-Amflow-Sql (service/sqlcount.py)."""
    from service import create_app, get_database  # noqa: PLC0415

    password = next(user.password for user in demo_users if user.username == "anna")

    def me_header(name: str) -> str | None:
        app = create_app({"DATABASE_URL": database_url, "TESTING": True, "INSTANCE_PATH": str(tmp_path / name),
                          "SECRET_KEY": "x" * 32})
        try:
            client = app.test_client()
            login = client.post("/api/v1/auth/token", json={"username": "anna", "password": password})
            response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {login.get_json()['token']}"})
            assert response.status_code == 200
            return response.headers.get("X-Amflow-Sql")
        finally:
            get_database(app).dispose()

    assert me_header("off") is None
    monkeypatch.setenv("AMFLOW_BENCH_COUNT_SQL", "1")
    counts = dict(item.split("=") for item in (me_header("on") or "").split())
    assert set(counts) == {"select", "insert", "update", "delete", "other", "begin", "commit", "rollback"}
    assert int(counts["select"]) >= 1 and int(counts["begin"]) >= 1

