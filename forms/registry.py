"""Loading forms: one JSON Schema (draft 2020-12) per form, with optional UI hints, shipped as package data.

Files are read through ``importlib.resources`` so a non-editable install (a wheel, a zip) works the same
as a checkout. Each file is parsed and checked once per process and then cached.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from forms.errors import FormNotFound, InvalidForm

SCHEMA_SUFFIX = ".schema.json"
UI_SUFFIX = ".uischema.json"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# A form name is a plain identifier: it doubles as a file name, so nothing that could walk the tree.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class Form:
    """A form (*formular*): its JSON Schema, its UI hints and its title in Danish and English.

    The dicts are shared by every caller in the process: read them, never change them.
    """

    name: str
    schema: dict[str, Any]
    ui: dict[str, Any]
    title: dict[str, str]


def _schemas_dir() -> Traversable:
    return resources.files("forms").joinpath("schemas")


def _read_json(name: str, file: Traversable) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidForm(name, f"{file.name}: {exc}") from exc


def is_valid_name(name: object) -> bool:
    """Whether ``name`` is a form name: ``[a-z][a-z0-9_]*``, at most 64 characters."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


_is_valid_name = is_valid_name


@functools.cache
def _load(name: str) -> Form:
    schema_file = _schemas_dir().joinpath(name + SCHEMA_SUFFIX)
    if not schema_file.is_file():
        raise FormNotFound(name)
    schema = _read_json(name, schema_file)
    ui_file = _schemas_dir().joinpath(name + UI_SUFFIX)
    ui = _read_json(name, ui_file) if ui_file.is_file() else {}
    return form_from_documents(name, schema, ui)


def read_form_documents(directory: Traversable, name: str) -> tuple[Any, Any]:
    """The parsed schema and UI hints (``{}`` if none) of form ``name`` in a folder of form files.

    Raises ``FormNotFound`` if the folder has no ``NAME.schema.json``, ``InvalidForm`` if a file is not JSON.
    """
    if not _is_valid_name(name):
        raise FormNotFound(name)
    schema_file = directory.joinpath(name + SCHEMA_SUFFIX)
    if not schema_file.is_file():
        raise FormNotFound(name)
    ui_file = directory.joinpath(name + UI_SUFFIX)
    return _read_json(name, schema_file), _read_json(name, ui_file) if ui_file.is_file() else {}


def schemas_directory() -> Traversable:
    """The folder of the shipped form files."""
    return _schemas_dir()


def form_from_documents(name: str, schema: Any, ui: Any) -> Form:
    """A form from its parsed schema and UI hints (e.g. the version a process bundle keeps); checked as a
    shipped form is: ``InvalidForm`` for a schema that is not draft 2020-12 or UI hints that are no object.

    A schema without ``$schema`` (as SpiffArena writes them) is read as draft 2020-12; another draft is refused.
    """
    if not isinstance(schema, dict):
        raise InvalidForm(name, "the schema must be a JSON object")
    if schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        raise InvalidForm(name, f"the schema's $schema must be {DRAFT_2020_12!r} (or absent), "
                                f"not {schema.get('$schema')!r}")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidForm(name, exc.message) from exc
    if not isinstance(ui, dict):
        raise InvalidForm(name, "the UI schema must be a JSON object")
    title = {"da": str(schema.get("title", name)), "en": str(schema.get("x-title-en", name))}
    return Form(name=name, schema=schema, ui=ui, title=title)


def get_form(name: str) -> Form:
    """Return the form ``name``; raise ``FormNotFound`` if none ships, ``InvalidForm`` if its files are broken."""
    if not _is_valid_name(name):
        raise FormNotFound(name)
    return _load(name)


def form_exists(name: str) -> bool:
    """Tell whether a form of this name ships (a broken one still raises ``InvalidForm``: that is a bug)."""
    try:
        get_form(name)
    except FormNotFound:
        return False
    return True


def form_names() -> list[str]:
    """Return the names of all forms that ship, sorted."""
    names = (
        entry.name.removesuffix(SCHEMA_SUFFIX)
        for entry in _schemas_dir().iterdir()
        if entry.name.endswith(SCHEMA_SUFFIX)
    )
    return sorted(name for name in names if _is_valid_name(name))


def form_name_from_properties(properties: Mapping[str, str] | None) -> str | None:
    """Return the form a BPMN element names in its ``spiffworkflow:properties``, or None if it names none.

    Our convention is ``form`` = NAME; the SpiffArena convention is ``formJsonSchemaFilename`` = a file
    name, turned into a form name by :func:`form_name_from_filename` (``report-schema.json`` -> ``report``).
    ``form`` wins when both are given. A file name not ending in ``.json`` is returned unchanged so that a
    deploy check reports it as an unknown form.
    """
    if not properties:
        return None
    name = (properties.get("form") or "").strip()
    if name:
        return name
    filename = (properties.get("formJsonSchemaFilename") or "").strip()
    if not filename:
        return None
    return form_name_from_filename(filename) or filename


_SCHEMA_FILE_ENDINGS = (SCHEMA_SUFFIX, "-schema.json", "_schema.json", ".json")


def form_name_from_filename(filename: str) -> str | None:
    """The form name a JSON Schema file name stands for, or None if it is no ``.json`` file.

    Deterministic, and always a valid form name: the ending (``.schema.json``, ``-schema.json``,
    ``_schema.json`` or ``.json``) is cut off, the rest lower-cased, every run of characters other than
    ``a-z``, ``0-9`` and ``_`` becomes one ``_``, and a name that does not start with a letter gets the
    prefix ``form_``. ``report-schema.json`` -> ``report``, ``Near Miss.json`` -> ``near_miss``,
    ``lone_work_application.schema.json`` -> ``lone_work_application``.
    """
    base = filename.strip().rsplit("/", 1)[-1]
    for ending in _SCHEMA_FILE_ENDINGS:
        if base.lower().endswith(ending) and len(base) > len(ending):
            base = base[: -len(ending)]
            break
    else:
        return None
    name = re.sub(r"[^a-z0-9_]+", "_", base.lower()).strip("_")
    if not name:
        return None
    if not name[0].isalpha() or not name[0].isascii():
        name = "form_" + name
    return name[:64]
