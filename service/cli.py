"""The `amflow` command: serve, db upgrade, deploy, import-spiffarena, export, demo, user add, group add,
token create/list/revoke."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from gunicorn.app.base import BaseApplication

import processes
from processes.errors import InvalidModel, ProcessError
from service import gunicorn_conf, metrics
from service.config import Config, ConfigError, load_config, logging_settings
from service.links import configure_engine_links
from service.logs import configure_logging

logger = logging.getLogger("amflow")


def _settings() -> Config:
    """The configuration, or a one-line error naming the bad setting."""
    try:
        return load_config()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error


@contextlib.contextmanager
def _database() -> Iterator[processes.Database]:
    """The configured database, its connections closed when the command ends (or before gunicorn forks)."""
    settings = _settings()
    database = processes.Database(settings.database_url)
    configure_engine_links(database, settings.as_flask_config())
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
@click.option("--worker/--no-worker", "with_worker", default=True, show_default=True,
              help="Also run one timer and e-mail worker beside the web processes.")
def serve(host: str, port: int, workers: int, with_worker: bool) -> None:
    """Upgrade the database, then serve the app with gunicorn (and one worker process)."""
    from service import create_app  # noqa: PLC0415 — only `serve` needs Flask loaded

    settings = _settings()
    with _database() as database:
        _upgrade(database)
    # Before anything forks: every process (gunicorn's workers, the timer worker) counts into this folder.
    metrics_dir = None
    if settings.metrics and not os.environ.get(gunicorn_conf.MULTIPROCESS_ENV):
        metrics_dir = gunicorn_conf.fresh_metrics_dir(settings.instance_path)
        os.environ[gunicorn_conf.MULTIPROCESS_ENV] = str(metrics_dir)
    worker_process = subprocess.Popen([sys.executable, "-m", "service", "worker"]) if with_worker else None
    try:
        _Server(create_app, gunicorn_conf.settings(host=host, port=port, workers=workers)).run()
    finally:
        if worker_process is not None:
            worker_process.terminate()
            worker_process.wait(timeout=30)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@cli.command()
@click.option("--once", is_flag=True, help="Process what is due now (or at --now), then exit.")
@click.option("--now", "now_text", default=None, metavar="ISO-8601",
              help="With --once: the instant to process, e.g. 2026-06-16T00:00:00+02:00 (replays a day).")
def worker(once: bool, now_text: str | None) -> None:
    """Fire due BPMN timers and deliver the e-mail outbox, in a loop (or once)."""
    if now_text is not None and not once:
        raise click.UsageError("--now only goes with --once")
    clock = _clock_at(now_text) if now_text else processes.SYSTEM_CLOCK
    try:
        settings = load_config()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    with _database() as database:
        _upgrade(database)
        if once:
            click.echo(_summary(processes.run_pass(database, clock=clock, smtp_url=settings.smtp_url,
                                                   mail_from=settings.mail_from,
                                                   webhook_targets=settings.webhook_urls)))
            return
        _loop(database, settings)


def _clock_at(text: str) -> processes.FixedClock:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO-8601 date and time", param_hint="--now") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give a time zone: Z or an offset such as +02:00", param_hint="--now")
    return processes.FixedClock(moment)


def _summary(result: processes.WorkerPass) -> str:
    timers, mail = result.timers, result.mail
    return (f"timers fired={timers.fired} retried={timers.retried} incidents={timers.incidents}; "
            f"mail sent={mail.sent} logged={mail.logged} retried={mail.retried} failed={mail.failed}; "
            f"cases started={result.starts.started} failed={result.starts.failed}; "
            f"cases erased={result.erasures.erased}; "
            f"notifications deleted inbox={result.purged.inbox} mail={result.purged.outbox}; "
            f"webhooks delivered={result.webhooks.delivered} retried={result.webhooks.retried} "
            f"failed={result.webhooks.failed} skipped={result.webhooks.skipped}")


def _loop(database: processes.Database, settings: Config) -> None:
    interval = settings.worker_interval
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    logger.info("worker started (every %.1f s)", interval)
    while not stopping.is_set():
        try:
            result = processes.run_pass(database, clock=processes.SYSTEM_CLOCK, smtp_url=settings.smtp_url,
                                        mail_from=settings.mail_from, webhook_targets=settings.webhook_urls)
            metrics.count_steps("timer", result.timers.fired)
            if result.timers.fired or result.mail.sent or result.mail.failed:
                logger.info(_summary(result))
        except Exception:  # a pass that fails must not end the worker; it is logged and retried
            logger.exception("worker pass failed")
        stopping.wait(interval)
    logger.info("worker stopped")


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
                _echo_problems(error, path)
                continue
            except OSError as error:
                failed += 1
                click.echo(f"error: {path}: cannot be read: {error.strerror}", err=True)
                continue
            click.echo(f"{process.key} version {process.version} ({path})")
    if failed:
        raise click.ClickException(f"{failed} of {len(files)} files could not be deployed")


def _echo_problems(error: ProcessError, path: Path) -> None:
    """One ``error:`` line per problem of a model that cannot be deployed."""
    problems = error.problems if isinstance(error, InvalidModel) else (error.message,)
    for problem in problems:
        click.echo(f"error: {path}: {problem}", err=True)


def _lane_mapping(values: tuple[str, ...]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in values:
        lane, sep, group = value.partition("=")
        if not sep or not lane.strip() or not group.strip():
            raise click.BadParameter(f"{value!r} is not LANE=GROUP", param_hint="--map-lane")
        mapping[lane.strip()] = group.strip()
    return mapping


@cli.command("import-spiffarena")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--map-lane", "lane_map", multiple=True, metavar="LANE=GROUP",
              help="Give the lane LANE's tasks to group GROUP (repeat for more); other lanes name groups.")
def import_spiffarena(folder: Path, lane_map: tuple[str, ...]) -> None:
    """Import a SpiffArena process model folder (process_model.json, its .bpmn, *-schema.json and
    *-uischema.json files) unchanged, as the next version of its process."""
    lanes = _lane_mapping(lane_map)
    with _database() as database:
        _upgrade(database)
        try:
            process = processes.import_spiffarena(database, folder, actor=None, lanes=lanes)
        except ProcessError as error:
            _echo_problems(error, folder)
            raise click.ClickException(f"{folder} could not be imported") from None
    click.echo(f"{process.key} version {process.version} ({folder})")


@cli.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def export(folder: Path) -> None:
    """Write the newest deployed version of every process to FOLDER (its .bpmn, and its forms and rule data
    under forms/ and rules/), so changes made in the modeler can be committed."""
    with _database() as database:
        _upgrade(database)
        for path in processes.modeler.export(database, folder):
            click.echo(str(path))


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
def group() -> None:
    """Manage the groups BPMN lanes name."""


@group.command("add")
@click.argument("code")
@click.option("--name", default=None, help="The group's name (default: the code).")
def group_add(code: str, name: str | None) -> None:
    """Create a group (or rename an existing one); users join it with `amflow user add --group CODE`."""
    with _database() as database, _domain_errors():
        _upgrade(database)
        created, group_name = processes.add_group(database, code, name=name or code, actor=None)
    click.echo(f"group {created} ({group_name})")


@cli.group()
def token() -> None:
    """Manage API bearer tokens."""


@token.command("create")
@click.argument("username")
def token_create(username: str) -> None:
    """Create a bearer token for a user (it lives AMFLOW_TOKEN_TTL seconds); prints only the token."""
    ttl = timedelta(seconds=_settings().token_ttl)
    with _database() as database, _domain_errors():
        click.echo(processes.create_token(database, username, ttl=ttl).token)


@token.command("list")
@click.argument("username")
def token_list(username: str) -> None:
    """List a user's unexpired tokens: id, created, expires."""
    with _database() as database, _domain_errors():
        processes.get_user(database, username)
        admin = processes.UserView(username="console", name="console", email=None, groups=["admins"], units=[])
        for item in processes.list_tokens(database, username, actor=admin):
            click.echo(f"{item.id}\tcreated={item.created_at.isoformat()}\texpires={item.expires_at.isoformat()}")


@token.command("revoke")
@click.argument("username")
@click.argument("token_id", required=False, type=int)
@click.option("--all", "revoke_all", is_flag=True,
              help="Revoke every API token of the user and end all their web sessions.")
def token_revoke(username: str, token_id: int | None, revoke_all: bool) -> None:
    """Revoke one token of a user (TOKEN_ID, see `token list`), or --all of them and their web log-ins."""
    if revoke_all == (token_id is not None):
        raise click.UsageError("give either a TOKEN_ID or --all")
    with _database() as database, _domain_errors():
        if token_id is not None:
            processes.revoke_token(database, token_id, actor=None, owner=username)
            click.echo(f"revoked token {token_id} of {username}")
        else:
            count = processes.revoke_all(database, username, actor=None)
            click.echo(f"revoked {count} tokens and sessions of {username}")


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
    try:
        level, log_format = logging_settings()
    except ConfigError as error:
        sys.exit(f"Error: {error}")
    configure_logging(level, log_format)
    cli()


if __name__ == "__main__":
    main()
