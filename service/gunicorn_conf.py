"""gunicorn settings of `amflow serve`.

Also usable directly: `gunicorn -c service/gunicorn_conf.py 'service:create_app()'`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from service.config import ConfigError, logging_settings
from service.logs import gunicorn_logconfig

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _logging_from_environment() -> tuple[str, str]:
    try:
        return logging_settings()
    except ConfigError:  # reported by `amflow` before it serves, and by each worker's create_app
        return "INFO", "text"


_LOG_LEVEL, _LOG_FORMAT = _logging_from_environment()

bind = "127.0.0.1:5000"
workers = 2
worker_class = "gthread"
threads = 4
# Load the app in each worker after the fork, never in the master: database connections and the
# rules engine (durable-rules is not fork- or thread-safe, see TECH.md) must be created per process.
preload_app = False
timeout = 30
graceful_timeout = 20
loglevel = _LOG_LEVEL.lower()
errorlog = "-"
# In JSON mode the app writes its own access line (with the request id); gunicorn's would be a duplicate.
accesslog = None if _LOG_FORMAT == "json" else "-"
logconfig_dict = gunicorn_logconfig(_LOG_LEVEL) if _LOG_FORMAT == "json" else {}
proc_name = "amflow"


def fresh_metrics_dir(instance_path: Path) -> Path:
    """A new, empty folder for prometheus-client's multiprocess files: `instance/metrics/serve-<pid>-...`.

    Folders of servers that are gone (killed before they could clean up) are removed first.
    """
    parent = instance_path / "metrics"
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.glob("serve-*"):
        found = re.fullmatch(r"serve-(\d+)-.*", old.name)
        if found and not _alive(int(found.group(1))):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"serve-{os.getpid()}-", dir=parent))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_starting(server: Any) -> None:
    """Direct `gunicorn -c` use with AMFLOW_METRICS on: the multiprocess folder, before any worker forks."""
    if os.environ.get(MULTIPROCESS_ENV) or os.environ.get("AMFLOW_METRICS", "").lower() not in {"1", "true", "yes",
                                                                                                  "on"}:
        return
    instance = Path(os.environ.get("AMFLOW_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    os.environ[MULTIPROCESS_ENV] = str(fresh_metrics_dir(instance))


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended (or was killed): its live gauges leave the sum; its counters are kept."""
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client import multiprocess  # noqa: PLC0415 — only after the folder is set, see metrics.py

        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(worker.pid)


_SETTINGS = (
    "bind",
    "workers",
    "worker_class",
    "threads",
    "preload_app",
    "timeout",
    "graceful_timeout",
    "loglevel",
    "accesslog",
    "errorlog",
    "logconfig_dict",
    "proc_name",
    "on_starting",
    "child_exit",
)


def settings(*, host: str, port: int, workers: int) -> dict[str, Any]:
    """The settings above with the address and worker count of the command line."""
    values = {name: globals()[name] for name in _SETTINGS}
    values.update(bind=f"{host}:{port}", workers=workers)
    return values
