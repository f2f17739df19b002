"""A SpiffArena process model folder imports unchanged and runs (issue #18, "models from elsewhere"; #10 W1).

The model is the one in ``../shared/models/spiffarena-ohs-incident/`` (a byte-identical copy ships in
``tests/processes/spiffarena/ohs-incident`` for checkouts without the shared folder): its user tasks name
their forms by SpiffArena's ``formJsonSchemaFilename``/``formUiSchemaFilename`` (``report-schema.json``,
schemas without ``$schema``), its lanes are "Process Initiator" and ``case_handlers``, a script classifies
and a gateway decides. Everything runs for real: SpiffWorkflow, the sandbox, SQLite or PostgreSQL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from processes import (
    CaseStatus,
    Database,
    add_group,
    complete_task,
    create_user,
    get_case,
    get_task,
    import_spiffarena,
    list_processes,
    list_tasks,
    start_case,
)
from processes.bundles import BUNDLES
from processes.deployments import SPEC_CACHE
from processes.errors import Forbidden, InvalidModel
from processes.tasks import TaskFilter
from processes.views import UserView

SHIPPED_COPY = Path(__file__).parent / "spiffarena" / "ohs-incident"
_ROOT = Path(__file__).resolve().parents[2]
# ../shared beside the main checkout (or beside the folder of worktrees a checkout may sit in)
_PLACES = [folder / "shared" / "models" / "spiffarena-ohs-incident" for folder in (_ROOT.parent, _ROOT.parent.parent)]
SHARED = next((place for place in _PLACES if place.is_dir()), SHIPPED_COPY)
MODEL = SHARED
REPORT = {"description": "Spilled acid in lab 3", "severity": "high", "injured": False}


@pytest.fixture
def handler(db: Database) -> UserView:
    """A member of the new group case_handlers in DTU Kemi."""
    add_group(db, "case_handlers", name="Case handlers", actor=None)
    return create_user(db, "hanne", password="hanne-password", groups=["case_handlers"], units=["kemi"])


def _open_tasks(db: Database, actor: UserView) -> list:
    tasks, _total = list_tasks(db, actor=actor, filters=TaskFilter())
    return tasks


def test_the_shipped_copy_is_the_shared_model_unchanged():
    if SHARED == SHIPPED_COPY:
        pytest.skip("no ../shared/models folder beside this checkout")
    shared = {file.name: file.read_bytes() for file in SHARED.iterdir()}
    assert shared == {file.name: file.read_bytes() for file in SHIPPED_COPY.iterdir()}


def test_the_model_imports_unchanged_and_runs_report_by_the_starter_review_by_case_handlers(db, anna, handler):
    process = import_spiffarena(db, MODEL, actor=None)
    assert (process.key, process.name, process.version) == ("ohs_incident", "OHS incident", 1)

    case = start_case(db, process="ohs_incident", unit="kemi", data={}, actor=anna)
    [report] = _open_tasks(db, anna)
    assert (report.case_id, report.assignee, report.group) == (case.id, "anna", None)  # the starter's own task
    assert _open_tasks(db, handler) == []
    form = get_task(db, report.id, actor=anna).form
    assert form is not None and form.name == "report"  # report-schema.json
    assert form.schema["properties"]["severity"]["enum"] == ["low", "high"]
    assert form.ui == {"description": {"ui:widget": "textarea"}, "ui:order": ["description", "severity", "injured"]}

    SPEC_CACHE.clear()  # as a second worker or a restart would: parsed again with the version's own forms
    BUNDLES.clear()
    complete_task(db, report.id, data=REPORT, actor=anna)
    [review] = _open_tasks(db, handler)
    assert (review.group, review.unit, review.assignee) == ("case_handlers", "kemi", None)
    assert get_task(db, review.id, actor=handler).form.name == "review"  # review-schema.json, no UI schema
    assert _open_tasks(db, anna) == []

    done = complete_task(db, review.id, data={"decision": "close", "note": "cleaned"}, actor=handler)
    assert done.status == CaseStatus.COMPLETED
    assert done.data["needs_review"] is True and done.data["decision"] == "close"


def test_a_low_severity_report_ends_without_review(db, anna, handler):
    import_spiffarena(db, MODEL, actor=None)
    start_case(db, process="ohs_incident", unit="kemi", data={}, actor=anna)
    [report] = _open_tasks(db, anna)
    done = complete_task(db, report.id, data={**REPORT, "severity": "low"}, actor=anna)
    assert done.status == CaseStatus.COMPLETED and done.data["needs_review"] is False


def test_a_lane_mapped_to_an_existing_group_gives_that_group_the_review(db, anna):
    amk = create_user(db, "amalie", password="amalie-password", groups=["amk"], units=["kemi"])
    import_spiffarena(db, MODEL, actor=None, lanes={"case_handlers": "amk"})
    case = start_case(db, process="ohs_incident", unit="kemi", data={}, actor=anna)
    [report] = _open_tasks(db, anna)
    SPEC_CACHE.clear()  # the mapping is kept with the version, not only in this process's cache
    BUNDLES.clear()
    complete_task(db, report.id, data=REPORT, actor=anna)
    [review] = _open_tasks(db, amk)
    assert (review.case_id, review.group) == (case.id, "amk")
    assert get_case(db, case.id, actor=amk).status == CaseStatus.RUNNING


def test_a_broken_folder_is_refused_with_every_problem_at_once(db, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(MODEL, folder)
    (folder / "review-schema.json").unlink()
    (folder / "report-uischema.json").write_text('{"description": {"ui:widget": "textarea"')  # cut short
    with pytest.raises(InvalidModel) as caught:
        import_spiffarena(db, folder, actor=None)  # and no group case_handlers, no mapping
    problems = caught.value.problems
    assert len(problems) == 3, problems
    assert any("review-schema.json is missing" in p and "element review" in p for p in problems)
    assert any("report-uischema.json: not JSON" in p for p in problems)
    assert any("lane name 'case_handlers' is not a known group" in p for p in problems)
    assert list_processes(db) == []


def test_a_broken_process_model_json_and_a_mapping_to_no_lane_are_reported_with_the_rest(db, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(MODEL, folder)
    (folder / "process_model.json").write_text("{not json")
    with pytest.raises(InvalidModel) as caught:
        import_spiffarena(db, folder, actor=None, lanes={"case handlers": "amk"})
    problems = caught.value.problems
    assert any("process_model.json: not JSON" in p for p in problems)
    assert any("the lane mapping names 'case handlers'" in p for p in problems)
    assert any("lane name 'case_handlers' is not a known group" in p for p in problems)
    assert list_processes(db) == []


def test_a_lane_mapped_to_an_unknown_group_is_refused(db):
    with pytest.raises(InvalidModel, match="mapped to 'nobody', which is not a known group"):
        import_spiffarena(db, MODEL, actor=None, lanes={"case_handlers": "nobody"})


def test_only_administrators_create_groups(db, anna):
    with pytest.raises(Forbidden):
        add_group(db, "case_handlers", name="Case handlers", actor=anna)
    admin = create_user(db, "ada", password="ada-password", groups=["admins"], units=[])
    assert add_group(db, "case_handlers", name="Case handlers", actor=admin) == ("case_handlers", "Case handlers")
