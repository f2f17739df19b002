"""Who may call the API: bearer tokens from a password log-in, 401 without one."""

from __future__ import annotations

import pytest

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
