"""Throttled log-in: attempts counted per account and per client address in a fixed window.

The counts live in the database (`login_attempts`), not in process memory: `amflow serve` runs several
gunicorn workers, and an in-memory counter per worker would multiply the allowance by the number of
workers and forget it whenever a worker restarts.

Each attempt is counted BEFORE the password is checked, in one write transaction, so concurrent guesses
cannot slip past the limit. A right password then takes back its own count from the address (the address
counter is never reset, so an attacker who owns one account cannot clear their record by logging into it)
and clears the account's counter (which only the account's password can do).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from processes.errors import TooManyAttempts
from processes.store.db import Database
from processes.store.models import LoginAttempts

ACCOUNT = "account"
ADDRESS = "address"
_KEY_LENGTH = 200


@dataclass(frozen=True)
class LoginLimits:
    """How many failed log-ins per account and per client address a window allows."""

    per_account: int = 10
    per_address: int = 50
    window: dt.timedelta = dt.timedelta(minutes=15)


def _counters(limits: LoginLimits, username: str, address: str | None) -> list[tuple[str, str, int]]:
    counters = [(ACCOUNT, username[:_KEY_LENGTH], limits.per_account)]
    if address:
        counters.append((ADDRESS, address[:_KEY_LENGTH], limits.per_address))
    return counters


def count_attempt(db: Database, limits: LoginLimits, username: str, address: str | None, now: dt.datetime) -> None:
    """Count one log-in attempt, or raise TooManyAttempts if the account or the address has used up its window."""
    for retry in (True, False):
        try:
            with db.write() as session:
                _count(session, limits, username, address, now)
            return
        except IntegrityError:  # another worker created the same counter row first: count again on top of it
            if not retry:
                raise


def _count(session: Session, limits: LoginLimits, username: str, address: str | None, now: dt.datetime) -> None:
    session.execute(delete(LoginAttempts).where(LoginAttempts.window_started_at <= now - limits.window))
    rows: list[LoginAttempts] = []
    wait = 0
    for scope, key, limit in _counters(limits, username, address):
        row = session.get(LoginAttempts, (scope, key), with_for_update=True)
        if row is None:
            row = LoginAttempts(scope=scope, key=key, count=0, window_started_at=now)
            session.add(row)
        elif row.count >= limit:
            remaining = (row.window_started_at + limits.window - now).total_seconds()
            wait = max(wait, math.ceil(remaining), 1)
        rows.append(row)
    if wait:
        raise TooManyAttempts(f"too many failed log-ins; try again in {wait} seconds", retry_after=wait)
    for row in rows:
        row.count += 1


def forgive_attempt(db: Database, limits: LoginLimits, username: str, address: str | None) -> None:
    """After a right password: clear the account's counter and take this attempt off the address's count."""
    with db.write() as session:
        for scope, key, _limit in _counters(limits, username, address):
            row = session.get(LoginAttempts, (scope, key), with_for_update=True)
            if row is None:
                continue
            if scope == ACCOUNT:
                session.delete(row)
            else:
                row.count = max(row.count - 1, 0)
