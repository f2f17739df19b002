"""The log-in page turns text no database takes into "wrong username or password" (issue #9, finding 5).

Werkzeug re-quotes bytes that are not UTF-8 (a lone surrogate's `%ED%A0%80` arrives as that text), so
the surrogate cannot reach the page over HTTP; a NUL can, and PostgreSQL refuses it in a query.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "fields",
    [
        b"username=an%00na&password=demo-amflow",
        b"username=karl&password=demo%00amflow",
        b"username=%ED%A0%80&password=demo-amflow",
        b"username=karl&password=%ED%A0%80",
    ],
)
def test_a_nul_or_a_surrogate_in_a_log_in_is_401_with_the_form_again(browser, app, fields):
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    body = b"csrf_token=" + browser.csrf_token().encode() + b"&" + fields

    response = browser.client.post("/login", data=body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 401
    assert "Forkert brugernavn eller adgangskode." in response.text
    assert "\x00" not in response.text
    assert browser.client.get("/").status_code == 302
