"""Deploying BPMN files as immutable numbered versions, and the in-memory cache of their parsed specs.

Parsing a diagram costs milliseconds (TECH.md: 6-8 ms for 20 tasks); a request must never pay it. Each
process version is parsed once per process and kept, keyed by its immutable row id.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, defer

import forms
from processes import bundles, bundlesources
from processes.engine.elements import end_statuses
from processes.engine.loader import ParsedProcess, load_process, utf8_xml
from processes.errors import Forbidden, InvalidModel, NotFound
from processes.people.organisation import group_codes
from processes.store.audit import AuditKind, record
from processes.store.db import Database
from processes.store.models import ProcessVersion
from processes.views import ProcessView, UserView

DEPLOYER_GROUPS = frozenset({"process-owners", "admins"})


@dataclass(frozen=True)
class LoadedProcess:
    """A parsed process version plus what the runtime looks up per task."""

    version_id: int
    key: str
    version: int
    parsed: ParsedProcess
    end_statuses: dict[str, str]


class SpecCache:
    """Thread-safe cache of parsed process versions. Versions are immutable, so an entry is never stale.

    Keyed by the database as well as the row id: one process may talk to several databases (tests, a
    migration tool), and row id 1 of one is not row id 1 of another.
    """

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, int], LoadedProcess] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(session: Session, version_id: int) -> tuple[str, int]:
        return str(session.get_bind().engine.url), version_id

    def get(self, session: Session, version_id: int) -> LoadedProcess:
        key = self._key(session, version_id)
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded
        row = session.get(ProcessVersion, version_id)
        if row is None:
            raise NotFound(f"no process version {version_id}")
        loaded = _load(session, row)
        with self._lock:
            return self._loaded.setdefault(key, loaded)

    def put(self, session: Session, row: ProcessVersion, parsed: ParsedProcess) -> None:
        with self._lock:
            self._loaded[self._key(session, row.id)] = LoadedProcess(
                row.id, row.key, row.version, parsed, end_statuses(parsed))

    def clear(self) -> None:
        """Forget every parsed version (as after a restart)."""
        with self._lock:
            self._loaded.clear()


SPEC_CACHE = SpecCache()


def _load(session: Session, row: ProcessVersion) -> LoadedProcess:
    """Parse a stored version as it was deployed: with its bundle's forms and lane mapping."""
    bundle = bundles.for_version(session, row.id)
    parsed = load_process(row.bpmn_xml.encode(), row.filename, groups=group_codes(session),
                          form_exists=bundle.has_form, lanes=bundle.lanes, book=bundle)
    return LoadedProcess(row.id, row.key, row.version, parsed, end_statuses(parsed))


def process_view(row: ProcessVersion, versions: list[int] | None = None) -> ProcessView:
    return ProcessView(
        key=row.key, name=row.name, name_en=row.name_en, version=row.version, deployed_at=row.deployed_at,
        deployed_by=row.deployed_by, start_form=row.start_form, versions=versions or [row.version],
    )


def _store(
    session: Session, xml: bytes, filename: str, parsed: ParsedProcess, *, actor: str | None,
    entries: tuple[bundles.Entry, ...], name: str | None = None, note: str | None = None,
) -> ProcessVersion:
    checksum = hashlib.sha256(xml).hexdigest()
    digest = bundles.bundle_digest(checksum, entries)
    latest = session.scalar(
        select(ProcessVersion).where(ProcessVersion.key == parsed.key).order_by(ProcessVersion.version.desc()).limit(1)
    )
    if latest is not None and latest.checksum == checksum and latest.bundle_digest == digest:
        return latest  # the same file with the same forms, rules and templates again: no new version
    row = ProcessVersion(
        key=parsed.key, version=(latest.version + 1) if latest else 1, name=name or parsed.name, filename=filename,
        name_en=parsed.name_en,
        bpmn_xml=xml.decode("utf-8"), checksum=checksum, start_form=parsed.start_form, deployed_by=actor,
        bundle_digest=digest, change_note=note,
    )
    session.add(row)
    session.flush()
    bundles.store(session, row.id, entries)
    return row


def deploy(
    db: Database, xml: bytes, filename: str, *, actor: UserView | None, sources: bundlesources.Sources | None = None,
    lanes: Mapping[str, str] | None = None, name: str | None = None,
    problems: list[InvalidModel] | None = None, note: str | None = None,
) -> ProcessView:
    """Validate a BPMN file and store it, with the forms, rule sets and mail templates it uses (read from
    ``sources``, default the shipped folders), as the next version of its process (None actor = the CLI).

    ``lanes`` maps lane names to the group codes they stand for (kept with the version); ``name`` is the
    process's display name (default: the BPMN process's name). Every problem of the file and its documents
    (and ``problems`` found by the caller) is reported in one ``InvalidModel``.
    The same file with the same documents again makes no new version; a changed form or rule set does.
    ``note`` is the change note kept with a new version.
    """
    if actor is not None and not DEPLOYER_GROUPS & set(actor.groups):
        raise Forbidden("only process owners and administrators may deploy processes")
    xml = utf8_xml(xml, filename)  # stored as text: any encoding lxml reads is accepted
    entries, found = bundlesources.collect_checked(xml, filename, sources, lanes=lanes)
    used_forms = set(bundlesources.uses(xml, filename).forms)  # each checked by collect_checked: reported there

    def form_exists(form: str) -> bool:
        return form in used_forms or forms.form_exists(form)

    with db.read() as session:
        groups = group_codes(session)
    parsed = load_process(xml, filename, groups=groups, form_exists=form_exists, lanes=lanes,
                          problems=[*(problems or []), *found], book=bundles.Bundle(entries=tuple(entries)))
    with db.write() as session:
        row = _store(session, xml, filename, parsed, actor=actor.username if actor else None, entries=entries,
                     name=name, note=note)
        record(session, case_id=None, actor=actor.username if actor else "cli", kind=AuditKind.PROCESS_DEPLOYED,
               detail={"process": row.key, "version": row.version, "file": filename,
                       **({"note": note} if note else {})})
        SPEC_CACHE.put(session, row, parsed)
        return process_view(row)


def deploy_file(
    db: Database, path: str, *, actor: UserView | None = None, sources: bundlesources.Sources | None = None,
) -> ProcessView:
    file = Path(path)
    return deploy(db, file.read_bytes(), filename=file.name, actor=actor, sources=sources)


def deploy_bundled(db: Database) -> list[ProcessView]:
    """Deploy every diagram shipped in the ``bpmn`` package (unchanged files make no new version)."""
    views = []
    for entry in sorted(resources.files("bpmn").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".bpmn"):
            views.append(deploy(db, entry.read_bytes(), filename=entry.name, actor=None))
    return views


_LATEST_VERSION = (select(ProcessVersion).where(ProcessVersion.key == bindparam("key"))
                   .order_by(ProcessVersion.version.desc()).limit(1)
                   .options(defer(ProcessVersion.bpmn_xml)))  # built once: see caseview.case_view; the XML is
# read by the few that need it (the spec cache has it parsed), not by every start of a case


def latest_version(session: Session, key: str) -> ProcessVersion:
    row = session.scalar(_LATEST_VERSION, {"key": key})
    if row is None:
        raise NotFound(f"no process {key!r}", fields={"process": f"unknown process {key!r}"})
    return row


def latest_versions(session: Session) -> list[ProcessVersion]:
    """The newest version of each process, by key."""
    newest = (
        select(ProcessVersion.key, func.max(ProcessVersion.version).label("version"))
        .group_by(ProcessVersion.key).subquery()
    )
    return list(session.scalars(
        select(ProcessVersion).join(
            newest, (ProcessVersion.key == newest.c.key) & (ProcessVersion.version == newest.c.version)
        ).order_by(ProcessVersion.key)
    ))


def deployed(session: Session, key: str) -> bool:
    """Whether any version of the process ``key`` is deployed."""
    return session.scalar(select(ProcessVersion.id).where(ProcessVersion.key == key).limit(1)) is not None


def list_processes(db: Database, *, actor: UserView | None = None) -> list[ProcessView]:
    """The newest version of each process, with the list of its versions."""
    with db.read() as session:
        rows = latest_versions(session)
        all_versions: dict[str, list[int]] = {}
        for key, version in session.execute(select(ProcessVersion.key, ProcessVersion.version)):
            all_versions.setdefault(key, []).append(version)
        return [process_view(row, sorted(all_versions[row.key])) for row in rows]


def process_keys(db: Database) -> list[str]:
    """The keys of the deployed processes, sorted (a filter's choices; no version rows, no BPMN text)."""
    with db.read() as session:
        return keys_in(session)


def keys_in(session: Session) -> list[str]:
    """process_keys inside the caller's transaction."""
    return list(session.scalars(select(ProcessVersion.key).distinct().order_by(ProcessVersion.key)))


def get_process_xml(db: Database, key: str, version: int | None = None) -> str:
    with db.read() as session:
        if version is None:
            return latest_version(session, key).bpmn_xml
        row = session.scalar(select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == version))
        if row is None:
            raise NotFound(f"no version {version} of process {key!r}")
        return row.bpmn_xml


def start_form_of(row: ProcessVersion) -> str | None:
    return row.start_form if row.start_form and forms.form_exists(row.start_form) else None


__all__ = ["SPEC_CACHE", "InvalidModel", "deploy", "deploy_bundled", "deploy_file", "list_processes"]
