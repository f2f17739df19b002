"""HTML forms from JSON Schema: render-ready field descriptions, and posted strings back into JSON types.

Knows no web framework. ``fields`` reads a form's schema and UI hints in one language; ``parse_submission``
turns the name/value pairs a browser posts (``location.room``, ``chemicals.0.name``, a checkbox name
repeated) into the JSON the schema describes, leaving the judging of the values to ``forms.validate``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from forms.registry import Form

ATTACHMENT_FORMAT = "x-attachment"  # a string field holding the id of a case attachment: a file upload
LOCAL_TIME = ZoneInfo("Europe/Copenhagen")

_YES_NO = {"da": ("Ja", "Nej"), "en": ("Yes", "No")}
_ROW_WORD = {"da": "række", "en": "row"}
_TRUE = frozenset({"true", "on", "1", "yes"})
_FALSE = frozenset({"false", "off", "0", "no"})
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")
_LOCAL_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?")
_ROW = re.compile(r"([0-9]{1,4})\.")

# UI widget names that mean the same as ours.
_WIDGET_ALIASES = {"group": "object", "yes_no": "boolean", "datetime-local": "datetime", "date-time": "datetime"}
_WIDGETS = frozenset({
    "text", "textarea", "number", "integer", "date", "datetime", "select", "radio", "checkboxes", "checkbox",
    "boolean", "object", "table", "file",
})


@dataclass(frozen=True)
class Option:
    """One choice of a select, a radio group or a set of checkboxes."""

    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """One field of a form, ready for a template: its posted name, words, widget and choices.

    ``name`` is the dotted path the browser posts and ``forms.validate`` reports errors under
    (``location.room``). A table's columns carry only their own key as ``name``; ``cell`` builds a
    row's path (``chemicals.0.name``).
    """

    name: str
    key: str
    label: str
    help: str
    widget: str
    required: bool
    options: tuple[Option, ...] = ()
    fields: tuple[Field, ...] = ()  # the nested fields of an object, the columns of a table
    min_items: int = 0
    max_items: int | None = None
    max_length: int | None = None

    def cell(self, row: int, column: Field) -> str:
        """The posted name of ``column`` in row ``row`` of this table."""
        return f"{self.name}.{row}.{column.key}"

    def in_row(self, row: int) -> tuple[Field, ...]:
        """This table's columns with the names of row ``row``."""
        return tuple(replace(column, name=self.cell(row, column)) for column in self.fields)


@dataclass(frozen=True)
class Section:
    """A titled group of fields (the UI schema's ``sections``); untitled when the form has none."""

    title: str | None
    fields: tuple[Field, ...]


def _text(schema: Mapping[str, Any], key: str, language: str) -> str:
    if language == "en":
        return str(schema.get(f"x-{key}-en") or schema.get(key) or "")
    return str(schema.get(key) or "")


def _localised(value: Any, language: str) -> str:
    if isinstance(value, Mapping):
        return str(value.get(language) or value.get("da") or "")
    return str(value or "")


def _is_table(schema: Mapping[str, Any]) -> bool:
    items = schema.get("items")
    return schema.get("type") == "array" and isinstance(items, Mapping) and items.get("type") == "object"


def _default_widget(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "string":
        if schema.get("format") == ATTACHMENT_FORMAT:
            return "file"
        if "enum" in schema:
            return "select"
        return {"date": "date", "date-time": "datetime"}.get(str(schema.get("format")), "text")
    if kind == "array":
        return "table" if _is_table(schema) else "checkboxes"
    return {"integer": "integer", "number": "number", "boolean": "boolean", "object": "object"}.get(
        str(kind), "text")


def _widget(schema: Mapping[str, Any], ui: Mapping[str, Any]) -> str:
    default = _default_widget(schema)
    if default in ("file", "table", "checkboxes", "object", "datetime"):
        return default  # the schema decides; the UI hint cannot make these something else
    wanted = _WIDGET_ALIASES.get(str(ui.get("widget", "")), str(ui.get("widget", "")))
    if wanted == "number" and schema.get("type") == "integer":
        wanted = "integer"
    if schema.get("type") == "boolean":
        return wanted if wanted in ("boolean", "checkbox") else "boolean"
    return wanted if wanted in _WIDGETS and wanted not in ("boolean", "checkbox") else default


def _options(schema: Mapping[str, Any], ui: Mapping[str, Any], widget: str, language: str) -> tuple[Option, ...]:
    if widget == "boolean":
        yes, no = _YES_NO.get(language, _YES_NO["da"])
        return (Option("true", yes), Option("false", no))
    enum = schema.get("enum")
    if enum is None and isinstance(schema.get("items"), Mapping):
        enum = schema["items"].get("enum")
    labels = ui.get("x-enum-labels") or {}
    return tuple(Option(str(value), _localised(labels.get(value), language) or str(value)) for value in enum or ())


def _ordered(properties: Mapping[str, Any], ui: Mapping[str, Any]) -> list[str]:
    order = [key for key in ui.get("order", ()) if key in properties]
    return order + [key for key in properties if key not in order]


def _field(key: str, path: str, schema: Mapping[str, Any], ui: Mapping[str, Any], *, required: bool,
           language: str) -> Field | None:
    widget = _widget(schema, ui)
    help_text = " ".join(part for part in (_text(schema, "description", language),
                                           _localised(ui.get("help"), language)) if part)
    nested: tuple[Field, ...] = ()
    if widget == "object":
        nested = _children(schema, ui, path, language)
        if not nested:
            return None  # a free-form object has no fields to show; the API can still fill it
    elif widget == "table":
        nested = _children(schema["items"], {**ui, "order": ui.get("columns", ui.get("order", ()))}, "", language)
    return Field(
        name=path, key=key, label=_text(schema, "title", language) or key, help=help_text, widget=widget,
        required=required, options=_options(schema, ui, widget, language), fields=nested,
        min_items=int(schema.get("minItems", 0)), max_items=schema.get("maxItems"),
        max_length=schema.get("maxLength"),
    )


def _children(schema: Mapping[str, Any], ui: Mapping[str, Any], prefix: str, language: str) -> tuple[Field, ...]:
    properties = schema.get("properties") or {}
    required = set(schema.get("required", ()))
    ui_fields = ui.get("fields") or {}
    built = (
        _field(key, f"{prefix}.{key}" if prefix else key, properties[key], ui_fields.get(key) or {},
               required=key in required, language=language)
        for key in _ordered(properties, ui)
    )
    return tuple(field for field in built if field is not None)


def fields(form: Form, language: str) -> list[Field]:
    """The form's fields in the UI schema's order, with labels, help and choices in ``language`` (da|en)."""
    return list(_children(form.schema, form.ui, "", language))


def sections(form: Form, language: str) -> list[Section]:
    """The form's fields grouped by the UI schema's sections; fields no section names come last, untitled."""
    by_key = {field.key: field for field in fields(form, language)}
    grouped: list[Section] = []
    for section in form.ui.get("sections", ()):
        members = tuple(by_key.pop(key) for key in section.get("fields", ()) if key in by_key)
        if members:
            grouped.append(Section(_localised(section.get("title"), language) or None, members))
    if by_key:
        grouped.append(Section(None, tuple(by_key.values())))
    return grouped


def title(form: Form, language: str) -> str:
    """The form's title in ``language``."""
    return form.title.get(language) or form.title["da"]


def description(form: Form, language: str) -> str:
    """The form's introduction in ``language``."""
    return _text(form.schema, "description", language)


def path_label(found: Iterable[Field], path: str, language: str) -> str:
    """A field path in words for an error summary: "Risk assessment, row 1: Measure"; the path if unknown."""
    parts, words = path.split("."), []
    current = list(found)
    index = 0
    while index < len(parts):
        field = next((item for item in current if item.key == parts[index]), None)
        if field is None:
            return path
        words.append(field.label)
        index += 1
        if field.widget == "table" and index < len(parts) and parts[index].isdigit():
            words[-1] += f", {_ROW_WORD.get(language, 'row')} {int(parts[index]) + 1}"
            index += 1
        current = list(field.fields)
    return ": ".join(words)


# --- reading a submission -----------------------------------------------------------------------------

def _scalar(raw: str, schema: Mapping[str, Any]) -> Any:
    """A posted string as the schema's type; what does not parse stays a string for validation to name."""
    kind = schema.get("type")
    value = raw.strip()
    if kind == "boolean":
        lowered = value.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else value
    if kind == "integer" and _INTEGER.fullmatch(value):
        return int(value)
    if kind == "number" and _NUMBER.fullmatch(value):
        number = float(value.replace(",", "."))
        return int(number) if number.is_integer() and _INTEGER.fullmatch(value) else number
    if kind == "string" and schema.get("format") == "date-time" and _LOCAL_DATE_TIME.fullmatch(value):
        return datetime.fromisoformat(value).replace(tzinfo=LOCAL_TIME).isoformat(timespec="seconds")
    return value


class _Posted:
    """The posted pairs by name, every value kept (a checkbox name repeats)."""

    def __init__(self, pairs: Iterable[tuple[str, str]], files: Mapping[str, str]) -> None:
        self.values: dict[str, list[str]] = {}
        for name, value in pairs:
            self.values.setdefault(name, []).append(value)
        self.files = files

    def last(self, name: str) -> str:
        """The last non-empty value of ``name`` ("" if none): a hidden default comes before its checkbox."""
        return next((value for value in reversed(self.values.get(name, ())) if value.strip()), "")

    def rows(self, prefix: str) -> list[int]:
        """The row numbers posted under the table ``prefix`` (``prefix.N.column``), in order."""
        found = {int(match[1]) for name in self.values if name.startswith(prefix + ".")
                 if (match := _ROW.match(name, len(prefix) + 1))}
        return sorted(found)


def _value(schema: Mapping[str, Any], path: str, posted: _Posted) -> Any:
    """The JSON value of the field at ``path``, or None when nothing was entered."""
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, path, posted) or None
    if kind == "array" and _is_table(schema):
        rows = (_object(schema["items"], f"{path}.{row}", posted) for row in posted.rows(path))
        return [row for row in rows if row] or None
    if kind == "array":
        if path not in posted.values:
            return None
        items = schema.get("items") or {}
        chosen = [_scalar(value, items) for value in posted.values[path] if value.strip()]
        return list(dict.fromkeys(chosen))  # the empty hidden marker makes "none ticked" an empty list
    if schema.get("format") == ATTACHMENT_FORMAT and path in posted.files:
        return posted.files[path]
    raw = posted.last(path)
    return _scalar(raw, schema) if raw.strip() else None


def _object(schema: Mapping[str, Any], prefix: str, posted: _Posted) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, child in (schema.get("properties") or {}).items():
        if not isinstance(child, Mapping):
            continue
        value = _value(child, f"{prefix}.{key}" if prefix else key, posted)
        if value is not None:
            result[key] = value
    return result


def parse_submission(
    form: Form, pairs: Iterable[tuple[str, str]], files: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The posted name/value pairs as the form's JSON data; ``files`` maps a file field's path to its attachment id.

    Empty fields are left out (a required one is then reported by ``forms.validate``); names the form does
    not know (``csrf_token``, ``action``) are ignored; table rows left empty are dropped.
    """
    return _object(form.schema, "", _Posted(pairs, files or {}))


def value_at(data: Any, path: str) -> Any:
    """The value at a dotted path of the data (``location.room``, ``chemicals.0.name``), or None."""
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def input_value(field: Field, value: Any) -> str:
    """The value of a field as an ``<input>`` shows it (a date-time in local time, without its zone)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if field.widget == "datetime" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(LOCAL_TIME)
        return moment.strftime("%Y-%m-%dT%H:%M")
    return str(value)


def is_chosen(option: Option, value: Any) -> bool:
    """Whether ``option`` is the value (a select, a radio group) or among the values (checkboxes)."""
    if isinstance(value, list):
        return option.value in {input_value_text(item) for item in value}
    return option.value == input_value_text(value)


def input_value_text(value: Any) -> str:
    """A scalar as the string a form posts for it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# --- showing data -------------------------------------------------------------------------------------

def _shown(field: Field | None, value: Any, language: str) -> str:
    if isinstance(value, bool):
        yes, no = _YES_NO.get(language, _YES_NO["da"])
        return yes if value else no
    labels = {option.value: option.label for option in field.options} if field else {}
    if isinstance(value, list):
        return ", ".join(_shown(field, item, language) for item in value)
    return labels.get(input_value_text(value), input_value_text(value))


@dataclass(frozen=True)
class Entry:
    """One line of case data for a definition list: a label, and a value in words (or rows of entries)."""

    label: str
    text: str
    rows: tuple[tuple[Entry, ...], ...] = ()


def _entries(data: Mapping[str, Any], known: Mapping[str, Field], language: str) -> list[Entry]:
    result: list[Entry] = []
    for key, value in data.items():
        field = known.get(key)
        label = field.label if field else key.replace("_", " ").capitalize()
        nested = {child.key: child for child in field.fields} if field else {}
        if isinstance(value, Mapping):
            inner = _entries(value, nested, language)
            result.append(Entry(label, "; ".join(f"{entry.label}: {entry.text}" for entry in inner)))
        elif isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            rows = tuple(tuple(_entries(item, nested, language)) for item in value)
            result.append(Entry(label, "", rows))
        else:
            result.append(Entry(label, _shown(field, value, language)))
    return result


def describe_data(data: Mapping[str, Any], known_forms: Iterable[Form], language: str) -> list[Entry]:
    """Case data in words: each key with the label of the first of ``known_forms`` that has it.

    Keys no form knows keep their own name; enum values and booleans are shown by their labels.
    """
    known: dict[str, Field] = {}
    for form in known_forms:
        for field in fields(form, language):
            known.setdefault(field.key, field)
    return _entries(data, known, language)
