"""Who may call the API: bearer tokens from a password log-in, 401 without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import processes

API = "/api/v1"

PROTECTED = [
    ("GET", "/me"),
    ("GET", "/tasks"),
    ("GET", "/tasks/some-task"),
    ("POST", "/tasks/some-task/claim"),
    ("POST", "/tasks/some-task/unclaim"),
    ("POST", "/tasks/some-task/complete"),
    ("POST", "/cases"),
    ("GET", "/cases/some-case"),
    ("GET", "/processes"),
    ("POST", "/processes"),
    ("POST", "/decisions/lone_work"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_a_request_without_a_token_is_401_with_the_error_envelope(client, method, path):
    response = client.open(API + path, method=method, json={})

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Bearer ", "Basic YW5uYTpwdw==", "not-even-a-scheme"])
def test_a_request_with_a_bad_token_is_401(client, header):
    response = client.get(f"{API}/me", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_logging_in_with_the_demo_password_gives_a_token_that_identifies_the_user(client, demo_users):
    user = demo_users[0]

    response = client.post(f"{API}/auth/token", json={"username": user.username, "password": user.password})

    assert response.status_code == 201
    token = response.get_json()["token"]
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    body = me.get_json()
    assert body["username"] == user.username
    assert sorted(body["groups"]) == sorted(user.groups)
    assert sorted(body["units"]) == sorted(user.units)
    assert body["name"]


def test_the_bearer_scheme_is_case_insensitive(api, auth, demo_users):
    token = auth.token(demo_users[0].username)

    response = api.get("/me", as_=None, headers={"Authorization": f"bearer {token}"})

    assert response.status_code == 200


def test_logging_in_with_a_wrong_password_is_401(client, demo_users):
    response = client.post(f"{API}/auth/token", json={"username": demo_users[0].username, "password": "wrong!!!"})

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_logging_in_as_an_unknown_user_is_401(client):
    response = client.post(f"{API}/auth/token", json={"username": "nobody", "password": "whatever-password"})

    assert response.status_code == 401


def test_logging_in_without_a_password_is_422_naming_the_field(client):
    response = client.post(f"{API}/auth/token", json={"username": "anna"})

    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"password"}


def _log_in(client, username="karl", password="demo-amflow", address="127.0.0.1"):
    return client.post(f"{API}/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_new_token_says_its_id_and_when_it_expires(client):
    body = _log_in(client).get_json()

    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(days=1)
    assert isinstance(body["id"], int)


@pytest.mark.parametrize("app_config", [{"TOKEN_TTL": 60}])
def test_the_token_lifetime_is_configurable(client):
    expires = datetime.fromisoformat(_log_in(client).get_json()["expires_at"])

    assert expires - datetime.now(UTC) <= timedelta(seconds=60)


def test_an_expired_token_is_401(client, database):
    issued = processes.create_token(database, "karl", ttl=timedelta(hours=1),
                                    clock=processes.FixedClock(datetime.now(UTC) - timedelta(hours=2)))

    response = client.get(f"{API}/me", headers=_bearer(issued.token))

    assert response.status_code == 401


def test_logging_out_revokes_the_presented_token_only(client):
    token = _log_in(client).get_json()["token"]
    other = _log_in(client).get_json()["token"]

    response = client.post(f"{API}/auth/logout", headers=_bearer(token))

    assert response.status_code == 204
    assert client.get(f"{API}/me", headers=_bearer(token)).status_code == 401
    assert client.get(f"{API}/me", headers=_bearer(other)).status_code == 200


def test_an_owner_lists_and_revokes_their_tokens(client):
    first = _log_in(client).get_json()
    second = _log_in(client).get_json()

    listed = client.get(f"{API}/auth/tokens", headers=_bearer(second["token"]))

    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert [item["id"] for item in items] == [first["id"], second["id"]]
    assert "token" not in items[0]
    assert client.delete(f"{API}/auth/tokens/{first['id']}", headers=_bearer(second["token"])).status_code == 204
    assert client.get(f"{API}/me", headers=_bearer(first["token"])).status_code == 401
    assert [item["id"] for item in
            client.get(f"{API}/auth/tokens", headers=_bearer(second["token"])).get_json()["items"]] == [second["id"]]


def test_nobody_else_sees_or_revokes_a_users_tokens_but_an_admin(client):
    karls = _log_in(client).get_json()
    annas = _log_in(client, "anna").get_json()["token"]
    admins = _log_in(client, "admin").get_json()["token"]

    assert client.get(f"{API}/auth/tokens?username=karl", headers=_bearer(annas)).status_code == 403
    refused = client.delete(f"{API}/auth/tokens/{karls['id']}", headers=_bearer(annas))
    assert refused.status_code == 404
    assert refused.get_json()["error"]["code"] == "not_found"
    assert client.get(f"{API}/me", headers=_bearer(karls["token"])).status_code == 200

    listed = client.get(f"{API}/auth/tokens?username=karl", headers=_bearer(admins)).get_json()["items"]
    assert [item["id"] for item in listed] == [karls["id"]]
    assert client.delete(f"{API}/auth/tokens/{karls['id']}", headers=_bearer(admins)).status_code == 204
    assert client.get(f"{API}/me", headers=_bearer(karls["token"])).status_code == 401


THROTTLED = {"LOGIN_MAX_FAILURES_PER_ACCOUNT": 3, "LOGIN_MAX_FAILURES_PER_ADDRESS": 5, "LOGIN_FAILURE_WINDOW": 600}


@pytest.mark.parametrize("app_config", [THROTTLED])
def test_password_guessing_is_429_with_retry_after_and_the_right_password_waits_too(client):
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):  # spread over addresses: the account still counts
        assert _log_in(client, password="wrong-password", address=address).status_code == 401

    response = _log_in(client, address="10.0.0.4")

    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 600
    assert response.get_json()["error"]["code"] == "too_many_attempts"
    assert _log_in(client, "anna", address="10.0.0.4").status_code == 201  # other accounts are not locked


@pytest.mark.parametrize("app_config", [THROTTLED])
def test_one_address_guessing_many_accounts_is_429(client):
    for username in ("karl", "anna", "emil", "eva", "owen"):
        assert _log_in(client, username, "wrong-password").status_code == 401

    assert _log_in(client, "admin", "demo-amflow").status_code == 429
    assert _log_in(client, "admin", "demo-amflow", address="10.9.9.9").status_code == 201


@pytest.mark.parametrize("app_config", [THROTTLED])
def test_a_forwarded_for_header_is_ignored_unless_proxies_are_trusted(client):
    for number in range(5):
        spoofed = {"X-Forwarded-For": f"10.1.1.{number}"}
        response = client.post(f"{API}/auth/token", headers=spoofed,
                               json={"username": f"nobody{number}", "password": "wrong-password"})
        assert response.status_code == 401

    assert _log_in(client, "admin").status_code == 429


def test_api_responses_carry_the_security_headers(client):
    headers = client.get(f"{API}/me").headers

    assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
