"""`GET /api/v1/statistics/{process}` (#14): the statistics page's counts as JSON, decided by the same rule
(processes.access.may): the AMK of a unit reads its own unit, DTU Arbejdsmiljø every unit, others nothing."""

from __future__ import annotations

import csv
import io
import re

import processes

INTAKE = {"reporter_role": "affected", "personal_injury": True, "what_happened": "Threatened by Mr Visitor",
          "injury_date": "2026-03-04", "event_type": "threat_verbal", "perpetrator": "visitor_external",
          "outside_working_hours": False, "work_related": True, "exposure": "sudden",
          "absence_days_beyond_injury_day": 0, "witnesses": "Bo Vidne"}
PATH = "/statistics/psych_accident_report"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _start(database, unit, **changes):
    starter = {"kemi": "anna", "energi": "emil"}[unit]
    processes.start_case(database, process="psych_accident_report", unit=unit, data={**INTAKE, **changes},
                         actor=processes.get_user(database, starter))


def _as_csv_rows(document):
    """The JSON counts in the CSV download's rows: unit, dimension, value, count."""
    rows = []
    for unit in document["units"]:
        rows.append([unit["unit"], "cases", "all", str(unit["cases"])])
        rows += [[unit["unit"], "status", status, str(n)] for status, n in unit["by_status"].items()]
        rows += [[unit["unit"], path, value, str(n)] for path, values in unit["by"].items()
                 for value, n in values.items()]
        rows += [[unit["unit"], f"task:{name}", key, str(n)] for name, counts in unit["tasks"].items()
                 for key, n in counts.items()]
    return sorted(rows)


def test_the_amk_gets_the_same_counts_as_the_csv_of_the_page_and_no_names(api, app, database):
    _start(database, "kemi")
    _start(database, "kemi", event_type="robbery")
    _start(database, "energi")

    response = api.get(PATH, as_="karl", query_string={"unit": "kemi"})

    assert response.status_code == 200, response.get_json()
    document = response.get_json()
    [kemi] = document["units"]
    assert (kemi["unit"], kemi["cases"]) == ("kemi", 2)
    assert kemi["by"]["event_type"] == {"robbery": 1, "threat_verbal": 1}
    assert "easy_report" in kemi["tasks"]
    for secret in ("Visitor", "Bo Vidne", "anna"):
        assert secret not in response.text
    pages = app.test_client()
    csrf = CSRF.search(pages.get("/login").text).group(1)
    login = pages.post("/login", data={"csrf_token": csrf, "username": "karl", "password": "demo-amflow"})
    assert login.status_code == 302
    page_csv = pages.get(f"{PATH}.csv?unit=kemi").text
    assert _as_csv_rows(document) == sorted(list(csv.reader(io.StringIO(page_csv)))[1:])


def test_dtu_arbejdsmiljo_gets_every_unit(api, database):
    _start(database, "kemi")
    _start(database, "energi")

    units = [unit["unit"] for unit in api.get(PATH, as_="ditte").get_json()["units"]]

    assert units == ["energi", "kemi"]


def test_those_the_rule_refuses_get_403_as_on_the_page(api, database):
    _start(database, "kemi")

    assert api.get(PATH, as_="karl", query_string={"unit": "energi"}).status_code == 403  # another unit's AMK
    for outsider in ("anna", "lene", "hanne"):
        response = api.get(PATH, as_=outsider, query_string={"unit": "kemi"})
        assert response.status_code == 403
        assert response.get_json()["error"]["code"]
    assert api.get(PATH, as_=None).status_code == 401


def test_an_unknown_process_is_404_a_process_without_statistics_422_and_a_bad_query_400(api):
    assert api.get("/statistics/no_such_process", as_="ditte").status_code == 404
    without = api.get("/statistics/lone_work_approval", as_="ditte")
    assert without.status_code == 422 and "process" in without.get_json()["error"]["fields"]
    bad = api.get(PATH, as_="ditte", query_string={"unit": "kemi", "colour": "red"})
    assert bad.status_code == 400 and "colour" in bad.get_json()["error"]["fields"]
