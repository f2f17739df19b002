"""Log-in and log-out of the web pages: the session cookie, the user's name, groups and units."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from processes.store.models import User


def test_an_anonymous_visitor_is_sent_to_the_log_in_page_and_back_afterwards(browser):
    response = browser.client.get("/?unit=kemi")

    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/?unit%3Dkemi"

    page = browser.client.get(response.headers["Location"])
    assert 'name="next" value="/?unit=kemi"' in page.text
    logged_in = browser.post("/login", {"username": "karl", "password": "demo-amflow", "next": "/?unit=kemi"})
    assert logged_in.headers["Location"] == "/?unit=kemi"


def test_logging_in_shows_the_users_name_groups_and_units(browser):
    response = browser.login("karl")

    assert response.status_code == 302
    page = browser.client.get("/")
    assert page.status_code == 200
    assert "Karl Koordinator (AMK, DTU Kemi)" in page.text
    assert "amk, employees" in page.text
    assert "kemi" in page.text


def test_a_wrong_password_gives_a_message_and_no_session(browser):
    response = browser.login("karl", "not-the-password")

    assert response.status_code == 401
    assert "Forkert brugernavn eller adgangskode." in response.text
    assert browser.client.get("/").status_code == 302


def test_an_unknown_user_gets_the_same_message(browser):
    response = browser.login("nobody", "whatever-password")

    assert response.status_code == 401
    assert "Forkert brugernavn eller adgangskode." in response.text


def test_logging_out_ends_the_session(browser):
    browser.login("karl")

    response = browser.post("/logout")

    assert response.headers["Location"] == "/login"
    assert browser.client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "\\\\evil"])
def test_log_in_never_sends_the_user_to_another_site(browser, target):
    response = browser.post("/login", {"username": "karl", "password": "demo-amflow", "next": target})

    assert response.headers["Location"] == "/"


def test_a_logged_in_user_visiting_the_log_in_page_goes_to_the_queue(browser):
    browser.login("karl")

    assert browser.client.get("/login").headers["Location"] == "/"


def test_a_session_whose_token_no_longer_works_is_logged_out(browser):
    browser.login("karl")
    with browser.client.session_transaction() as session:
        session["token"] = "revoked-or-unknown"  # what a deactivated user's token amounts to

    assert browser.client.get("/").status_code == 302


def test_a_deactivated_user_is_logged_out_at_the_next_request(browser, database):
    browser.login("karl")
    assert browser.client.get("/").status_code == 200
    with database.write() as session:  # no use case deactivates a user yet: the admin's SQL
        session.execute(update(User).where(User.username == "karl").values(active=False))

    assert browser.client.get("/").headers["Location"].startswith("/login")


def test_the_session_cookie_is_http_only_and_same_site(browser):
    response = browser.login("karl")

    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
