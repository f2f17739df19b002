"""Liveness and readiness for load balancers and orchestrators; both unauthenticated and cheap.

- `GET /healthz`: the process is alive and answers HTTP. Always 200; touches no database, so a database
  outage does not get healthy web processes restarted.
- `GET /readyz`: this process can do its work. 200 when every check passes, else 503 naming the failing
  checks (in the usual error envelope, one field per failing check):
  `database` (a query answers), `migrations` (the schema is at the newest Alembic revision of this code),
  `worker` (a timer worker started a pass within 3 x AMFLOW_WORKER_INTERVAL, at least 30 s; failing when no
  worker has ever run, since timers and e-mail would then silently stop).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify

import processes
from service.extensions import get_database


def init_health(app: Flask) -> None:
    """`GET /healthz` and `GET /readyz`."""

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="alive")

    @app.get("/readyz")
    def readyz() -> Any:
        checks = processes.readiness(get_database(), worker_interval=current_app.config["WORKER_INTERVAL"])
        failing = {name: check["message"] for name, check in checks.items() if not check["ok"]}
        if not failing:
            return jsonify(status="ready", checks=checks)
        body = {
            "status": "not ready",
            "checks": checks,
            "error": {"code": "not_ready", "message": f"failing checks: {', '.join(failing)}", "fields": failing},
        }
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"
        return response, 503
