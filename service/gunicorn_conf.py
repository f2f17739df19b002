"""gunicorn settings of `amflow serve`.

Also usable directly: `gunicorn -c service/gunicorn_conf.py 'service:create_app()'`.
"""

from __future__ import annotations

from typing import Any

bind = "127.0.0.1:5000"
workers = 2
worker_class = "gthread"
threads = 4
# Load the app in each worker after the fork, never in the master: database connections and the
# rules engine (durable-rules is not fork- or thread-safe, see TECH.md) must be created per process.
preload_app = False
timeout = 30
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
proc_name = "amflow"

_SETTINGS = (
    "bind",
    "workers",
    "worker_class",
    "threads",
    "preload_app",
    "timeout",
    "graceful_timeout",
    "accesslog",
    "errorlog",
    "proc_name",
)


def settings(*, host: str, port: int, workers: int) -> dict[str, Any]:
    """The settings above with the address and worker count of the command line."""
    values = {name: globals()[name] for name in _SETTINGS}
    values.update(bind=f"{host}:{port}", workers=workers)
    return values
