"""A process's own list of its cases (listColumns with listLabels/listValues), case references in the data
as links (caseRefs), and units by their names (issues #13, #17)."""

from __future__ import annotations

import copy
import re

import pytest

import processes
from processes.store.models import Case
from tests.samples import G2_AMK_REVIEW as AMK_REVIEW
from tests.samples import G2_APPLICATION
from tests.samples import G2_APPROVAL as LEADER_APPROVAL

INSTRUCTION = {"instructed_on": "2026-08-25", "instructed_by": "AMK", "instruction_covered": "Nødprocedure"}
LIST = "/processes/lone_work_validity/cases"


def _approved(database: processes.Database) -> tuple[str, str]:
    """An approved G2 lone-work application in kemi: (its case id, its validity case id)."""
    user = {name: processes.get_user(database, name) for name in ("anna", "karl", "lene")}
    case = processes.start_case(database, process="lone_work_approval", unit="kemi",
                                data=copy.deepcopy(G2_APPLICATION), actor=user["anna"])
    for who, data in (("karl", AMK_REVIEW), ("lene", LEADER_APPROVAL), ("karl", INSTRUCTION)):
        if not case.tasks:
            break
        case = processes.complete_task(database, case.tasks[0].id, data=data, actor=user[who])
    assert case.status == "completed", case.tasks
    [validity] = [entry.detail["case"] for entry in case.history if entry.kind == "case_spawned"]
    return case.id, validity


@pytest.fixture
def approved(database):
    return _approved(database)


def _rows(page: str) -> dict[str, str]:
    """Case id -> the text of its row's approval status cell."""
    return dict(re.findall(r'data-case-id="([^"]+)">.*?data-column="approval_status" data-value="[^"]*">([^<]*)<',
                           page, re.S))


def test_the_units_leader_sees_its_approvals_with_their_status_in_words(browser, approved):
    _case, validity = approved
    browser.login("lene")
    page = browser.client.get(LIST)
    assert page.status_code == 200
    assert _rows(page.text) == {validity: "Aktiv"}
    assert "Gyldig til" in page.text and LEADER_APPROVAL["valid_until"] in page.text  # listLabels; the value itself
    assert "Ansøgers navn" in page.text  # a listed field a form names keeps the form's label
    assert "DTU Kemi" in page.text  # the unit by its name
    assert f'href="/cases/{validity}"' in page.text


def test_another_units_leader_sees_none_of_them(browser, approved):
    browser.login("erik")
    page = browser.client.get(LIST)
    assert page.status_code == 200
    assert _rows(page.text) == {}


def test_the_list_is_filtered_by_status(browser, database, approved):
    _case, validity = approved
    browser.login("lene")
    assert _rows(browser.client.get(f"{LIST}?approval_status=active").text) == {validity: "Aktiv"}
    assert _rows(browser.client.get(f"{LIST}?approval_status=revoked").text) == {}
    processes.send_message(database, validity, "revoke approval", data={"revocation_reason": "Fratrådt"},
                           actor=processes.get_user(database, "lene"))
    assert _rows(browser.client.get(f"{LIST}?approval_status=revoked").text) == {validity: "Tilbagekaldt"}
    assert _rows(browser.client.get(f"{LIST}?approval_status=active").text) == {}
    ignored = browser.client.get(f"{LIST}?approval_status=bogus&hazards=x")
    assert ignored.status_code == 200
    assert "approval_status" in ignored.text and "hazards" in ignored.text  # named as ignored
    assert _rows(ignored.text) == {validity: "Tilbagekaldt"}  # shown without those filters


def test_the_labels_and_values_are_english_in_english(browser, approved):
    _case, validity = approved
    browser.login("karl")
    browser.in_english()
    page = browser.client.get(LIST).text
    assert _rows(page) == {validity: "Active"}
    assert "Valid until" in page and "Risk group" in page and "Gyldig til" not in page
    assert 'value="superseded">Superseded by a new approval<' in page


def test_the_case_list_links_to_the_process_lists(browser, approved):
    browser.login("lene")
    page = browser.client.get("/cases").text
    assert f'href="{LIST}"' in page


def test_a_case_named_in_the_data_is_a_link_with_its_title(browser, database, approved):
    case_id, validity = approved
    title = processes.get_case(database, case_id, actor=processes.get_user(database, "anna")).title
    browser.login("lene")
    page = browser.client.get(f"/cases/{validity}").text
    link = re.search(r'data-case-ref="approval_case">.*?<a href="/cases/([^"]+)">([^<]+)</a>', page, re.S)
    assert link and link[1] == case_id
    assert link[2] == title.replace("&", "&amp;") and title


def test_a_reference_in_a_record_is_a_link_and_a_case_the_reader_may_not_read_shows_only_its_id(
        browser, database, approved):
    case_id, validity = approved
    lene = processes.get_user(database, "lene")
    changed = processes.send_message(database, validity, "report a change", actor=lene,
                                     data={"change_kinds": ["room"], "change_description": "Nyt lokale 114"})
    [again] = [entry.detail["case"] for entry in changed.history if entry.kind == "case_spawned"]
    karl = processes.get_user(database, "karl")  # the AMK reviews the re-assessment
    refs = {ref.path: ref for ref in processes.case_references(database, again, actor=karl)}
    assert refs["previous_case"].case_id == validity and refs["previous_case"].readable
    assert refs["previous_approval.approval_case"].case_id == case_id
    browser.login("karl")
    page = browser.client.get(f"/cases/{again}").text
    assert re.search(rf'data-case-ref="previous_case">.*?<a href="/cases/{validity}">[^<]+</a>', page, re.S)
    assert re.search(rf'data-case-ref="previous_approval.approval_case">.*?href="/cases/{case_id}"', page, re.S)
    assert f"<dd>{case_id}</dd>" not in page and case_id not in re.sub(r'href="[^"]*"', "", page)


def test_a_case_the_reader_may_not_read_is_named_only_by_its_short_id(browser, database, approved, start_case):
    _case_id, validity = approved
    [other_task] = start_case("energi")  # another unit's application, which kemi's leader may not read
    other = processes.get_case(database, other_task.case_id, actor=processes.get_user(database, "emil"))
    with database.write() as session:  # the validity case names that case instead
        row = session.get(Case, validity)
        row.data = {**row.data, "approval_case": other.id}
    [ref] = processes.case_references(database, validity, actor=processes.get_user(database, "lene"))
    assert (ref.case_id, ref.readable, ref.title) == (other.id, False, None)
    browser.login("lene")
    page = browser.client.get(f"/cases/{validity}").text
    link = re.search(r'data-case-ref="approval_case">.*?<a href="/cases/([^"]+)">([^<]+)</a>', page, re.S)
    assert link and link[1] == other.id
    assert link[2] == f"Sag {other.id[:8]}" and other.title not in page


def test_pages_show_units_by_their_names(browser, approved):
    case_id, _validity = approved
    browser.login("lene")
    case_page = browser.client.get(f"/cases/{case_id}").text
    assert re.search(r'<dd data-unit="kemi">DTU Kemi</dd>', case_page)
    cases = browser.client.get("/cases?scope=unit").text
    assert re.search(r'data-unit="kemi">DTU Kemi</td>', cases)


def test_the_queue_shows_the_unit_by_its_name(browser, start_case):
    start_case("kemi")
    browser.login("karl")
    queue = browser.client.get("/").text
    assert re.search(r'data-unit="kemi">DTU Kemi</td>', queue)
    assert 'selected>DTU Kemi</option>' in queue or '>DTU Kemi</option>' in queue
