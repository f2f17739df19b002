"""A throw-away PostgreSQL server for one test run: a new cluster in a temporary folder, on loopback.

`PostgresServer` runs Debian's own `initdb` and `pg_ctl` (no Docker, no mock): the cluster lives in a
folder made for this run, listens on 127.0.0.1 at a free port and on a socket in that folder, trusts only
local connections, and is stopped and deleted when the run ends. Durability is switched off
(`fsync=off`, `synchronous_commit=off`): a crash of a test server loses nothing anyone needs, and every
per-test `CREATE DATABASE` is then cheap.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user (created by
Debian's package) and the folder is handed to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy

INSTALL_HINT = "make test installs it (scripts/install-system-packages); by hand: apt-get install postgresql"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server programs are not installed here."""


def find_bindir() -> Path:
    """The folder of `initdb` and `pg_ctl`: $AMFLOW_PG_BINDIR, the PATH, or Debian's versioned folder."""
    candidates: list[Path] = []
    if os.environ.get("AMFLOW_PG_BINDIR"):
        candidates.append(Path(os.environ["AMFLOW_PG_BINDIR"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True) \
        if Path("/usr/lib/postgresql").is_dir() else []
    candidates.extend(debian)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable(f"PostgreSQL's initdb and pg_ctl were not found; {INSTALL_HINT}")


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throw-away cluster; `url(name)` is the SQLAlchemy URL of one of its databases."""

    folder: Path
    port: int
    bindir: Path
    run_as: str | None

    USER = "postgres"

    def url(self, database: str) -> str:
        """The psycopg 3 URL of `database` on this server."""
        return f"postgresql+psycopg://{self.USER}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> sqlalchemy.Engine:
        """An engine on the maintenance database, in autocommit (CREATE/DROP DATABASE need it)."""
        return sqlalchemy.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT",
                                        poolclass=sqlalchemy.NullPool)

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        argv = list(command)
        if self.run_as:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)

    def start(self) -> None:
        data = self.folder / "data"
        done = self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", self.USER, "--auth=trust",
                         "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        options = " ".join([
            f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-k {self.folder}",
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
            "-c max_connections=300", "-c shared_buffers=128MB", "-c log_min_messages=warning",
            "-c timezone=UTC",
        ])
        done = self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-o", options,
                         "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start")
        if done.returncode != 0:
            log = (self.folder / "server.log").read_text() if (self.folder / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{done.stdout}\n{done.stderr}\n{log}")

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create `name` (a copy of `template` when given) and return its URL."""
        engine = self.admin()
        try:
            with engine.connect() as connection:
                suffix = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"{suffix}')
        finally:
            engine.dispose()
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop `name`, closing whatever connections are left on it."""
        engine = self.admin()
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            engine.dispose()


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throw-away cluster; stop and delete it when the block ends."""
    bindir = find_bindir()
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PostgresServer.USER)
        except KeyError as missing:
            raise PostgresUnavailable(
                f"as root the server runs as the 'postgres' user, which is missing; {INSTALL_HINT}") from missing
        run_as = PostgresServer.USER
    folder = Path(tempfile.mkdtemp(prefix="amflow-pg-"))
    if run_as:
        user = pwd.getpwnam(run_as)
        os.chown(folder, user.pw_uid, user.pw_gid)
    server = PostgresServer(folder=folder, port=_free_port(), bindir=bindir, run_as=run_as)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
