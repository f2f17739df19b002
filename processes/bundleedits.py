"""A process's forms and rule data changed in the browser (issue #18, the modeler), each change deployed as a
new version of the process whose bundle carries it, so later versions keep it; and what the newest version
uses, to edit.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.orm import Session

import forms
from processes import bundles, bundlesources, modeler
from processes.deployments import latest_version
from processes.errors import InvalidData, InvalidModel, NotFound
from processes.store.audit import AuditKind, record
from processes.store.db import Database
from processes.store.models import ProcessVersion
from processes.views import UserView


def _latest_files(session: Session, key: str) -> tuple[ProcessVersion, dict[str, dict[str, str]], dict[str, str]]:
    row = latest_version(session, key)
    files, lanes = modeler.bundle_sources(session, key)
    return row, files, lanes


def process_documents(db: Database, actor: UserView, key: str) -> dict[str, Any]:
    """The forms (schema, UI) and parameters the newest version of the process uses."""
    with db.read() as session:
        modeler.require(session, actor)
        row = latest_version(session, key)
        bundle = bundles.for_version(session, row.id)
        used = bundlesources.uses(row.bpmn_xml.encode(), row.filename)
        found = {}
        for name in used.forms:
            form = bundle.form(name)
            if form is not None:
                found[name] = {"schema": form.schema, "ui": form.ui}
        files = bundlesources.files_of(bundle.entries)
        parameters = json.loads(files["rules"].get("parameters.json") or _shipped_parameters())
        return {"forms": found, "rulesets": list(used.rulesets), "parameters": parameters}


def _shipped_parameters() -> str:
    source = bundlesources.Sources().rules / "parameters.json"
    return source.read_text(encoding="utf-8")


def change_form(db: Database, actor: UserView, key: str, form: str, *, schema: Any, ui: Any = None,
                note: str | None = None) -> modeler.VersionView:
    """A new version of the process whose form ``form`` has this JSON Schema (and UI hints)."""
    text = modeler.change_note(note)
    with db.read() as session:
        modeler.require(session, actor)
        row, files, lanes = _latest_files(session, key)
        used = bundlesources.uses(row.bpmn_xml.encode(), row.filename)
        if form not in used.forms:
            raise NotFound(f"process {key!r} uses no form {form!r}", fields={"form": f"not a form of {key}"})
        xml = row.bpmn_xml.encode()
    ui = {} if ui is None else ui
    try:
        forms.form_from_documents(form, schema, ui)
    except forms.InvalidForm as exc:
        raise InvalidData(f"not a valid form schema: {exc}", fields={"schema": str(exc)}) from None
    named = used.form_files[form]
    schema_text, ui_text = json.dumps(schema, ensure_ascii=False, indent=1), json.dumps(ui, ensure_ascii=False)
    files.setdefault("forms", {}).update({
        named.schema: schema_text, form + forms.registry.SCHEMA_SUFFIX: schema_text,
        (named.ui or form + forms.registry.UI_SUFFIX): ui_text, form + forms.registry.UI_SUFFIX: ui_text})
    view = modeler.deploy_with(db, actor, xml, files, lanes=lanes, note=text)
    _record_change(db, actor, {"process": key, "version": view.version, "form": form, "note": text})
    return view


def add_parameter_value(db: Database, actor: UserView, key: str, parameter: str, *, value: Any, valid_from: str,
                        note: str | None = None) -> modeler.VersionView:
    """A new version of the process whose effective-dated ``parameter`` takes ``value`` from ``valid_from``."""
    text = modeler.change_note(note)
    try:
        start = dt.date.fromisoformat(str(valid_from))
    except ValueError:
        raise InvalidData("invalid date", fields={"valid_from": "a date YYYY-MM-DD"}) from None
    with db.read() as session:
        modeler.require(session, actor)
        row, files, lanes = _latest_files(session, key)
        xml = row.bpmn_xml.encode()
    rule_files = files.setdefault("rules", {})
    document = json.loads(rule_files.get("parameters.json") or _shipped_parameters())
    entries = document.get(parameter)
    if not isinstance(entries, list) or parameter.startswith("$"):
        raise NotFound(f"no parameter {parameter!r}", fields={"parameter": "no such parameter"})
    entries = [e for e in entries if e.get("valid_from") != start.isoformat()]
    entries.append({"value": value, "valid_from": start.isoformat(), "source": f"{actor.username}: {text}"})
    document[parameter] = sorted(entries, key=lambda e: str(e.get("valid_from")))
    rule_files["parameters.json"] = json.dumps(document, ensure_ascii=False, indent=1)
    try:
        view = modeler.deploy_with(db, actor, xml, files, lanes=lanes, note=text)
    except InvalidModel as exc:
        raise InvalidData(exc.message, fields={"value": exc.message}) from None
    _record_change(db, actor, {"process": key, "version": view.version, "parameter": parameter, "value": value,
                               "valid_from": start.isoformat(), "note": text})
    return view


def _record_change(db: Database, actor: UserView, detail: dict[str, Any]) -> None:
    with db.write() as session:
        record(session, case_id=None, actor=actor.username, kind=AuditKind.BUNDLE_CHANGED, detail=detail)


