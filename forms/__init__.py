"""Forms (*formularer*): one JSON Schema with Danish and English labels per user-task and start form.

Imports nothing of ours. ``processes`` validates case data with ``validate`` before it completes a task;
``service`` renders a form from ``get_form(name).schema`` and ``.ui``.
"""

from forms.errors import FormNotFound, FormsError, InvalidForm
from forms.registry import Form, form_exists, form_name_from_properties, form_names, get_form
from forms.validation import FORMAT_CHECKER, validate

__all__ = [
    "FORMAT_CHECKER",
    "Form",
    "FormNotFound",
    "FormsError",
    "InvalidForm",
    "form_exists",
    "form_name_from_properties",
    "form_names",
    "get_form",
    "validate",
]
