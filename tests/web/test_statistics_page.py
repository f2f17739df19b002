"""A process's statistics page and CSV download (#14): counts per unit, no names or free text; only the
groups the access rules allow."""

from __future__ import annotations

import processes

INTAKE = {"reporter_role": "affected", "personal_injury": True, "what_happened": "Threatened by Mr Visitor",
          "injury_date": "2026-03-04", "event_type": "threat_verbal", "perpetrator": "visitor_external",
          "outside_working_hours": False, "work_related": True, "exposure": "sudden",
          "absence_days_beyond_injury_day": 0, "witnesses": "Bo Vidne"}


def test_the_statistics_page_counts_without_names_for_the_amk_and_refuses_others(browser, database):
    processes.deploy_bundled(database)
    processes.start_case(database, process="psych_accident_report", unit="kemi", data=INTAKE,
                         actor=processes.get_user(database, "anna"))
    browser.login("karl")  # AMK of kemi: the process names amk in statisticsReaders

    page = browser.client.get("/statistics/psych_accident_report?unit=kemi")
    csv = browser.client.get("/statistics/psych_accident_report.csv?unit=kemi")

    assert page.status_code == 200 and "threat_verbal" in page.text
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "kemi,event_type,threat_verbal," in csv.text
    for secret in ("Visitor", "Bo Vidne", "anna"):
        assert secret not in page.text and secret not in csv.text
    assert browser.client.get("/statistics/psych_accident_report?unit=energi").status_code == 403


def test_an_employee_may_not_read_the_statistics(browser, database):
    processes.deploy_bundled(database)
    browser.login("anna")

    assert browser.client.get("/statistics/psych_accident_report?unit=kemi").status_code == 403
    assert browser.client.get("/statistics/psych_accident_report.csv").status_code == 403
