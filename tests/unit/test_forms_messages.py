"""Validation messages shown in Danish on Danish pages."""

from __future__ import annotations

import pytest

from forms import validate
from forms.messages import translate


@pytest.mark.parametrize(
    ("english", "danish"),
    [
        ("This field is required.", "Feltet skal udfyldes."),
        ("Must be one of: approve, reject, send_back.", "Skal være en af: approve, reject, send_back."),
        ("Must be a whole number.", "Skal være et helt tal."),
        ("Must be true or false.", "Skal være ja eller nej."),
        ("Must have at least 1 entry.", "Skal have mindst 1 række."),
        ("Must be at least 14.", "Skal være mindst 14."),
        ("Must be a date (YYYY-MM-DD).", "Skal være en dato (ÅÅÅÅ-MM-DD)."),
        ("Something we never wrote.", "Something we never wrote."),
    ],
)
def test_known_messages_are_translated_and_unknown_ones_kept(english, danish):
    assert translate(english, "da") == danish
    assert translate(english, "en") == english


def test_every_message_of_a_bad_application_has_a_danish_form():
    errors = validate("lone_work_application", {"applicant_age": "old", "hazards": ["lava"], "start_date": "x"})
    untranslated = {path: msg for path, msg in errors.items() if translate(msg, "da") == msg}
    assert untranslated == {}
