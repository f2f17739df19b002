"""Forms (*formularer*): one JSON Schema with Danish and English labels per user-task and start form.

Imports nothing of ours. ``processes`` validates case data with ``validate`` before it completes a task;
``service`` renders a form from ``get_form(name).schema`` and ``.ui`` through ``forms.html``.
"""

from forms import html
from forms.errors import FormNotFound, FormsError, InvalidForm
from forms.html import Field, Section, parse_submission
from forms.registry import (
    Form,
    form_exists,
    form_from_documents,
    form_name_from_filename,
    form_name_from_properties,
    form_names,
    get_form,
    read_form_documents,
    schemas_directory,
)
from forms.validation import FORMAT_CHECKER, validate, validate_with

__all__ = [
    "FORMAT_CHECKER",
    "Field",
    "Form",
    "FormNotFound",
    "FormsError",
    "InvalidForm",
    "Section",
    "form_exists",
    "form_from_documents",
    "form_name_from_filename",
    "form_name_from_properties",
    "form_names",
    "get_form",
    "html",
    "parse_submission",
    "read_form_documents",
    "schemas_directory",
    "validate",
    "validate_with",
]
