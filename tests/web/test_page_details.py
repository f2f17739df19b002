"""The smaller points of the case handlers' second round: history, comments, accessible names, the address
of a filtered queue, the icon and the page text a phone reader needs."""

from __future__ import annotations

import re

import processes
from tests.samples import one_task_bpmn

SPAWNING_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_web_spawn" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="web_spawner" name="Starts a follow-up case" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_1" name="amk">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>follow_up</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>to_follow_up</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="follow_up" name="Start the follow-up">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="start_case">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="process" type="str" value="'web_spawned'" />
            <spiffworkflow:parameter id="data" type="any" value="{}" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>to_follow_up</bpmn:incoming>
      <bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_follow_up" sourceRef="start" targetRef="follow_up" />
    <bpmn:sequenceFlow id="to_end" sourceRef="follow_up" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

SPAWNED_BPMN = one_task_bpmn("web_spawned", name="The follow-up", lane="amk", task_id="check",
                             task_name="Check the room")


def test_a_case_that_started_another_links_to_it_in_its_history(browser, database):
    owner = processes.get_user(database, "owen")
    processes.deploy(database, SPAWNED_BPMN, "web_spawned.bpmn", actor=owner)
    processes.deploy(database, SPAWNING_BPMN, "web_spawner.bpmn", actor=owner)
    parent = processes.start_case(database, process="web_spawner", unit="kemi", data={},
                                  actor=processes.get_user(database, "karl"))
    [spawned] = [entry.detail["case"] for entry in parent.history if entry.kind == "case_spawned"]
    browser.login("karl")

    page = browser.client.get(f"/cases/{parent.id}")

    assert page.status_code == 200
    assert f'href="/cases/{spawned}"' in page.text


def test_addresses_in_a_comment_are_links_and_the_rest_stays_escaped(browser, start_case):
    [task] = start_case("kemi")
    browser.login("karl")
    body = "See https://dtu.dk/arbejdsmiljo?x=1&y=2. <script>alert(1)</script> and (http://example.org/a)"

    browser.post(f"/cases/{task.case_id}/comments", {"body": body})
    page = browser.client.get(f"/cases/{task.case_id}").text

    assert '<a href="https://dtu.dk/arbejdsmiljo?x=1&amp;y=2" rel="noopener noreferrer nofollow">' in page
    assert '<a href="http://example.org/a" rel="noopener noreferrer nofollow">' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_completing_an_unclaimed_task_records_who_took_it(database):
    owner = processes.get_user(database, "owen")
    processes.deploy(database, SPAWNED_BPMN, "web_spawned.bpmn", actor=owner)
    processes.deploy(database, SPAWNING_BPMN, "web_spawner.bpmn", actor=owner)
    karl = processes.get_user(database, "karl")
    case = processes.start_case(database, process="web_spawned", unit="kemi", data={}, actor=karl)

    done = processes.complete_task(database, case.tasks[0].id, data={"note": "Rummet er tjekket"}, actor=karl)

    kinds = [(entry.kind, entry.actor) for entry in done.history]
    assert ("task_claimed", "karl") in kinds
    assert kinds.index(("task_claimed", "karl")) < kinds.index(("task_completed", "karl"))


def test_every_claim_button_in_the_queue_has_its_own_accessible_name(browser, start_case):
    start_case("kemi", count=3)
    browser.login("karl")

    page = browser.client.get("/").text
    labels = re.findall(r'<button type="submit"[^>]*aria-label="([^"]+)"[^>]*>Tag opgaven</button>', page)

    assert len(labels) == 4  # the bulk button and one per row
    assert len(set(labels)) == 4


def test_the_filter_form_leaves_empty_fields_out_of_the_address(browser, start_case):
    start_case("kemi")
    browser.login("karl")

    response = browser.client.get("/?unit=kemi&status=&assignee=&sort=")

    assert response.status_code == 302
    assert response.headers["Location"] == "/?unit=kemi"
    assert browser.client.get("/?status=").headers["Location"] == "/"


def test_the_pages_name_an_icon_and_the_icon_is_served(browser, client):
    browser.login("karl")

    page = browser.client.get("/").text
    with client.get("/favicon.ico") as icon:
        status, mimetype, body = icon.status_code, icon.mimetype, icon.get_data()

    assert 'rel="icon"' in page
    assert (status, mimetype) == (200, "image/svg+xml")
    assert b"<svg" in body
