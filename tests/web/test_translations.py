"""The Danish catalogue is complete and compiled: every `_()` string of service/ has a Danish text, and
the committed .mo says what the .po says."""

from __future__ import annotations

import gettext
from io import BytesIO
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}  # flask_babel.lazy_gettext as _l
MESSAGES = ROOT / "service" / "translations" / "da" / "LC_MESSAGES"


def _catalogue():
    with (MESSAGES / "messages.po").open("rb") as stream:
        return read_po(stream, locale="da")


def _source_ids() -> set[str]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as stream:
        method_map, options_map = parse_mapping_cfg(stream)
    found = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_of_the_pages_and_views_is_in_the_catalogue():
    catalogue_ids = {message.id[0] if isinstance(message.id, tuple) else message.id
                     for message in _catalogue() if message.id}

    assert _source_ids() - catalogue_ids == set()


def test_every_message_has_a_danish_translation():
    untranslated = [
        message.id for message in _catalogue()
        if message.id and (message.fuzzy or not all(message.string if isinstance(message.string, tuple)
                                                     else [message.string]))
    ]

    assert untranslated == []


def _messages(translations: gettext.GNUTranslations) -> dict[object, str]:
    """Every translated message of a compiled catalogue, without its header (which names the Babel that wrote it)."""
    return {key: text for key, text in translations._catalog.items() if key != ""}  # the only way to see every entry


def test_the_compiled_catalogue_is_up_to_date_with_the_po_file():
    compiled = BytesIO()
    write_mo(compiled, _catalogue())
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)

    with (MESSAGES / "messages.mo").open("rb") as stream:
        committed = gettext.GNUTranslations(stream)

    assert _messages(committed) == _messages(expected)
    assert _messages(committed)  # not vacuous: the catalogue has messages


def test_a_compiled_catalogue_from_another_babel_release_still_counts_as_up_to_date():
    """The header's Generated-By names the Babel release; a newer release must not fail the suite."""
    compiled = BytesIO()
    catalogue = _catalogue()
    catalogue.version = "changed"
    write_mo(compiled, catalogue)
    compiled.seek(0)
    with (MESSAGES / "messages.mo").open("rb") as stream:
        committed = gettext.GNUTranslations(stream)

    assert _messages(gettext.GNUTranslations(compiled)) == _messages(committed)
