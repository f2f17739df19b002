"""Credentials: expiring tokens and web sessions, revocation, and the log-in throttle's window, moved by a clock."""

from __future__ import annotations

import datetime as dt

import pytest

from processes import (
    FixedClock,
    LoginLimits,
    authenticate,
    create_token,
    end_session,
    revoke_all,
    start_session,
    user_for_session,
    user_for_token,
)
from processes.errors import TooManyAttempts, Unauthenticated

START = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
LIMITS = LoginLimits(per_account=3, per_address=5, window=dt.timedelta(minutes=15))


def test_a_token_works_until_it_expires(db, anna):
    issued = create_token(db, "anna", ttl=dt.timedelta(hours=1), clock=FixedClock(START))

    assert user_for_token(db, issued.token, clock=FixedClock(START + dt.timedelta(minutes=59))).username == "anna"
    with pytest.raises(Unauthenticated):
        user_for_token(db, issued.token, clock=FixedClock(START + dt.timedelta(hours=1)))


def test_a_web_session_ends_at_log_out_or_when_it_expires(db, anna):
    clock = FixedClock(START)
    first = start_session(db, "anna", ttl=dt.timedelta(hours=8), clock=clock)
    second = start_session(db, "anna", ttl=dt.timedelta(hours=8), clock=clock)

    end_session(db, first)

    with pytest.raises(Unauthenticated):
        user_for_session(db, first, clock=clock)
    assert user_for_session(db, second, clock=clock).username == "anna"
    with pytest.raises(Unauthenticated):
        user_for_session(db, second, clock=FixedClock(START + dt.timedelta(hours=8)))


def test_revoking_all_ends_every_token_and_session_of_the_user_only(db, anna, emil):
    token = create_token(db, "anna").token
    session_id = start_session(db, "anna")
    emils = create_token(db, "emil").token

    assert revoke_all(db, "anna", actor=None) == 2

    with pytest.raises(Unauthenticated):
        user_for_token(db, token)
    with pytest.raises(Unauthenticated):
        user_for_session(db, session_id)
    assert user_for_token(db, emils).username == "emil"


def _guess(db, username, *, at, address="10.0.0.1", password="wrong-password"):
    return authenticate(db, username, password, address=address, limits=LIMITS, clock=FixedClock(at))


def test_the_account_is_throttled_until_its_window_ends(db, anna):
    for minute in range(3):
        with pytest.raises(Unauthenticated):
            _guess(db, "anna", at=START + dt.timedelta(minutes=minute))

    with pytest.raises(TooManyAttempts) as refused:
        _guess(db, "anna", at=START + dt.timedelta(minutes=5), password="anna-password")
    assert refused.value.retry_after == 10 * 60
    assert _guess(db, "anna", at=START + dt.timedelta(minutes=15), password="anna-password").username == "anna"


def test_a_right_password_clears_the_accounts_count_but_not_the_addresss(db, anna, emil):
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            _guess(db, "anna", at=START)
    _guess(db, "emil", at=START, password="emil-password")  # the guesser's own account
    _guess(db, "anna", at=START, address="10.0.0.2", password="anna-password")  # the owner, elsewhere
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            _guess(db, "anna", at=START)  # 3 more: the account's count started afresh; the address has 5

    with pytest.raises(TooManyAttempts):
        _guess(db, "emil", at=START, password="emil-password")
