"""Error pages of the web pages (403, 404, 500), CSRF refusal, and the API keeping its JSON errors."""

from __future__ import annotations

import re

import pytest


def test_claiming_an_energi_task_as_a_kemi_amk_gives_the_403_page(browser, start_case):
    [energi_task] = start_case("energi")
    browser.login("karl")
    browser.in_english()

    response = browser.post(f"/queue/{energi_task.id}/claim")

    assert response.status_code == 403
    assert "text/html" in response.content_type
    assert "You may not do this" in response.text


def test_assigning_an_energi_task_as_a_kemi_amk_gives_the_403_page(browser, start_case):
    [energi_task] = start_case("energi")
    browser.login("karl")

    assert browser.client.get(f"/queue/{energi_task.id}/assign").status_code == 403


def test_an_unknown_page_gives_the_friendly_404_page_in_danish(browser):
    response = browser.client.get("/no/such/page")

    assert response.status_code == 404
    assert "Siden findes ikke" in response.text
    assert 'href="/"' in response.text


def test_an_unknown_task_gives_the_404_page(browser):
    browser.login("karl")
    browser.in_english()

    response = browser.post("/queue/no-such-task/claim")

    assert response.status_code == 404
    assert "Page not found" in response.text


def test_an_unexpected_failure_gives_the_friendly_500_page(app, browser, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    browser.login("karl")
    browser.in_english()
    monkeypatch.setattr("service.web.queue.load_queue", lambda *_args: 1 / 0)

    response = browser.client.get("/")

    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "ZeroDivisionError" not in response.text


def test_the_api_keeps_its_json_errors(client):
    response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/login", "/logout", "/language", "/queue/bulk", "/filters"])
def test_a_form_post_without_the_csrf_token_is_refused(client, path):
    response = client.post(path, data={"username": "karl", "password": "demo-amflow", "lang": "en"})

    assert response.status_code == 400
    assert "text/html" in response.content_type


def test_a_form_post_with_a_forged_csrf_token_is_refused(browser):
    browser.csrf_token()  # the session has a token, but not this one

    response = browser.client.post("/login", data={"csrf_token": "forged", "username": "karl",
                                                   "password": "demo-amflow"})

    assert response.status_code == 400
    assert browser.client.get("/").status_code == 302


def test_every_post_form_of_the_queue_carries_a_csrf_token(browser, start_case):
    start_case("kemi", 2)
    browser.login("karl")

    page = browser.client.get("/").text

    forms = re.findall(r'<form method="post".*?</form>', page, flags=re.DOTALL)
    assert len(forms) >= 5
    assert all('name="csrf_token"' in form for form in forms)


def test_the_api_needs_no_csrf_token(client, auth):
    response = client.post("/api/v1/auth/token", json={"username": "karl", "password": "demo-amflow"})

    assert response.status_code == 201
