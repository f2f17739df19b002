"""The `amflow` command: serve, db upgrade, deploy, demo, user add, token create."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from gunicorn.app.base import BaseApplication

import processes
from processes.errors import ProcessError
from service import gunicorn_conf
from service.config import ConfigError, load_config

logger = logging.getLogger("amflow")


@contextlib.contextmanager
def _database() -> Iterator[processes.Database]:
    """The configured database, its connections closed when the command ends (or before gunicorn forks)."""
    try:
        settings = load_config()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    database = processes.Database(settings.database_url)
    try:
        yield database
    finally:
        database.dispose()


def _upgrade(database: processes.Database) -> None:
    logger.info("upgrading the database schema")
    database.upgrade()


class _Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn run through its Python API; each worker builds its own app from the environment."""

    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.app_factory = app_factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return self.app_factory()


@click.group()
def cli() -> None:
    """amflow: BPMN case handling for DTU occupational health and safety."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
def serve(host: str, port: int, workers: int) -> None:
    """Upgrade the database, then serve the app with gunicorn."""
    from service import create_app  # noqa: PLC0415 — only `serve` needs Flask loaded

    with _database() as database:
        _upgrade(database)
    _Server(create_app, gunicorn_conf.settings(host=host, port=port, workers=workers)).run()


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    with _database() as database:
        _upgrade(database)
    click.echo("database is up to date", err=True)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def deploy(files: tuple[Path, ...]) -> None:
    """Deploy BPMN files; prints each process key and its version (unchanged files keep theirs)."""
    failed = 0
    with _database() as database:
        for path in files:
            try:
                process = processes.deploy(database, path.read_bytes(), path.name, actor=None)
            except ProcessError as error:
                failed += 1
                click.echo(f"error: {path}: {error.message}", err=True)
                continue
            click.echo(f"{process.key} version {process.version} ({path})")
    if failed:
        raise click.ClickException(f"{failed} of {len(files)} files could not be deployed")


@cli.command()
def demo() -> None:
    """Load the demo organisation, users and processes (idempotent); prints the demo log-ins."""
    with _database() as database:
        _upgrade(database)
        for username, password, groups, units in processes.load_demo(database):
            click.echo(f"{username}\tpassword={password}\tgroups={','.join(groups)}\tunits={','.join(units)}")


@cli.group()
def user() -> None:
    """Manage local user accounts."""


@user.command("add")
@click.argument("username")
@click.option("--password", required=True, help="The password (hashed with argon2id).")
@click.option("--group", "groups", multiple=True, help="A group code, e.g. amk; repeat for more.")
@click.option("--unit", "units", multiple=True, help="A unit code, e.g. kemi; repeat for more.")
@click.option("--name", default=None, help="Full name (default: the username).")
@click.option("--email", default=None)
def user_add(
    *,
    username: str,
    password: str,
    groups: tuple[str, ...],
    units: tuple[str, ...],
    name: str | None,
    email: str | None,
) -> None:
    """Create a user (or reset an existing one's password, groups and units)."""
    with _database() as database, _domain_errors():
        created = processes.create_user(
            database,
            username,
            password=password,
            name=name or username,
            email=email,
            groups=list(groups),
            units=list(units),
        )
    click.echo(
        f"user {created.username} (groups: {', '.join(created.groups) or '-'}; "
        f"units: {', '.join(created.units) or '-'})"
    )


@cli.group()
def token() -> None:
    """Manage API bearer tokens."""


@token.command("create")
@click.argument("username")
def token_create(username: str) -> None:
    """Create a bearer token for a user; prints only the token."""
    with _database() as database, _domain_errors():
        click.echo(processes.create_token(database, username))


@contextlib.contextmanager
def _domain_errors() -> Iterator[None]:
    """Report an engine error as a one-line message and exit status 1, not a traceback."""
    try:
        yield
    except ProcessError as error:
        raise click.ClickException(_describe(error)) from error


def _describe(error: ProcessError) -> str:
    details = "; ".join(f"{field}: {message}" for field, message in error.fields.items())
    return f"{error.message} ({details})" if details else error.message


def main() -> None:
    """Console-script entry point: log to stderr, then run the command."""
    level = os.environ.get("AMFLOW_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    cli()


if __name__ == "__main__":
    main()
