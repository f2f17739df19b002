"""A web request that changes something is one transaction: a task form posted with a file either completes
the task with the file attached, or changes nothing at all (the file included)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest

import processes
from forms import registry
from tests.samples import one_task_bpmn

# A form with a file field: no shipped form has one yet, so this test adds it to a copy of the shipped forms.
DOCUMENT_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Dokument", "x-title-en": "Document",
    "type": "object", "additionalProperties": False, "required": ["summary", "document"],
    "properties": {
        "summary": {"type": "string", "minLength": 1, "title": "Beskrivelse", "x-title-en": "Description"},
        "document": {"type": "string", "format": "x-attachment", "title": "Dokument", "x-title-en": "Document"},
    },
}

DOCUMENT_BPMN = one_task_bpmn("web_document", name="Attach a document", lane="amk", task_id="attach",
                              task_name="Attach the risk assessment", form="test_document")


@pytest.fixture
def document_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shipped forms plus `test_document`, read by the real forms registry from a copy of its folder."""
    folder = tmp_path / "schemas"
    shutil.copytree(Path(registry.__file__).parent / "schemas", folder)
    (folder / "test_document.schema.json").write_text(json.dumps(DOCUMENT_FORM), encoding="utf-8")
    monkeypatch.setattr(registry, "_schemas_dir", lambda: folder)
    registry._load.cache_clear()
    yield
    registry._load.cache_clear()


@pytest.fixture
def document_task(database, document_form) -> processes.TaskView:
    processes.deploy(database, DOCUMENT_BPMN, "web_document.bpmn", actor=processes.get_user(database, "owen"))
    case = processes.start_case(database, process="web_document", unit="kemi", data={},
                                actor=processes.get_user(database, "karl"))
    return case.tasks[0]


def _post(browser, task: processes.TaskView, summary: str):
    browser.login("karl")
    upload = (BytesIO(b"%PDF-1.7 risk assessment"), "risk.pdf", "application/pdf")
    return browser.post(f"/tasks/{task.id}", {"action": "complete", "summary": summary, "document": upload},
                        content_type="multipart/form-data")


def test_a_bad_form_posted_with_a_file_leaves_no_attachment(browser, database, document_task):
    response = _post(browser, document_task, summary="")

    karl = processes.get_user(database, "karl")
    assert response.status_code == 422
    assert processes.list_attachments(database, document_task.case_id, actor=karl) == []
    case = processes.get_case(database, document_task.case_id, actor=karl)
    assert processes.AuditKind.ATTACHMENT_ADDED not in [entry.kind for entry in case.history]
    assert [task.id for task in case.tasks] == [document_task.id]  # still open


def test_a_good_form_posted_with_a_file_completes_the_task_with_the_file_attached(browser, database, document_task):
    response = _post(browser, document_task, summary="The APV of the lab")

    karl = processes.get_user(database, "karl")
    assert response.status_code == 303
    [attachment] = processes.list_attachments(database, document_task.case_id, actor=karl)
    case = processes.get_case(database, document_task.case_id, actor=karl)
    assert (attachment.filename, attachment.task_id) == ("risk.pdf", document_task.id)
    assert case.status == processes.CaseStatus.COMPLETED
    assert case.data["document"] == str(attachment.id)
