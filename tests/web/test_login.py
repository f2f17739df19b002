"""Log-in and log-out of the web pages: the session cookie, the user's name, groups and units."""

from __future__ import annotations

import re

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


def test_a_session_whose_id_no_longer_works_is_logged_out(browser):
    browser.login("karl")
    with browser.client.session_transaction() as session:
        session["sid"] = "ended-or-unknown"  # what a session ended elsewhere amounts to

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


def test_an_old_session_cookie_opens_nothing_after_log_out(browser, start_case):
    case_id = start_case("kemi")[0].case_id
    browser.login("karl")
    assert browser.client.get(f"/cases/{case_id}").status_code == 200
    old_cookie = browser.client.get_cookie("session").value

    browser.post("/logout")
    browser.client.set_cookie("session", old_cookie)  # what someone who copied the cookie would send

    assert browser.client.get("/").status_code == 302
    assert browser.client.get(f"/cases/{case_id}").headers["Location"].startswith("/login")


def test_the_session_cookie_holds_no_bearer_token(app, browser):
    browser.login("karl")
    cookie = browser.client.get_cookie("session").value

    contents = app.session_interface.get_signing_serializer(app).loads(cookie)  # signed, so readable

    for value in contents.values():
        me = browser.client.get("/api/v1/me", headers={"Authorization": f"Bearer {value}"})
        assert me.status_code == 401


THROTTLED = {"LOGIN_MAX_FAILURES_PER_ACCOUNT": 3, "LOGIN_MAX_FAILURES_PER_ADDRESS": 5, "LOGIN_FAILURE_WINDOW": 600}


@pytest.mark.parametrize("app_config", [THROTTLED])
def test_repeated_wrong_passwords_are_throttled_and_then_even_the_right_one_waits(browser):
    browser.in_english()
    for _ in range(3):
        assert browser.login("karl", "not-the-password").status_code == 401

    response = browser.login("karl")

    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 600
    assert "Too many failed log-ins. Try again in 10 minutes." in response.text
    assert browser.client.get("/").status_code == 302


@pytest.mark.parametrize("app_config", [THROTTLED])
def test_guessing_many_accounts_from_one_address_is_throttled_too(browser):
    for username in ("karl", "anna", "emil", "eva", "owen"):
        assert browser.login(username, "not-the-password").status_code == 401

    assert browser.login("admin").status_code == 429


@pytest.mark.parametrize("app_config", [THROTTLED])
def test_logging_into_ones_own_account_does_not_clear_the_addresss_failures(browser):
    for _ in range(2):
        assert browser.login("karl", "not-the-password").status_code == 401
        assert browser.login("anna").status_code == 302  # the attacker's own account
        browser.post("/logout")
    for _ in range(2):
        assert browser.login("emil", "not-the-password").status_code == 401
        assert browser.login("anna").status_code == 302
        browser.post("/logout")
    assert browser.login("eva", "not-the-password").status_code == 401

    assert browser.login("eva", "not-the-password").status_code == 429


def test_pages_carry_the_security_headers(browser):
    browser.login("karl")

    for path in ("/login", "/"):
        headers = browser.client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_no_template_has_an_inline_script_or_event_handler():
    from pathlib import Path  # noqa: PLC0415

    templates = Path(__file__).resolve().parents[2] / "service" / "templates"
    for template in templates.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template


def test_the_session_cookie_is_not_secure_over_plain_http_even_if_a_header_says_https(browser):
    response = browser.client.post("/login", headers={"X-Forwarded-Proto": "https"},
                                   data={"csrf_token": browser.csrf_token(), "username": "karl",
                                         "password": "demo-amflow"})

    assert response.status_code == 302
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize("app_config", [{"BEHIND_HTTPS": True}])
def test_behind_https_the_session_cookie_is_secure(browser):
    response = browser.login("karl")

    assert "; Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_a_trusted_proxys_forwarded_https_makes_the_cookie_secure(browser):
    response = browser.login("karl")
    assert "Secure" not in response.headers["Set-Cookie"]

    response = browser.client.post("/login", headers={"X-Forwarded-Proto": "https",
                                                      "Referer": "https://localhost/login"},
                                   data={"csrf_token": browser.csrf_token(), "username": "karl",
                                         "password": "demo-amflow"})

    assert response.status_code == 302
    assert "; Secure" in response.headers["Set-Cookie"]
