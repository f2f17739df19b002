"""Importing a SpiffArena process model folder unchanged (issue #18, "models from elsewhere").

A SpiffArena process model is a folder: ``process_model.json`` (display name, ``primary_file_name``,
``primary_process_id``), the BPMN file, and the JSON Schema and UI schema files its user tasks name with
the ``spiffworkflow:properties`` ``formJsonSchemaFilename`` and ``formUiSchemaFilename``. It is deployed
as any BPMN file is (``deployments.deploy``), with the folder as the source of its forms; each form's
name is derived from its file name (``report-schema.json`` -> ``report``), a schema without ``$schema``
is read as draft 2020-12, the lane "Process Initiator" is the case's starter, and every other lane names a
group, directly or through ``lanes`` (lane name -> group code). Every problem of the folder is reported in
one ``InvalidModel``.

``import_upload`` is the same import for a folder sent through the modeler (``POST /modeler/imports`` and
its page): its files, or one ``.zip`` of the folder, unpacked into a temporary folder within limits (file
count, unpacked bytes; no path out of the folder). Only process owners and admins import; a refusal lists
every problem of the upload and of the model, and the groups its lanes name that do not exist yet.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select

from processes import access, bundles, bundlesources
from processes.deployments import deploy
from processes.engine.loader import NS, parse_xml
from processes.errors import Forbidden, InvalidModel
from processes.people.organisation import group_codes
from processes.store.db import Database
from processes.store.models import ProcessVersion
from processes.views import ProcessView, UserView

MODEL_FILE = "process_model.json"
STARTER_LANE = "Process Initiator"
MAX_FILES = 50  # a SpiffArena model folder holds a BPMN file, its metadata and a few schema files
MAX_BYTES = 5 * 1024 * 1024  # all the folder's files together, unpacked
MAX_NAME = 200  # characters of one file name


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
    note: str | None = None,
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
            problems=problems, note=note,
        )
    except InvalidModel as exc:
        raise InvalidModel.of([*problems, exc], filename=primary.name) from None


# --- a folder sent through the modeler ------------------------------------------------------------------------

@dataclass(frozen=True)
class Imported:
    """What an upload deployed: the process, its version, the forms it carries, each lane's group (None: the
    case's starter) and the files it was read from."""

    key: str
    name: str
    version: int
    forms: list[str]
    lanes: dict[str, str | None]
    files: list[str]


class ImportRefused(InvalidModel):
    """Every problem of an upload (each part names its file and element), and the groups its lanes name that
    do not exist: an administrator creates them (or the lanes are mapped to existing groups)."""

    def __init__(self, error: InvalidModel, missing_groups: list[str]) -> None:
        super().__init__(error.message, filename=error.filename, element=error.element, problems=error.problems)
        self.parts = error.parts
        self.fields = dict(error.fields)
        self.missing_groups = missing_groups


def _relative(name: str) -> tuple[str, ...] | None:
    """The parts of a path inside the folder; None for a path that leaves it (absolute, a drive, ``..``)."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or "\x00" in text:
        return None
    parts = tuple(part for part in text.split("/") if part not in ("", "."))
    return None if ".." in parts else parts


def _unzip(name: str, data: bytes, problems: list[InvalidModel]) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [info for info in archive.infolist() if not info.is_dir()
                   and not info.filename.startswith("__MACOSX/")]  # macOS's resource forks, not the model's
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        problems.append(InvalidModel(f"{name}: not a zip file: {exc}", filename=name))
        return []
    if len(members) > MAX_FILES:
        problems.append(InvalidModel(f"{name}: holds {len(members)} files, a model folder at most {MAX_FILES}",
                                     filename=name))
        return []
    declared = sum(info.file_size for info in members)
    if declared > MAX_BYTES:
        problems.append(InvalidModel(f"{name}: unpacks to {declared} bytes, at most {MAX_BYTES}", filename=name))
        return []
    found: list[tuple[str, bytes]] = []
    left = MAX_BYTES
    for info in members:
        if _relative(info.filename) is None:  # refused before a byte of it is read
            found.append((info.filename, b""))
            continue
        try:
            with archive.open(info) as member:
                content = member.read(left + 1)  # a size in the directory may lie: never read past the limit
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, zlib.error) as exc:
            problems.append(InvalidModel(f"{name}: {info.filename} cannot be read: {exc}", filename=info.filename))
            continue
        if len(content) > left:
            problems.append(InvalidModel(f"{name}: unpacks to more than {MAX_BYTES} bytes", filename=name))
            return []
        left -= len(content)
        found.append((info.filename, content))
    return found


def _members(uploads: Sequence[tuple[str, bytes]], problems: list[InvalidModel]) -> tuple[str, list[tuple[str, bytes]]]:
    """The folder name and every (path, content) sent: the files, or those of the one .zip."""
    if not uploads:
        raise InvalidModel("no files: send the model folder's files or one .zip of the folder", filename=None)
    zips = [upload for upload in uploads if upload[0].lower().endswith(".zip")]
    if zips and len(uploads) > 1:
        raise InvalidModel("send one .zip of the model folder, or the folder's files without a .zip",
                           filename=zips[0][0])
    if zips:
        name, data = zips[0]
        parts = _relative(name)
        return PurePosixPath(parts[-1] if parts else "model").stem or "model", _unzip(name, data, problems)
    if len(uploads) > MAX_FILES:
        raise InvalidModel(f"{len(uploads)} files: a model folder holds at most {MAX_FILES}", filename=None)
    total = sum(len(content) for _name, content in uploads)
    if total > MAX_BYTES:
        raise InvalidModel(f"the files hold {total} bytes, at most {MAX_BYTES}", filename=None)
    return "model", list(uploads)


def unpack(uploads: Sequence[tuple[str, bytes]]) -> tuple[str, dict[str, bytes]]:
    """The folder name and the files (name -> content) of an upload: the folder's files, or one ``.zip`` of
    it (its one top folder, if it has one, is the model folder). ``InvalidModel`` lists every problem: no
    files, a path out of the folder, a sub-folder, a name twice, too many files or bytes, a broken zip."""
    problems: list[InvalidModel] = []
    folder, members = _members(uploads, problems)
    paths: list[tuple[str, tuple[str, ...], bytes]] = []
    for name, content in members:
        parts = _relative(name)
        if parts is None:
            problems.append(InvalidModel(f"{name}: the path leaves the model folder", filename=name))
        elif parts:
            paths.append((name, parts, content))
    tops = {parts[0] for _name, parts, _content in paths}
    if len(tops) == 1 and all(len(parts) > 1 for _name, parts, _content in paths):
        folder = next(iter(tops))
        paths = [(name, parts[1:], content) for name, parts, content in paths]
    files: dict[str, bytes] = {}
    for name, parts, content in paths:
        if len(parts) > 1:
            problems.append(InvalidModel(f"{name}: a model folder holds files only, no sub-folders", filename=name))
        elif len(parts[0]) > MAX_NAME:
            problems.append(InvalidModel(f"{parts[0][:40]}...: a file name of at most {MAX_NAME} characters",
                                         filename=parts[0][:MAX_NAME]))
        elif parts[0] in files:
            problems.append(InvalidModel(f"{parts[0]}: sent twice", filename=parts[0]))
        else:
            files[parts[0]] = content
    if not files and not problems:
        problems.append(InvalidModel("no files: the upload holds no model file", filename=None))
    if problems:
        raise InvalidModel.of(problems)
    return folder, files


def _lanes(xml: bytes, filename: str) -> list[str]:
    """The names of the executable process's lanes, in order."""
    root = parse_xml(xml, filename)
    executable = [process for process in root.findall("bpmn:process", NS)
                  if process.get("isExecutable", "true").lower() == "true"] or root.findall("bpmn:process", NS)
    if not executable:
        return []
    names = ((lane.get("name") or "").strip() for lane in executable[0].iterfind(".//bpmn:lane", NS))
    return list(dict.fromkeys(name for name in names if name))


def _lane_groups(folder: Path, lanes: Mapping[str, str] | None) -> dict[str, str | None]:
    """Each lane of the folder's BPMN file and the group it stands for (None: the starter); {} if unreadable."""
    primary = _primary_file(folder, _metadata(folder, []), [])
    if primary is None:
        return {}
    try:
        names = _lanes(primary.read_bytes(), primary.name)
    except (OSError, InvalidModel):
        return {}
    mapping = dict(lanes or {})
    return {name: None if name == STARTER_LANE else mapping.get(name, name) for name in names}


def import_upload(
    db: Database, uploads: Sequence[tuple[str, bytes]], *, actor: UserView,
    lanes: Mapping[str, str] | None = None, note: str | None = None,
) -> Imported:
    """Import a SpiffArena model folder sent as its files or one ``.zip`` (process owners and admins).

    Raises ``ImportRefused`` with every problem and the missing groups; nothing is deployed then.
    """
    with db.read() as session:
        if not access.may(session, actor, access.Action.MODEL, access.MODELER):
            raise Forbidden("only process owners and administrators may import process models")
    try:
        folder_name, files = unpack(uploads)
    except InvalidModel as exc:
        raise ImportRefused(exc, []) from None
    with tempfile.TemporaryDirectory(prefix="amflow-import-") as temporary:
        folder = Path(temporary) / (folder_name if _relative(folder_name) == (folder_name,) else "model")
        folder.mkdir()
        for name, content in files.items():
            (folder / name).write_bytes(content)
        groups = _lane_groups(folder, lanes)
        try:
            view = import_spiffarena(db, folder, actor=actor, lanes=lanes,
                                     note=(note or "").strip()[:1000] or f"imported from SpiffArena ({folder.name})")
        except InvalidModel as exc:
            with db.read() as session:
                known = group_codes(session)
            missing = sorted({group for group in groups.values() if group is not None and group not in known})
            raise ImportRefused(exc, missing) from None
    with db.read() as session:
        row = session.scalar(select(ProcessVersion).where(ProcessVersion.key == view.key,
                                                          ProcessVersion.version == view.version))
        entries = bundles.for_version(session, row.id).entries if row is not None else ()
    used = sorted({entry.name for entry in entries if entry.kind == "form"})
    return Imported(view.key, view.name, view.version, used, groups, sorted(files))
