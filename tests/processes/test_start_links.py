"""Start links (issue #14): a signed link that starts one case of a process (``startByLink``) in a unit for a
person without an account, who is recorded as the starter; made by the process's readers in the unit or the
central groups; expiring, revocable, used once; it reads nothing, not even the case it started."""

from __future__ import annotations

import datetime as dt

import pytest

from processes import (
    FixedClock,
    LinkKeys,
    create_start_link,
    create_user,
    deploy,
    deploy_bundled,
    get_case,
    grant_for,
    list_start_links,
    revoke_start_link,
    start_case_by_link,
    start_grant_for,
    start_link_page,
)
from processes.errors import Forbidden, InvalidData, NotFound
from processes.links import LinkRefused

from .conftest import BPMN_DIR
from .test_psych_accident_process import INTAKE

T0 = dt.datetime(2031, 3, 3, 8, 0, tzinfo=dt.UTC)
CLOCK = FixedClock(T0)
KEYS = LinkKeys({"t1": "a-test-key-of-some-length"}, "t1")


@pytest.fixture
def people(db, owner):
    deploy(db, (BPMN_DIR / "guest_start.bpmn").read_bytes(), "guest_start.bpmn", actor=owner)
    deploy(db, (BPMN_DIR / "note_loop.bpmn").read_bytes(), "note_loop.bpmn", actor=owner)
    return {
        "karl": create_user(db, "karl", password=None, groups=["amk"], units=["kemi"]),
        "erik": create_user(db, "erik", password=None, groups=["amk"], units=["energi"]),
        "anna": create_user(db, "anna", password=None, groups=["employees"], units=["kemi"]),
        "ditte": create_user(db, "ditte", password=None, groups=["arbejdsmiljo"], units=[]),
    }


def link(db, actor, **changes):
    given = {"process": "guest_start", "unit": "kemi", "name": "Sara Studerende", "email": "Sara@Student.example",
             "ttl": dt.timedelta(days=7), "language": "en", **changes}
    return create_start_link(db, keys=KEYS, actor=actor, clock=CLOCK, **given)


def test_a_start_link_starts_one_case_in_its_unit_with_the_holder_as_starter(db, people):
    made = link(db, people["karl"])
    grant = start_grant_for(db, made.token, keys=KEYS, clock=CLOCK)
    assert (grant.process, grant.unit, grant.email, grant.language) == ("guest_start", "kemi", "sara@student.example",
                                                                        "en")
    page = start_link_page(db, grant)
    assert page.form is not None and page.form.name == "free_note" and page.process_name.startswith("A guest")

    case_id = start_case_by_link(db, grant, data={"note": "Truet af en besøgende"}, clock=CLOCK)
    case = get_case(db, case_id, actor=people["karl"])  # the unit's AMK handles it
    assert (case.unit, case.started_by, case.data["note"]) == ("kemi", "sara@student.example", "Truet af en besøgende")
    assert [t.name for t in case.tasks] == ["handle"]
    used = [e for e in case.history if e.kind == "start_link_used"]
    assert used[0].actor == "sara@student.example" and used[0].detail["created_by"] == "karl"
    assert list_start_links(db, process="guest_start", unit="kemi", actor=people["karl"])[0].case_id == case_id

    with pytest.raises(LinkRefused) as refused:  # used once
        start_grant_for(db, made.token, keys=KEYS, clock=CLOCK)
    assert refused.value.reason == "used"
    with pytest.raises(LinkRefused):  # also with the grant read before
        start_case_by_link(db, grant, data={"note": "again"}, clock=CLOCK)


def test_the_start_form_checks_the_data_and_leaves_the_link_unused(db, people):
    made = link(db, people["karl"])
    grant = start_grant_for(db, made.token, keys=KEYS, clock=CLOCK)
    with pytest.raises(InvalidData) as invalid:
        start_case_by_link(db, grant, data={"note": ""}, clock=CLOCK)
    assert "note" in invalid.value.fields
    assert start_case_by_link(db, grant, data={"note": "ok"}, clock=CLOCK)


def test_expired_revoked_and_tampered_start_links_are_refused(db, people):
    made = link(db, people["karl"], ttl=dt.timedelta(days=1))
    with pytest.raises(LinkRefused) as expired:
        start_grant_for(db, made.token, keys=KEYS, clock=FixedClock(T0 + dt.timedelta(days=1, seconds=1)))
    assert expired.value.reason == "expired"

    grant = start_grant_for(db, made.token, keys=KEYS, clock=CLOCK)
    revoke_start_link(db, made.id, actor=people["ditte"], clock=CLOCK)
    with pytest.raises(LinkRefused) as revoked:
        start_grant_for(db, made.token, keys=KEYS, clock=CLOCK)
    assert revoked.value.reason == "revoked"
    with pytest.raises(LinkRefused):
        start_case_by_link(db, grant, data={"note": "x"}, clock=CLOCK)

    other = link(db, people["karl"])
    for tampered in (other.token[:-2] + ("AA" if not other.token.endswith("AA") else "BB"),
                     other.token.replace("t1.", "t2.", 1), "nonsense"):
        with pytest.raises(LinkRefused) as altered:
            start_grant_for(db, tampered, keys=KEYS, clock=CLOCK)
        assert altered.value.reason == "altered"


def test_the_start_link_reads_nothing_not_even_its_own_case(db, people):
    made = link(db, people["karl"])
    grant = start_grant_for(db, made.token, keys=KEYS, clock=CLOCK)
    case_id = start_case_by_link(db, grant, data={"note": "x"}, clock=CLOCK)
    with pytest.raises(Forbidden):
        get_case(db, case_id, actor=grant)  # type: ignore[arg-type]
    with pytest.raises(LinkRefused) as as_case_link:  # a start token is no case link (another salt)
        grant_for(db, made.token, keys=KEYS, clock=CLOCK)
    assert as_case_link.value.reason == "altered"


def test_who_may_give_start_links(db, people):
    assert link(db, people["karl"]).token  # the process's readers (amk) in the unit
    assert link(db, people["ditte"]).token  # a central group
    for outsider in (people["anna"], people["erik"]):  # an employee; the AMK of another unit
        with pytest.raises(Forbidden):
            link(db, outsider)
    with pytest.raises(Forbidden):
        list_start_links(db, process="guest_start", unit="kemi", actor=people["anna"])
    with pytest.raises(InvalidData) as not_allowed:  # the process does not allow start links
        link(db, people["ditte"], process="note_loop")
    assert "process" in not_allowed.value.fields
    with pytest.raises(NotFound):
        link(db, people["ditte"], process="no_such_process")
    with pytest.raises(InvalidData) as bad:
        link(db, people["karl"], email="not an address", ttl=dt.timedelta(days=400))
    assert set(bad.value.fields) == {"email", "ttl_days"}


def test_a_student_reports_a_psychological_work_accident_through_a_start_link(db):
    deploy_bundled(db)
    karl = create_user(db, "karl", password=None, groups=["amk"], units=["kemi"])
    made = create_start_link(db, process="psych_accident_report", unit="kemi", name="Sara",
                             email="sara@student.example", keys=KEYS, actor=karl, clock=CLOCK)
    grant = start_grant_for(db, made.token, keys=KEYS, clock=CLOCK)
    case_id = start_case_by_link(db, grant, data=INTAKE, clock=CLOCK)
    case = get_case(db, case_id, actor=karl)  # the unit's AMK reads it (readers); the student does not
    assert case.started_by == "sara@student.example" and case.data["event_type"] == "threat_verbal"
    with pytest.raises(Forbidden):
        get_case(db, case_id, actor=grant)  # type: ignore[arg-type]
