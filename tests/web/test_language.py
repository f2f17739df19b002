"""The pages speak Danish by default and English on request (Flask-Babel catalogues)."""

from __future__ import annotations

import processes


def test_the_log_in_page_is_danish_by_default(browser):
    page = browser.client.get("/login")

    assert '<html lang="da">' in page.text
    assert "Log ind" in page.text
    assert "Brugernavn" in page.text


def test_switching_to_english_changes_the_texts_and_stays(browser):
    response = browser.post("/language", {"lang": "en", "next": "/login"})

    assert response.headers["Location"] == "/login"
    page = browser.client.get("/login")
    assert '<html lang="en">' in page.text
    assert "Log in" in page.text
    assert "Username" in page.text
    assert "Brugernavn" not in page.text


def test_the_chosen_language_survives_logging_in_and_out(browser):
    browser.post("/language", {"lang": "en"})
    browser.login("karl")

    assert "My queue" in browser.client.get("/").text
    browser.post("/logout")
    assert "Username" in browser.client.get("/login").text


def test_the_queue_is_danish_by_default(browser):
    browser.login("karl")

    page = browser.client.get("/")

    assert "Min kø" in page.text
    assert "Log ud" in page.text


def test_an_unknown_language_is_refused_with_a_message(browser):
    browser.post("/language", {"lang": "xx"})

    page = browser.client.get("/login")
    assert '<html lang="da">' in page.text
    assert "Ukendt sprog." in page.text


def test_a_user_who_prefers_english_gets_english_until_they_switch(browser, database):
    processes.create_user(database, "kim", password="kim-password", name="Kim", groups=["amk"], units=["kemi"],
                          language="en")
    browser.login("kim", "kim-password")

    assert "My queue" in browser.client.get("/").text
    browser.post("/language", {"lang": "da"})
    assert "Min kø" in browser.client.get("/").text


def test_the_header_shows_danish_navigation_by_default(browser):
    browser.login("karl")

    page = browser.client.get("/").text

    assert ">Kø</a>" in page
    assert ">Start sag</a>" in page
    assert "Grupper: amk, employees" in page
    assert "Enheder: kemi" in page


def test_fixed_form_messages_of_the_engine_are_shown_in_danish(app):
    with app.test_request_context("/"):
        assert app.jinja_env.filters["engine_text"]("This field is required.") == "Feltet skal udfyldes."
        assert app.jinja_env.filters["engine_text"]("Must be at least 3.") == "Skal være mindst 3."


def test_the_language_switch_returns_to_the_page_it_was_used_on(browser):
    response = browser.post("/language", {"lang": "en"}, headers={"Referer": "http://localhost/login?next=/x"})

    assert response.headers["Location"] == "/login?next=/x"
