"""Issue #18's acceptance in a real browser: a process owner (owen) opens lone_work_approval in the modeler,
appends a user task in the amk lane with an existing form (context pad, change type, the properties panel),
renames the leaders' lane to a group that does not exist and sees the validation error on the lane, fixes it
by mapping the lane to a group, and deploys version 2 with a note. A case started before still runs on
version 1, a new one on version 2; the diff lists the added task; the dry run lists the old case as movable
and the migration moves it. An English owner sees the modeler and its panel in English, a Danish one in Danish.
"""

from __future__ import annotations

import copy
import io
import json
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_lone_work_pages import G2_APPLICATION, PASSWORD, PROCESS, _post_json

DESKTOP = {"width": 1400, "height": 900}
PANEL_WORDS = {
    "da": {"heading": "Egenskaber", "form": "Formular", "validate": "Validér", "deploy": "Udrul"},
    "en": {"heading": "Properties", "form": "Form", "validate": "Validate", "deploy": "Deploy"},
}


def _token(browsing: Any, username: str) -> str:
    return _post_json(browsing.url("/api/v1/auth/token"), {"username": username, "password": PASSWORD})["token"]


def _start_case(browsing: Any) -> dict[str, Any]:
    return _post_json(browsing.url("/api/v1/cases"),
                      {"process": PROCESS, "unit": "kemi", "data": copy.deepcopy(G2_APPLICATION)},
                      _token(browsing, "anna"))


def _case_version(browsing: Any, case_id: str) -> int:
    request = urllib.request.Request(browsing.url(f"/api/v1/cases/{case_id}"),
                                     headers={"Authorization": f"Bearer {_token(browsing, 'anna')}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["version"]


def _log_in(browsing: Any, username: str, language: str) -> Page:
    page = browsing.new_page(DESKTOP)
    page.goto("/login")
    if language != "da":
        page.locator(f'form.language-switch button[value="{language}"]').click()
        expect(page.locator("html")).to_have_attribute("lang", language)
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator('main form button[type="submit"]').click()
    expect(page.get_by_test_id("who")).to_be_visible()
    return page


def _open_editor(page: Page) -> None:
    page.goto("/modeler/")
    page.locator(f'[data-process="{PROCESS}"] .modeler-links a').first.click()
    expect(page.locator("#modeler")).to_have_attribute("data-ready", "true")


def _select(page: Page, element_id: str, *, lane: bool = False) -> None:
    box = page.locator(f'.djs-element[data-element-id="{element_id}"]').bounding_box()
    assert box is not None
    x = box["x"] + 12 if lane else box["x"] + box["width"] / 2  # a lane is picked by its name strip
    page.mouse.click(x, box["y"] + box["height"] / 2)
    expect(page.locator("[data-panel-id]")).to_have_text(element_id)


def test_an_owner_adds_a_task_fixes_a_lane_deploys_version_2_diffs_and_migrates(browsing: Any) -> None:
    old_case = _start_case(browsing)
    page = _log_in(browsing, "owen", "en")
    _open_editor(page)

    # a user task appended after the AMK's review, in the amk lane, with an existing form
    _select(page, "amk_review")
    page.locator('.djs-context-pad .entry[data-action="append.append-task"]').click()
    new_id = page.locator("[data-panel-id]").inner_text()
    assert new_id != "amk_review"
    page.keyboard.press("Escape")  # bpmn-js starts editing the new task's label: leave it
    # "Change element" to a user task with bpmn-js's own replace service (its popup did not open from the context
    # pad under headless Chromium here), moved to a free spot of the amk lane (bpmn-js placed the appended task
    # below, in the leaders' lane) and its flow from amk_review removed (the engine refuses a task with two
    # outgoing flows); then selected as a click would
    new_id = page.evaluate("""id => {
        const modeler = window.amflowModeler;
        const task = modeler.get("bpmnReplace").replaceElement(modeler.get("elementRegistry").get(id),
                                                               { type: "bpmn:UserTask" });
        const registry = modeler.get("elementRegistry"), lane = registry.get("lane_amk");
        const free = (x, y) => !registry.filter(e => !e.waypoints && e.type !== "bpmn:Lane" && e.type !== "label"
            && e.type !== "bpmn:Participant" && e !== task && e.x < x + 130 && x - 30 < e.x + e.width
            && e.y < y + 110 && y - 30 < e.y + e.height).length;
        let x = lane.x + lane.width - 140, y = lane.y + (lane.height - 80) / 2;
        while (x > lane.x + 60 && !free(x, y)) x -= 40;
        modeler.get("modeling").moveElements([task], { x: x - task.x, y: y - task.y }, lane.parent);
        modeler.get("modeling").removeElements(task.incoming.slice());  // a task may have one outgoing flow
        modeler.get("selection").select(task);
        return task.id;
    }""", new_id)
    expect(page.locator("[data-panel-id]")).to_have_text(new_id)
    page.locator("#panel-name").fill("Extra check")
    page.locator("#panel-name").press("Tab")
    page.locator("#panel-form-name").select_option("free_note")
    lane_of_task = page.evaluate(
        """id => window.amflowModeler.get("elementRegistry").filter(e => e.type === "bpmn:Lane" &&
             (e.businessObject.flowNodeRef || []).some(n => n.id === id)).map(e => e.id)""", new_id)
    assert lane_of_task == ["lane_amk"]

    # a lane naming no group: a problem on the lane, in the list and on the diagram
    _select(page, "lane_leaders", lane=True)
    page.locator("#panel-name").fill("safety_board")
    page.locator("#panel-name").press("Tab")
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#modeler")).to_have_attribute("data-validated", "problems")
    expect(page.locator('#modeler-problems li[data-element="lane_leaders"]')).to_be_visible()
    expect(page.locator('.djs-overlay [data-problem-element="lane_leaders"]')).to_be_visible()

    # fixed by mapping the lane to the leaders' group, which validates again
    page.locator('select[data-map-lane="safety_board"]').select_option("leaders")
    expect(page.locator("#modeler-problems li")).to_have_count(0)
    expect(page.locator("#modeler")).to_have_attribute("data-validated", "ok")
    expect(page.locator('#modeler-problems li')).to_have_count(0)

    page.locator("#modeler-note").fill("An extra check after the AMK's review")
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("#modeler")).to_have_attribute("data-deployed", "2")

    new_case = _start_case(browsing)
    assert _case_version(browsing, old_case["id"]) == 1
    assert _case_version(browsing, new_case["id"]) == 2

    page.goto("/modeler/")
    process = page.locator(f'[data-process="{PROCESS}"]')
    expect(process.locator('tr[data-version="2"] td').nth(3)).to_have_text("An extra check after the AMK's review")
    process.locator('tr[data-version="2"] a[data-diff]').click()
    expect(page.locator(f'ul[data-kind="added"] li[data-element="{new_id}"]')).to_contain_text("Extra check")
    expect(page.locator("#diff-diagram")).to_have_attribute("data-rendered", "true")
    expect(page.locator(f'.djs-element.diff-added[data-element-id="{new_id}"]')).to_have_count(1)

    page.goto("/modeler/")
    page.locator(f'[data-process="{PROCESS}"] tr[data-version="1"] a[data-migrate]').click()
    row = page.locator(f'tr[data-case="{old_case["id"]}"]')
    expect(row).to_have_attribute("data-movable", "true")
    expect(page.get_by_test_id("migration")).to_have_attribute("data-done", "false")
    page.locator("#migrate-now").click()
    expect(page.get_by_test_id("migration")).to_have_attribute("data-done", "true")
    expect(row.locator("[data-moved]")).to_have_attribute("data-moved", "true")
    assert _case_version(browsing, old_case["id"]) == 2


@pytest.mark.parametrize("language", ["en", "da"])
def test_an_owner_sees_the_modeler_and_its_panel_in_their_language(browsing: Any, language: str) -> None:
    words = PANEL_WORDS[language]
    page = _log_in(browsing, "owen", language)
    _open_editor(page)

    _select(page, "amk_review")

    expect(page.locator("#panel-heading")).to_have_text(words["heading"])
    expect(page.locator('label[data-for="task"]').first).to_contain_text(words["form"])
    expect(page.locator("#panel-form-name")).to_have_value("lone_work_amk_review")
    expect(page.locator("#modeler-validate")).to_have_text(words["validate"])
    expect(page.locator("#modeler-deploy")).to_have_text(words["deploy"])


def test_the_modeler_page_does_not_break_on_a_phone(browsing: Any) -> None:
    page = _log_in(browsing, "owen", "da")
    page.set_viewport_size({"width": 390, "height": 844})
    _open_editor(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


SPIFFARENA_MODEL = Path(__file__).parents[1] / "processes" / "spiffarena" / "ohs-incident"
PHONE = {"width": 390, "height": 844}


def _model_zip() -> bytes:
    """The zip a process owner makes of SpiffArena's model folder tests/processes/spiffarena/ohs-incident."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(SPIFFARENA_MODEL.iterdir()):
            archive.write(file, f"ohs-incident/{file.name}")
    return buffer.getvalue()


def _import(page: Page) -> None:
    page.locator('[data-testid="import-form"] input[type="file"]').set_input_files(
        {"name": "ohs-incident.zip", "mimeType": "application/zip", "buffer": _model_zip()})
    page.locator('[data-testid="import-form"] button[type="submit"]').click()


def test_an_owner_imports_a_spiffarena_zip_once_an_admin_created_its_lane_group(browsing: Any) -> None:
    page = _log_in(browsing, "owen", "en")
    page.set_viewport_size(PHONE)  # the form, the problems and the result on a phone
    page.goto("/modeler/")
    expect(page.get_by_role("button", name="Import SpiffArena model")).to_be_visible()

    _import(page)  # the lane case_handlers names no group yet: listed for an admin to create, nothing deployed
    problems = page.get_by_test_id("import-problems")
    expect(problems.locator('[data-testid="missing-groups"] li[data-group="case_handlers"]')).to_be_visible()
    expect(problems).to_contain_text("lane name 'case_handlers' is not a known group")
    expect(page.locator('section[data-process="ohs_incident"]')).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    _post_json(browsing.url("/api/v1/modeler/groups"), {"code": "case_handlers", "name": "Case handlers"},
               _token(browsing, "admin"))
    _import(page)
    result = page.get_by_test_id("import-result")
    expect(result).to_have_attribute("data-process", "ohs_incident")
    expect(result).to_contain_text("OHS incident (ohs_incident) is imported as version 1.")
    expect(result.locator('li[data-lane="case_handlers"]')).to_contain_text("case_handlers")
    listed = page.locator('section[data-process="ohs_incident"]')
    expect(listed.locator('tr[data-version="1"]')).to_contain_text("imported from SpiffArena (ohs-incident)")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    browsing.screenshot(page, "modeler-import-phone")
