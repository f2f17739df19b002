"""In English no Danish word is left on the lone-work process's pages (issue #17, "everything in words").

A lone-work case is applied for, reviewed by the AMK and approved by the leader through the web pages in
English; the queue, task and case pages (and the diagram the case page draws) are scanned for the Danish
words of the lone-work process. The list of Danish words is derived, not typed: every Danish text of the
lone-work BPMN files, forms, rule set and page catalogue, split into words, less every word any English
text of the same sources uses (words both languages share, and names such as DTU or AMK).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from lxml import etree
from werkzeug.datastructures import MultiDict

from processes.demo import DEMO_USERS
from tests.samples import G2_AMK_REVIEW as AMK_REVIEW
from tests.samples import G2_APPLICATION, form_pairs
from tests.samples import G2_APPROVAL as LEADER_APPROVAL

ROOT = Path(__file__).resolve().parents[2]
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
WORD = re.compile(r"[^\W\d_]{3,}")



# --- the Danish words of the lone-work process -------------------------------------------------------------

def _pairs(document: Any) -> Iterator[tuple[str, str]]:
    """(Danish, English) text pairs of a form, UI schema or rule set: {"da", "en"} objects, and a schema's
    ``title``/``description`` beside its ``x-title-en``/``x-description-en``."""
    if isinstance(document, dict):
        if isinstance(document.get("da"), str) and isinstance(document.get("en"), str):
            yield document["da"], document["en"]
        for key in ("title", "description"):
            if isinstance(document.get(key), str) and isinstance(document.get(f"x-{key}-en"), str):
                yield document[key], document[f"x-{key}-en"]
        for value in document.values():
            yield from _pairs(value)
    elif isinstance(document, list):
        for item in document:
            yield from _pairs(item)


def _bpmn_pairs(path: Path) -> Iterator[tuple[str, str]]:
    """(name, nameEn) of every named element of a BPMN file."""
    for element in etree.parse(str(path)).iter():
        bpmn = isinstance(element.tag, str) and element.tag.startswith(f"{{{BPMN_NS}}}")
        name = element.get("name") if bpmn else None
        if not name or element.tag == f"{{{BPMN_NS}}}lane":  # a lane's name is a group code
            continue
        english = element.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/"
                               f"{{{SPIFF_NS}}}property[@name='nameEn']")
        yield name, english.get("value", "") if english is not None else ""


def _catalogue_pairs() -> Iterator[tuple[str, str]]:
    with (ROOT / "service/translations/da/LC_MESSAGES/messages.po").open("rb") as file:
        for message in read_po(file):
            if message.id and message.string:
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                yield " ".join(strings), " ".join(ids)


def _words(text: str) -> set[str]:
    return {word.lower() for word in WORD.findall(re.sub(r"%\(\w+\)s|\{\w+\}", " ", text))}


def danish_words() -> set[str]:
    """The words of the lone-work process's Danish texts that none of its English texts use."""
    pairs = list(_catalogue_pairs())
    for path in sorted((ROOT / "forms/schemas").glob("lone_work_*.json")):
        pairs += _pairs(json.loads(path.read_text(encoding="utf-8")))
    pairs += _pairs(json.loads((ROOT / "rules/data/lone_work.rules.json").read_text(encoding="utf-8")))
    for path in sorted((ROOT / "bpmn").glob("lone_work_*.bpmn")):
        pairs += _bpmn_pairs(path)
    # acronyms (DTU, AMK, AMR, BEK) are names in both languages
    danish = set().union(*(_words(da) for da, _en in pairs)) - {
        word.lower() for da, _en in pairs for word in WORD.findall(da) if word.isupper()}
    # an English text may quote a Danish term ("Godkendelse af alenearbejde"): the quote is no English
    english = set().union(*(_words(re.sub(r'"[^"]*"|“[^”]*”', " ", en)) for _da, en in pairs))
    return danish - english


def test_the_danish_word_list_is_derived_and_holds_the_process_words():
    words = danish_words()

    # the codes and words issue #17 found in English pages, and words of the BPMN, forms and catalogue
    assert {"risikofyldt", "gennemgå", "risikovurderingen", "alenearbejde", "godkend", "farer"} <= words
    assert not {"dtu", "amk", "the", "and", "case"} & words


# --- the pages --------------------------------------------------------------------------------------------

# data, not page text: the demo people's names, whole and without their description ("Karl Koordinator")
PEOPLE_NAMES = [form for _user, name, _groups, _units in DEMO_USERS for form in (name, name.split(" (")[0])]


def visible_text(page: str) -> str:
    """What a reader sees or hears of a page: its text and its labels for assistive technology, without the
    language switch (each language names itself) and the people's names (data)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<form[^>]*class="language-switch".*?</form>', " ", page, flags=re.S)
    labels = re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', page)
    text = html.unescape(re.sub(r"<[^>]+>", " ", page) + " " + " ".join(labels))
    text = re.sub(r'"[^"\n]{1,80}"', " ", text)  # an English text may quote a Danish legal term, as the list
    for name in sorted(PEOPLE_NAMES, key=len, reverse=True):
        text = text.replace(name, " ")
    return text


def diagram_labels(xml: bytes) -> str:
    """The labels the diagram viewer draws: every element's name."""
    return " ".join(element.get("name") or "" for element in etree.fromstring(xml).iter()
                    if isinstance(element.tag, str))


def danish_left(text: str, danish: set[str]) -> list[str]:
    return sorted(_words(text) & danish)


@pytest.fixture
def scan(browser):
    danish = danish_words()
    found: dict[str, list[str]] = {}

    def check(path: str, text: str) -> None:
        for word in danish_left(text, danish):  # each with where it stands, for the failure message
            at = re.search(rf"(?i)\b{word}\b", text)
            shown = " ".join(text[max(0, at.start() - 40):at.end() + 40].split()) if at else ""
            found.setdefault(path, []).append(f"{word}: …{shown}…")

    check.found = found  # type: ignore[attr-defined]
    return check


def test_in_english_no_danish_word_is_left_on_the_lone_work_pages(app, scan):
    def person(username: str):
        client = app.test_client()
        from tests.web.conftest import Browser  # noqa: PLC0415 - the fixture's class, for several sessions

        browser = Browser(client)
        assert browser.login(username).status_code == 302
        return browser.in_english()

    def read(browser, path: str) -> str:
        response = browser.client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        scan(path, visible_text(response.text))
        return response.text

    def post(browser, path: str, pairs: list[tuple[str, str]]):
        return browser.client.post(path, data=MultiDict([("csrf_token", browser.csrf_token()), *pairs]))

    anna = person("anna")
    read(anna, "/start/lone_work_approval")
    started = post(anna, "/start/lone_work_approval", [("unit", "kemi"), *form_pairs(G2_APPLICATION)])
    assert started.status_code == 303, started.text[:2000]
    case_id = started.headers["Location"].rsplit("/", 1)[-1]
    read(anna, f"/cases/{case_id}")
    read(anna, "/cases")

    for username, data in (("karl", AMK_REVIEW), ("lene", LEADER_APPROVAL)):
        handler = person(username)
        queue = read(handler, "/")
        task_id = re.findall(r'<tr class="task[^"]*" data-task-id="([^"]+)"', queue)[0]
        read(handler, f"/tasks/{task_id}")
        done = post(handler, f"/tasks/{task_id}", [("action", "complete"), *form_pairs(data)])
        assert done.status_code == 303, done.text[:3000]
        read(handler, "/")
        page = read(handler, f"/cases/{case_id}")
        scan(f"/cases/{case_id}/diagram.xml", diagram_labels(handler.client.get(f"/cases/{case_id}/diagram.xml").data))
        assert "data-status=" in page
    read(anna, f"/cases/{case_id}")
    read(anna, "/cases")

    assert scan.found == {}, json.dumps(scan.found, indent=1, ensure_ascii=False)
