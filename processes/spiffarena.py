"""Importing a SpiffArena process model folder unchanged (issue #18, "models from elsewhere").

A SpiffArena process model is a folder: ``process_model.json`` (display name, ``primary_file_name``,
``primary_process_id``), the BPMN file, and the JSON Schema and UI schema files its user tasks name with
the ``spiffworkflow:properties`` ``formJsonSchemaFilename`` and ``formUiSchemaFilename``. It is deployed
as any BPMN file is (``deployments.deploy``), with the folder as the source of its forms; each form's
name is derived from its file name (``report-schema.json`` -> ``report``), a schema without ``$schema``
is read as draft 2020-12, the lane "Process Initiator" is the case's starter, and every other lane names a
group, directly or through ``lanes`` (lane name -> group code). Every problem of the folder is reported in
one ``InvalidModel``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from processes import bundlesources
from processes.deployments import deploy
from processes.engine.loader import NS, parse_xml
from processes.errors import InvalidModel
from processes.store.db import Database
from processes.views import ProcessView, UserView

MODEL_FILE = "process_model.json"


def _metadata(folder: Path, problems: list[InvalidModel]) -> dict[str, Any]:
    file = folder / MODEL_FILE
    if not file.is_file():
        problems.append(InvalidModel(f"{folder.name}: {MODEL_FILE} is missing", filename=MODEL_FILE))
        return {}
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        problems.append(InvalidModel(f"{MODEL_FILE}: not JSON: {exc}", filename=MODEL_FILE))
        return {}
    if not isinstance(document, dict):
        problems.append(InvalidModel(f"{MODEL_FILE}: must be a JSON object", filename=MODEL_FILE))
        return {}
    return document


def _primary_file(folder: Path, metadata: dict[str, Any], problems: list[InvalidModel]) -> Path | None:
    named = metadata.get("primary_file_name")
    if isinstance(named, str) and named.strip():
        file = folder / Path(named.strip()).name  # a name in the folder, never a path out of it
        if file.is_file():
            return file
        problems.append(InvalidModel(f"{MODEL_FILE}: primary_file_name {named!r} is not in the folder",
                                     filename=MODEL_FILE))
        return None
    candidates = sorted(folder.glob("*.bpmn"))
    if len(candidates) == 1:
        return candidates[0]
    problems.append(InvalidModel(
        f"{folder.name}: {MODEL_FILE} names no primary_file_name and the folder holds "
        f"{len(candidates)} .bpmn files", filename=MODEL_FILE))
    return None


def _check_process_id(xml: bytes, filename: str, metadata: dict[str, Any], problems: list[InvalidModel]) -> None:
    wanted = metadata.get("primary_process_id")
    if not isinstance(wanted, str) or not wanted.strip():
        return
    try:
        root = parse_xml(xml, filename)
    except InvalidModel:
        return  # the deploy reports it
    executable = [process for process in root.findall("bpmn:process", NS)
                  if process.get("isExecutable", "true").lower() == "true"] or root.findall("bpmn:process", NS)
    if not executable or executable[0].get("id") != wanted.strip():
        problems.append(InvalidModel(
            f"{MODEL_FILE}: primary_process_id {wanted!r} is not the first executable process of {filename}",
            filename=MODEL_FILE))


def import_spiffarena(
    db: Database, folder: str | Path, *, actor: UserView | None, lanes: Mapping[str, str] | None = None,
) -> ProcessView:
    """Deploy the SpiffArena process model in ``folder`` as the next version of its process.

    ``lanes`` maps lane names to group codes (a lane not mapped names a group itself). Raises
    ``InvalidModel`` listing every problem of the folder, its BPMN file and its forms.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidModel(f"{folder}: not a folder", filename=str(folder))
    problems: list[InvalidModel] = []
    metadata = _metadata(folder, problems)
    primary = _primary_file(folder, metadata, problems)
    if primary is None:
        raise InvalidModel.of(problems)
    try:
        xml = primary.read_bytes()
    except OSError as exc:
        raise InvalidModel.of([*problems, InvalidModel(f"{primary.name}: cannot be read: {exc}",
                                                       filename=primary.name)]) from None
    _check_process_id(xml, primary.name, metadata, problems)
    display_name = metadata.get("display_name")
    try:
        return deploy(
            db, xml, primary.name, actor=actor, sources=bundlesources.Sources(forms=folder), lanes=lanes,
            name=display_name.strip()[:200] if isinstance(display_name, str) and display_name.strip() else None,
            problems=problems,
        )
    except InvalidModel as exc:
        raise InvalidModel.of([*problems, exc], filename=primary.name) from None
