"""Every kind of audit event has its words in Danish and English, and the case page shows them."""

from __future__ import annotations

import html
import re

import pytest

import processes
from processes.store.audit import record


def test_every_audit_kind_has_words_in_danish_and_english():
    for kind in processes.AuditKind:
        assert set(kind.words) == {"da", "en"}, kind
        assert all(word.strip() for word in kind.words.values()), kind
    assert len({kind.words["da"] for kind in processes.AuditKind}) == len(processes.AuditKind)
    assert len({kind.words["en"] for kind in processes.AuditKind}) == len(processes.AuditKind)


def _shown_kinds(page: str) -> dict[str, str]:
    """data-kind -> the words the history shows for it."""
    found = re.findall(r'data-kind="([a-z_]+)">\s*<time[^>]*>[^<]*</time>\s*<span class="history__kind">([^<]*)</span>',
                       page)
    return {kind: html.unescape(words) for kind, words in found}


@pytest.mark.parametrize("language", ["da", "en"])
def test_the_case_page_names_every_kind_of_event_in_words(browser, database, start_case, language):
    [task] = start_case("kemi")
    shown_kinds = [kind for kind in processes.AuditKind if kind not in processes.HIDDEN_KINDS]
    with database.write() as session:  # one event of every kind on this case, as the use cases write them
        for kind in shown_kinds:
            record(session, case_id=task.case_id, actor=None, kind=kind, detail={})
    browser.login("karl")
    if language == "en":
        browser.in_english()

    shown = _shown_kinds(browser.client.get(f"/cases/{task.case_id}").text)

    assert {kind.value: kind.words[language] for kind in shown_kinds}.items() <= shown.items()
    assert not set(processes.HIDDEN_KINDS) & set(shown)
