"""The process owners' modeler (issue #18): drafts, validation, deploys with a change note, the versions of a
process with the cases on each, diffs, roll-backs; groups and members (admins); ``amflow export``.
Migrating running cases is in ``casemoves.py``, forms and rule data changed as new versions in
``bundleedits.py``; both use the access check and the deploy of this module.

Every use case asks ``access.may(actor, Action.MODEL, MODELER)`` first (groups: ``Action.MANAGE`` on
``GROUPS``). A deploy from here goes through ``deployments.deploy``, the engine's own checks; its forms,
rule sets and mail texts are read from the process's newest bundle laid over the shipped files, so a form
or parameter changed in the browser stays with the process's later versions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

import forms
import rules
from processes import access, bundles, bundlesources
from processes.deployments import deploy, latest_version
from processes.engine.checks import INITIATOR_LANE
from processes.engine.loader import NS, load_process, parse_xml, utf8_xml
from processes.errors import Forbidden, InvalidData, InvalidModel, NotFound
from processes.people.organisation import add_group, group_codes
from processes.store.audit import AuditKind, record
from processes.store.db import Database
from processes.store.models import Case, Group, ProcessDraft, ProcessVersion, User
from processes.views import CaseStatus, UserView

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MAX_NOTE = 1000


def require(session: Session, actor: UserView | None, target: str = access.MODELER) -> None:
    """Forbidden unless the actor may model processes (with ``GROUPS``: manage groups); in the caller's session."""
    action = access.Action.MANAGE if target == access.GROUPS else access.Action.MODEL
    if not access.may(session, actor, action, target):
        raise Forbidden("only process owners and administrators may model processes"
                        if target == access.MODELER else "only administrators may manage groups")


def check_access(db: Database, actor: UserView | None, target: str = access.MODELER) -> None:
    """Forbidden unless the actor may use the modeler (or, with ``GROUPS``, manage groups)."""
    with db.read() as session:
        require(session, actor, target)


# --- what a diagram is --------------------------------------------------------------------------------------

def _process_of(root: etree._Element) -> etree._Element:
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable", "true").lower() == "true"] or processes
    if not executable:
        raise InvalidModel("the diagram has no process", element=None)
    return executable[0]


def _key_of(xml: bytes) -> str:
    key = _process_of(parse_xml(xml, "diagram.bpmn")).get("id") or ""
    if not key:
        raise InvalidModel("the process has no id")
    return key


def _lanes_of(xml: bytes) -> list[tuple[str, str]]:
    """(lane id, lane name) of every lane of the diagram."""
    root = parse_xml(xml, "diagram.bpmn")
    return [(lane.get("id") or "", (lane.get("name") or "").strip()) for lane in root.iter(f"{{{BPMN}}}lane")]


def bundle_sources(session: Session, key: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The files of the process's newest bundle (none for a new process) and its lane mapping."""
    row = session.scalar(select(ProcessVersion).where(ProcessVersion.key == key)
                         .order_by(ProcessVersion.version.desc()).limit(1))
    if row is None:
        return {}, {}
    bundle = bundles.for_version(session, row.id)
    return bundlesources.files_of(bundle.entries, row.bpmn_xml.encode(), row.filename), bundle.lanes


def _lanes_for(xml: bytes, given: Mapping[str, str] | None, kept: Mapping[str, str]) -> dict[str, str]:
    """The lane mapping of a deploy: the one given, else the process's kept one for the lanes still drawn."""
    names = {name for _id, name in _lanes_of(xml)}
    mapping = dict(kept) if given is None else dict(given)
    return {lane: group for lane, group in mapping.items() if lane in names and group}


# --- validation ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    element: str | None
    message: str


@dataclass(frozen=True)
class LintFinding:
    """One finding of bpmnlint's recommended rules: advice on the drawing, never a reason to refuse a deploy."""

    element: str | None
    rule: str
    category: str
    message: str


WEB_TOOLS = Path(__file__).resolve().parents[1] / "web"  # web/lint.mjs and its node_modules (npm ci in web/)
LINT_SECONDS = 30


def lint(xml: bytes, *, tools: Path = WEB_TOOLS) -> list[LintFinding] | None:
    """bpmnlint's recommended rules over the diagram, run by node; None when node or bpmnlint is not
    installed (``npm ci`` in ``web/``), or the run fails: the engine's own checks never depend on it."""
    node = shutil.which("node")
    if node is None or not (tools / "node_modules" / "bpmnlint").is_dir():
        return None
    try:
        done = subprocess.run([node, str(tools / "lint.mjs")], input=xml, capture_output=True,  # noqa: S603
                              timeout=LINT_SECONDS, check=False, cwd=tools)
        found = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if not isinstance(found, list):
        return None
    return [LintFinding(item.get("id"), str(item.get("rule")), str(item.get("category")), str(item.get("message")))
            for item in found if isinstance(item, dict)]


@dataclass(frozen=True)
class Validation:
    """Every problem the engine's deploy checks find, each with its element; the lanes naming no group."""

    key: str | None
    problems: list[Problem]
    unknown_lanes: list[str] = field(default_factory=list)
    lint: list[LintFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _filename(key: str) -> str:
    return f"{key}.bpmn"


def _check(
    session: Session, xml: bytes, lanes: Mapping[str, str] | None,
) -> tuple[Validation, bundlesources.Sources, dict[str, str]]:
    try:
        xml = utf8_xml(xml, "diagram.bpmn")
        key = _key_of(xml)
    except InvalidModel as exc:
        problems = [Problem(part.element, part.message) for part in exc.parts]
        return Validation(None, problems), bundlesources.Sources(), {}
    files, kept = bundle_sources(session, key)
    sources = bundlesources.sources_with(files)
    mapping = _lanes_for(xml, lanes, kept)
    groups = group_codes(session)
    filename = _filename(key)
    unknown = sorted({name for _id, name in _lanes_of(xml)
                      if name and name != INITIATOR_LANE and mapping.get(name, name) not in groups})
    entries, found = bundlesources.collect_checked(xml, filename, sources, lanes=mapping)
    used_forms = set(bundlesources.uses(xml, filename).forms)
    try:
        load_process(xml, filename, groups=groups, form_exists=lambda f: f in used_forms or forms.form_exists(f),
                     lanes=mapping, problems=found, book=bundles.Bundle(entries=tuple(entries)))
    except InvalidModel as exc:
        problems = [Problem(part.element, part.message) for part in exc.parts]
        return Validation(key, problems, unknown), sources, mapping
    return Validation(key, [], unknown), sources, mapping


def validate(db: Database, actor: UserView | None, xml: bytes, *, lanes: Mapping[str, str] | None = None,
             ) -> Validation:
    """Run the deploy checks on a diagram without deploying it."""
    with db.read() as session:
        require(session, actor)
        result = _check(session, xml, lanes)[0]
    found = lint(xml)
    return result if not found else dataclasses.replace(result, lint=found)


@dataclass(frozen=True)
class Choices:
    """What the properties panel offers: groups for lanes, forms for user tasks, rule sets for rule tasks."""

    groups: list[tuple[str, str]]
    forms: list[str]
    rulesets: list[str]
    may_manage_groups: bool


def choices(db: Database, actor: UserView) -> Choices:
    """The groups, forms and rule sets a diagram may name, and whether the actor may create groups."""
    with db.read() as session:
        require(session, actor)
        groups = [(g.code, g.name) for g in session.scalars(select(Group).order_by(Group.code))]
        manage = access.may(session, actor, access.Action.MANAGE, access.GROUPS)
    return Choices(groups, forms.form_names(), rules.ruleset_names(), manage)


# --- drafts -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DraftView:
    key: str
    bpmn_xml: str
    lanes: dict[str, str]
    based_on: int | None
    updated_by: str
    updated_at: dt.datetime


def _draft_view(row: ProcessDraft) -> DraftView:
    return DraftView(row.key, row.bpmn_xml, dict(row.lanes or {}), row.based_on, row.updated_by, row.updated_at)


def save_draft(db: Database, actor: UserView, xml: bytes, *, lanes: Mapping[str, str] | None = None,
               based_on: int | None = None) -> DraftView:
    """Keep the diagram as the process's draft (one per process; it is checked as XML only)."""
    with db.write() as session:
        require(session, actor)
        try:
            text = utf8_xml(xml, "diagram.bpmn")
            key = _key_of(text)
        except InvalidModel as exc:
            raise InvalidData(exc.message, fields={"bpmn": exc.message}) from None
        row = session.get(ProcessDraft, key)
        if row is None:
            row = ProcessDraft(key=key, bpmn_xml="", updated_by=actor.username)
            session.add(row)
        row.bpmn_xml, row.lanes, row.based_on = text.decode("utf-8"), dict(lanes or {}), based_on
        row.updated_by, row.updated_at = actor.username, dt.datetime.now(dt.UTC)
        record(session, case_id=None, actor=actor.username, kind=AuditKind.DRAFT_SAVED, detail={"process": key})
        session.flush()
        return _draft_view(row)


def get_draft(db: Database, actor: UserView, key: str) -> DraftView:
    with db.read() as session:
        require(session, actor)
        row = session.get(ProcessDraft, key)
        if row is None:
            raise NotFound(f"no draft of process {key!r}")
        return _draft_view(row)


def draft_keys(db: Database, actor: UserView) -> list[str]:
    """The processes that have a draft."""
    with db.read() as session:
        require(session, actor)
        return list(session.scalars(select(ProcessDraft.key).order_by(ProcessDraft.key)))


def blank_diagram(key: str, name: str) -> str:
    """A new process: one lane (the starter), a start event and an end event, drawn."""
    if not key or not key.replace("_", "a").isalnum() or not key[0].isalpha():
        raise InvalidData("invalid process id", fields={"key": "a letter, then letters, digits or '_'"})
    safe_name = (name or key).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
 xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
 xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
 xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
 id="Definitions_{key}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="Collaboration_{key}">
    <bpmn:participant id="Participant_{key}" name="{safe_name}" processRef="{key}" />
  </bpmn:collaboration>
  <bpmn:process id="{key}" name="{safe_name}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{key}">
      <bpmn:lane id="Lane_starter" name="{INITIATOR_LANE}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_start_end</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_start_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_start_end" sourceRef="start" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{key}">
    <bpmndi:BPMNPlane id="Plane_{key}" bpmnElement="Collaboration_{key}">
      <bpmndi:BPMNShape id="Participant_{key}_di" bpmnElement="Participant_{key}" isHorizontal="true">
        <dc:Bounds x="120" y="60" width="600" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_starter_di" bpmnElement="Lane_starter" isHorizontal="true">
        <dc:Bounds x="150" y="60" width="570" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="222" y="142" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="562" y="142" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_start_end_di" bpmnElement="flow_start_end">
        <di:waypoint x="258" y="160" /><di:waypoint x="562" y="160" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


# --- deploying, versions, diff, roll-back -------------------------------------------------------------------

@dataclass(frozen=True)
class VersionView:
    key: str
    name: str
    version: int
    deployed_at: dt.datetime
    deployed_by: str | None
    change_note: str | None
    running_cases: int


def change_note(note: str | None) -> str:
    """The change note a new version needs, trimmed; InvalidData if it is missing or too long."""
    text = (note or "").strip()
    if not text:
        raise InvalidData("a change note is required", fields={"note": "say what changed"})
    if len(text) > MAX_NOTE:
        raise InvalidData("change note too long", fields={"note": f"at most {MAX_NOTE} characters"})
    return text


def deploy_with(db: Database, actor: UserView, xml: bytes, files: dict[str, dict[str, str]], *,
                 lanes: Mapping[str, str], note: str, name: str | None = None) -> VersionView:
    """Deploy the diagram with these bundle files as the process's next version; its draft goes."""
    key = _key_of(xml)
    view = deploy(db, xml, _filename(key), actor=actor, sources=bundlesources.sources_with(files), lanes=lanes,
                  note=note, name=name)
    with db.write() as session:
        session.execute(delete(ProcessDraft).where(ProcessDraft.key == view.key))
    return _version(db, view.key, view.version)


def deploy_version(db: Database, actor: UserView, xml: bytes, *, note: str | None,
                   lanes: Mapping[str, str] | None = None) -> VersionView:
    """Deploy the diagram as the next version of its process, with the change note; the draft goes."""
    text = change_note(note)
    with db.read() as session:
        require(session, actor)
        validation, _sources, mapping = _check(session, xml, lanes)
        files, _kept = bundle_sources(session, validation.key) if validation.key else ({}, {})
    if not validation.ok:
        raise InvalidModel.of([InvalidModel(p.message, element=p.element) for p in validation.problems])
    return deploy_with(db, actor, utf8_xml(xml, "diagram.bpmn"), files, lanes=mapping, note=text)


def _running(session: Session, version_ids: list[int]) -> dict[int, int]:
    rows = session.execute(select(Case.process_version_id, func.count()).where(
        Case.process_version_id.in_(version_ids), Case.status == CaseStatus.RUNNING.value,
    ).group_by(Case.process_version_id))
    return {row[0]: row[1] for row in rows}


def version_row(session: Session, key: str, version: int) -> ProcessVersion:
    """The stored version ``version`` of process ``key``, or NotFound."""
    row = session.scalar(select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == version))
    if row is None:
        raise NotFound(f"no version {version} of process {key!r}", fields={"version": f"no version {version}"})
    return row


def _version(db: Database, key: str, version: int) -> VersionView:
    with db.read() as session:
        row = version_row(session, key, version)
        return VersionView(row.key, row.name, row.version, row.deployed_at, row.deployed_by, row.change_note,
                           _running(session, [row.id]).get(row.id, 0))


def list_versions(db: Database, actor: UserView, key: str | None = None) -> list[VersionView]:
    """Every version (of one process, or of all), newest first per process, with its running cases."""
    with db.read() as session:
        require(session, actor)
        query = select(ProcessVersion).order_by(ProcessVersion.key, ProcessVersion.version.desc())
        if key is not None:
            query = query.where(ProcessVersion.key == key)
        rows = list(session.scalars(query))
        if key is not None and not rows:
            raise NotFound(f"no process {key!r}")
        counts = _running(session, [row.id for row in rows])
        return [VersionView(r.key, r.name, r.version, r.deployed_at, r.deployed_by, r.change_note,
                            counts.get(r.id, 0)) for r in rows]


def version_xml(db: Database, actor: UserView, key: str, version: int | None = None) -> tuple[int, str, dict[str, str]]:
    """(version, BPMN, lane mapping) of a deployed version (default: the newest)."""
    with db.read() as session:
        require(session, actor)
        row = latest_version(session, key) if version is None else version_row(session, key, version)
        return row.version, row.bpmn_xml, bundles.for_version(session, row.id).lanes


def _elements(xml: str) -> dict[str, tuple[str, str, str]]:
    """The semantic elements with an id (not the drawing): id -> (type, name, their content without the
    elements that have ids of their own)."""
    root = parse_xml(xml.encode(), "diagram.bpmn")
    found: dict[str, tuple[str, str, str]] = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or not node.get("id") or not node.tag.startswith(f"{{{BPMN}}}"):
            continue
        if node.tag.endswith("}definitions"):
            continue
        copy = etree.fromstring(etree.tostring(node))
        for child in list(copy):
            if isinstance(child.tag, str) and child.get("id"):
                copy.remove(child)
        content = etree.tostring(copy, method="c14n").decode()
        found[node.get("id") or ""] = (etree.QName(node).localname, node.get("name") or "", " ".join(content.split()))
    return found


def diff_versions(db: Database, actor: UserView, key: str, old: int, new: int) -> dict[str, list[dict[str, str]]]:
    """The elements added, removed and changed from version ``old`` to ``new``, by element id."""
    with db.read() as session:
        require(session, actor)
        before = _elements(version_row(session, key, old).bpmn_xml)
        after = _elements(version_row(session, key, new).bpmn_xml)

    def item(element: str, what: tuple[str, str, str]) -> dict[str, str]:
        return {"id": element, "type": what[0], "name": what[1]}

    return {
        "added": [item(e, after[e]) for e in sorted(set(after) - set(before))],
        "removed": [item(e, before[e]) for e in sorted(set(before) - set(after))],
        "changed": [item(e, after[e]) for e in sorted(set(before) & set(after)) if before[e] != after[e]],
    }


def roll_back(db: Database, actor: UserView, key: str, version: int, *, note: str | None = None) -> VersionView:
    """Deploy version ``version`` again, with its own bundle, as the process's next version."""
    with db.read() as session:
        require(session, actor)
        row = version_row(session, key, version)
        bundle = bundles.for_version(session, row.id)
        xml, name = row.bpmn_xml.encode(), row.name
        files, lanes = bundlesources.files_of(bundle.entries, xml, row.filename), bundle.lanes
    text = (note or "").strip() or f"roll back to version {version}"
    return deploy_with(db, actor, xml, files, lanes=lanes, note=change_note(text), name=name)


# --- groups -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupView:
    code: str
    name: str
    central: bool
    members: list[str]


def list_groups(db: Database, actor: UserView) -> list[GroupView]:
    """Every group with its members (for process owners choosing a lane's group, and admins)."""
    with db.read() as session:
        require(session, actor)
        members: dict[str, list[str]] = {}
        for user in session.scalars(select(User).order_by(User.username)):
            for group in user.groups:
                members.setdefault(group.code, []).append(user.username)
        return [GroupView(g.code, g.name, g.central, members.get(g.code, []))
                for g in session.scalars(select(Group).order_by(Group.code))]


def create_group(db: Database, actor: UserView, code: str, name: str) -> GroupView:
    """An admin creates a group (a lane may then name it)."""
    check_access(db, actor, access.GROUPS)
    code, name = add_group(db, code, name=name, actor=actor)
    return GroupView(code, name, False, [])


def set_membership(db: Database, actor: UserView, code: str, username: str, *, member: bool) -> GroupView:
    """An admin adds a user to a group or takes them out."""
    with db.write() as session:
        require(session, actor, access.GROUPS)
        group = session.get(Group, code)
        if group is None:
            raise NotFound(f"no group {code!r}", fields={"group": "no such group"})
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}", fields={"username": "no such user"})
        if member and group not in user.groups:
            user.groups.append(group)
        elif not member and group in user.groups:
            user.groups.remove(group)
        session.flush()
        members = sorted(u.username for u in session.scalars(select(User)) if group in u.groups)
        return GroupView(group.code, group.name, group.central, members)


# --- export -------------------------------------------------------------------------------------------------

def export(db: Database, folder: str | Path) -> list[Path]:
    """Write the newest deployed version of each process to ``folder``: its BPMN, and its forms and rule data
    in ``forms/`` and ``rules/`` (the console's ``amflow export``)."""
    target = Path(folder)
    written: list[Path] = []
    with db.read() as session:
        keys = list(session.scalars(select(ProcessVersion.key).distinct().order_by(ProcessVersion.key)))
        for key in keys:
            row = latest_version(session, key)
            files = bundlesources.files_of(bundles.for_version(session, row.id).entries)
            outputs = {Path(row.filename).name: row.bpmn_xml,
                       **{f"forms/{name}": text for name, text in files["forms"].items()},
                       **{f"rules/{name}": text for name, text in files["rules"].items()}}
            for name, text in outputs.items():
                path = target / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                written.append(path)
    return written
