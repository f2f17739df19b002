"""A bundle's documents at deploy: what a diagram names, read from folders and checked.

Deploying a BPMN file reads every document the diagram names (``uses``), from the shipped folders (or the
folders a ``Sources`` names), checks each, and makes each an ``bundles.Entry`` (``collect_checked``): the
forms of the start event and the user tasks, the rule sets of the business-rule tasks with their registers
and the parameters, and the mail templates named as literals (see ``processes/bundles.py`` for what a
bundle holds). Every problem of every document is reported, not the first alone.

A form named by SpiffArena's ``formJsonSchemaFilename`` (and ``formUiSchemaFilename``) is read from those
files in the forms folder; the form's name is derived from the file name (``forms.form_name_from_filename``).

The modeler deploys a changed bundle through the same checks: ``files_of`` writes a bundle's entries back
as the files a deploy reads, and ``sources_with`` lays them over the shipped folders (``Overlay``).
"""

from __future__ import annotations

import ast
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from os import PathLike
from pathlib import Path
from typing import Any

import forms
import rules
from processes.bundles import LANES, PARAMETERS, Entry, register_names
from processes.engine.loader import parse_xml
from processes.engine.properties import NS, properties_of
from processes.errors import InvalidModel
from processes.notify import outbox

ENGINE_TEMPLATES = ("task_assigned",)  # written by the engine itself, whatever the diagram says
MAIL_LANGUAGES = outbox.LANGUAGES


@dataclass(frozen=True)
class Sources:
    """The folders a deploy reads a bundle's documents from: the shipped ones unless given."""

    forms: Traversable | Path = field(default_factory=forms.schemas_directory)
    rules: Traversable | Path = field(default_factory=rules.data_directory)
    mail: Traversable | Path = field(default_factory=outbox.template_folder)


# --- what a diagram uses --------------------------------------------------------------------------------

def _literal_template(expression: str) -> str | None:
    try:
        value = ast.literal_eval(expression.strip())
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class FormFiles:
    """The files a form is read from: those SpiffArena's properties name, else ``NAME.schema.json`` and
    ``NAME.uischema.json``; ``element`` is the first element naming the form."""

    schema: str
    ui: str | None
    element: str | None


@dataclass(frozen=True)
class Uses:
    """The documents a diagram names."""

    forms: tuple[str, ...]
    rulesets: tuple[str, ...]
    templates: tuple[str, ...]
    form_files: dict[str, FormFiles] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()  # one form name from two different schema files


def _form_files(name: str, properties: dict[str, str], element: str | None) -> FormFiles:
    schema = (properties.get("formJsonSchemaFilename") or "").strip()
    ui = (properties.get("formUiSchemaFilename") or "").strip() or None
    if properties.get("form", "").strip() or not schema:
        return FormFiles(name + forms.registry.SCHEMA_SUFFIX, ui, element)
    return FormFiles(schema, ui, element)


def uses(xml: bytes, filename: str) -> Uses:
    """The forms, rule sets and (literal) mail templates the diagram names, each once, sorted."""
    root = parse_xml(xml, filename)
    form_files: dict[str, FormFiles] = {}
    conflicts: list[str] = []
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        properties = properties_of(node)
        name = forms.form_name_from_properties(properties)
        if not name:
            continue
        files = _form_files(name, properties, node.get("id"))
        known = form_files.setdefault(name, files)
        if known.schema != files.schema:
            conflicts.append(f"{filename}: element {node.get('id')}: form {name!r} is read from {files.schema} "
                             f"here but from {known.schema} at element {known.element}")
        elif known.ui is None and files.ui is not None:
            form_files[name] = FormFiles(known.schema, files.ui, known.element)
    form_names = set(form_files)
    rulesets = {
        text.strip() for node in root.iterfind(".//spiffworkflow:calledDecisionId", NS) if (text := node.text or "")
    }
    templates = set(ENGINE_TEMPLATES)
    for node in root.iter():
        properties = properties_of(node) if isinstance(node.tag, str) else {}
        if properties.get("linkTo"):  # a task mailed through a signed link: its template (default task_link)
            templates.add(properties.get("linkTemplate") or "task_link")
    for operator in root.iterfind(".//spiffworkflow:serviceTaskOperator", NS):
        if operator.get("id") != "notify":
            continue
        for parameter in operator.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS):
            if parameter.get("id") == "template" and (name := _literal_template(parameter.get("value", ""))):
                templates.add(name)
    return Uses(tuple(sorted(form_names)), tuple(sorted(rulesets)), tuple(sorted(templates)), form_files,
                tuple(conflicts))

# --- collecting at deploy -------------------------------------------------------------------------------

def _canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1)


def _read(folder: Traversable | Path, name: str, filename: str) -> str:
    file = folder / name
    if not file.is_file():
        raise InvalidModel(f"{filename}: {name} is missing", filename=filename)
    return _text(file, name, filename)


def _text(file: Traversable | Path, name: str, filename: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidModel(f"{filename}: {name}: cannot be read as UTF-8 text: {exc}", filename=filename) from None


def _json(text: str, name: str, filename: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidModel(f"{filename}: {name}: not JSON: {exc}", filename=filename) from None


def _read_form(folder: Traversable | Path, name: str, files: FormFiles, filename: str) -> tuple[Any, Any]:
    """The schema and UI hints of form ``name`` from the files the diagram names; InvalidModel otherwise."""
    where = f"{filename}: element {files.element}: form {name!r}" if files.element else f"{filename}: form {name!r}"
    file = folder / files.schema
    if not file.is_file():
        if files.schema == name + forms.registry.SCHEMA_SUFFIX:
            raise InvalidModel(f"{where} does not exist", filename=filename, element=files.element)
        raise InvalidModel(f"{where}: its schema file {files.schema} is missing", filename=filename,
                           element=files.element)
    schema = _json(_text(file, files.schema, filename), files.schema, filename)
    ui_name = files.ui or name + forms.registry.UI_SUFFIX
    ui_file = folder / ui_name
    if ui_file.is_file():
        ui = _json(_text(ui_file, ui_name, filename), ui_name, filename)
    elif files.ui is not None:
        raise InvalidModel(f"{where}: its UI schema file {files.ui} is missing", filename=filename,
                           element=files.element)
    else:
        ui = {}
    return schema, ui


def _form_entries(used: Uses, sources: Sources, filename: str, problems: list[InvalidModel]) -> list[Entry]:
    entries = []
    problems.extend(InvalidModel(conflict, filename=filename) for conflict in used.conflicts)
    for name in used.forms:
        files = used.form_files.get(name) or FormFiles(name + forms.registry.SCHEMA_SUFFIX, None, None)
        try:
            if not forms.registry.is_valid_name(name):
                raise InvalidModel(f"{filename}: form {name!r} does not exist", filename=filename)
            schema, ui = _read_form(sources.forms, name, files, filename)
            forms.form_from_documents(name, schema, ui)
        except InvalidModel as exc:
            problems.append(exc)
            continue
        except forms.InvalidForm as exc:
            problems.append(InvalidModel(f"{filename}: form {name!r} ({files.schema}) is invalid: {exc}",
                                         filename=filename, element=files.element))
            continue
        entries.append(Entry.of("form", name, _canonical({"schema": schema, "ui": ui})))
    return entries


def _rule_entries(names: tuple[str, ...], sources: Sources, filename: str) -> list[Entry]:
    """The rule sets, their registers and the parameters, checked together as the engine will load them."""
    parameters_text = _read(sources.rules, "parameters.json", filename)
    parameters = _json(parameters_text, "parameters.json", filename)
    entries = [Entry.of("parameters", PARAMETERS, parameters_text)]
    documents, registers = [], {}
    for name in names:
        text = _read(sources.rules, f"{name}.rules.json", filename)
        document = _json(text, f"{name}.rules.json", filename)
        if document.get("name") != name:
            raise InvalidModel(f"{filename}: {name}.rules.json must have name {name!r}", filename=filename)
        documents.append(document)
        entries.append(Entry.of("ruleset", name, text))
        for register in register_names(document):
            if register not in registers:
                register_text = _read(sources.rules, f"{register}.register.json", filename)
                registers[register] = _json(register_text, f"{register}.register.json", filename)
                entries.append(Entry.of("register", register, register_text))
    try:
        rules.catalog_of(documents, parameters, list(registers.values()))
    except rules.RulesError as exc:
        raise InvalidModel(f"{filename}: the rules it uses are invalid: {exc.message}", filename=filename) from None
    return entries


def _mail_entries(names: tuple[str, ...], sources: Sources, filename: str) -> list[Entry]:
    entries = []
    for name in names:
        found = False
        for language in MAIL_LANGUAGES:
            file = sources.mail / f"{name}.{language}.txt"
            if not file.is_file():
                continue
            text = file.read_text(encoding="utf-8")
            try:
                outbox.check_template_text(text, file.name)
            except Exception as exc:  # jinja2's TemplateSyntaxError, or our ValueError
                raise InvalidModel(f"{filename}: mail template {file.name}: {exc}", filename=filename) from None
            entries.append(Entry.of("mail", f"{name}.{language}", text))
            found = found or language == outbox.DEFAULT_LANGUAGE
        if not found:
            raise InvalidModel(f"{filename}: mail template {name!r} has no {name}.{outbox.DEFAULT_LANGUAGE}.txt",
                               filename=filename)
    return entries


def collect(xml: bytes, filename: str, sources: Sources | None = None) -> tuple[Entry, ...]:
    """Every document the diagram uses, read from ``sources`` and checked; ``InvalidModel`` otherwise."""
    entries, problems = collect_checked(xml, filename, sources)
    if problems:
        raise InvalidModel.of(problems, filename=filename)
    return entries


def collect_checked(
    xml: bytes, filename: str, sources: Sources | None = None, *, lanes: Mapping[str, str] | None = None,
) -> tuple[tuple[Entry, ...], list[InvalidModel]]:
    """Every document the diagram uses that could be read and checked, and a problem for each that could not.

    ``lanes`` (a lane -> group mapping) is kept as a document of its own.
    """
    sources = sources or Sources()
    used = uses(xml, filename)
    problems: list[InvalidModel] = []
    entries = [*_form_entries(used, sources, filename, problems)]
    for collect_kind, names in ((_rule_entries, used.rulesets), (_mail_entries, used.templates)):
        try:
            entries += collect_kind(names, sources, filename)
        except InvalidModel as exc:
            problems.append(exc)
    if lanes:
        entries.append(Entry.of(LANES, LANES, _canonical(dict(lanes))))
    return tuple(entries), problems


# --- a bundle's documents as folders (the modeler deploys a changed bundle through the same checks) --------

class _TextFile(Traversable):
    """One file held in memory."""

    def __init__(self, name: str, text: str) -> None:
        self._name, self._text = name, text

    @property
    def name(self) -> str:
        return self._name

    def iterdir(self) -> Iterator[Traversable]:
        return iter(())

    def is_dir(self) -> bool:
        return False

    def is_file(self) -> bool:
        return True

    def joinpath(self, *descendants: str | PathLike[str]) -> Traversable:
        raise NotADirectoryError(self._name)

    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        return io.BytesIO(self._text.encode("utf-8")) if "b" in mode else io.StringIO(self._text)

    def read_text(self, encoding: str | None = None) -> str:
        return self._text

    def read_bytes(self) -> bytes:
        return self._text.encode("utf-8")


class Overlay(Traversable):
    """A folder whose files ``files`` (name -> text) hide those of the folder ``under``."""

    def __init__(self, files: Mapping[str, str], under: Traversable | Path) -> None:
        self._files, self._under = dict(files), under

    @property
    def name(self) -> str:
        return self._under.name

    def iterdir(self) -> Iterator[Traversable]:
        yield from (_TextFile(name, text) for name, text in sorted(self._files.items()))
        yield from (entry for entry in self._under.iterdir() if entry.name not in self._files)

    def is_dir(self) -> bool:
        return True

    def is_file(self) -> bool:
        return False

    def joinpath(self, *descendants: str | PathLike[str]) -> Traversable:
        if len(descendants) == 1 and str(descendants[0]) in self._files:
            return _TextFile(str(descendants[0]), self._files[str(descendants[0])])
        return self._under.joinpath(*descendants)

    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        raise IsADirectoryError(self.name)

    def read_text(self, encoding: str | None = None) -> str:
        raise IsADirectoryError(self.name)

    def read_bytes(self) -> bytes:
        raise IsADirectoryError(self.name)


def files_of(entries: tuple[Entry, ...], xml: bytes | None = None, filename: str = "") -> dict[str, dict[str, str]]:
    """A bundle's documents as the files a deploy reads ({"forms"|"rules"|"mail": {file name: text}}).

    A form is written as ``NAME.schema.json`` / ``NAME.uischema.json`` and, when ``xml`` names other files
    for it (SpiffArena's properties), under those names too.
    """
    files: dict[str, dict[str, str]] = {"forms": {}, "rules": {}, "mail": {}}
    named = uses(xml, filename).form_files if xml is not None else {}
    for entry in entries:
        if entry.kind == "form":
            document = json.loads(entry.content)
            schema, ui = _canonical(document["schema"]), _canonical(document["ui"])
            files["forms"][entry.name + forms.registry.SCHEMA_SUFFIX] = schema
            files["forms"][entry.name + forms.registry.UI_SUFFIX] = ui
            if entry.name in named:
                files["forms"][named[entry.name].schema] = schema
                files["forms"][named[entry.name].ui or entry.name + forms.registry.UI_SUFFIX] = ui
        elif entry.kind == "ruleset":
            files["rules"][f"{entry.name}.rules.json"] = entry.content
        elif entry.kind == "register":
            files["rules"][f"{entry.name}.register.json"] = entry.content
        elif entry.kind == "parameters":
            files["rules"]["parameters.json"] = entry.content
        elif entry.kind == "mail":
            files["mail"][f"{entry.name}.txt"] = entry.content
    return files


def sources_with(files: Mapping[str, Mapping[str, str]]) -> Sources:
    """The shipped folders with ``files`` (as ``files_of`` gives them) laid over them."""
    shipped = Sources()
    return Sources(forms=Overlay(files.get("forms", {}), shipped.forms),
                   rules=Overlay(files.get("rules", {}), shipped.rules),
                   mail=Overlay(files.get("mail", {}), shipped.mail))

