"""The compiled-statement cache finds a statement built once by the identity of its cache key (no hashing of
the key at each execution), and any other statement as SQLAlchemy would: each gets its own compiled SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from processes import Database
from processes.store.db import StatementCache
from processes.store.models import User

_BY_NAME = select(User.username, User.email).where(User.username == bindparam("name"))


class Key:
    """A cache key part whose hash is counted (SQLAlchemy's are tuples, hashed afresh at every lookup)."""

    hashed = 0

    def __hash__(self) -> int:
        Key.hashed += 1
        return 7

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Key)


def test_a_key_seen_before_is_found_by_its_identity_without_hashing():
    cache = StatementCache()
    part = Key()
    cache[("dialect", part, (), False, False)] = "compiled"
    Key.hashed = 0

    found = [cache.get(("dialect", part, (), False, False)) for _ in range(3)]

    assert found == ["compiled"] * 3
    assert Key.hashed == 0


def test_an_equal_key_of_another_statement_object_is_still_found_and_a_different_one_is_not():
    cache = StatementCache()
    cache[("dialect", Key(), (), False, False)] = "compiled"

    assert cache.get(("dialect", Key(), (), False, False)) == "compiled"  # equal structure, another object
    assert cache.get(("dialect", Key(), ("x",), False, False)) is None
    assert cache.get(("other dialect", Key(), (), False, False), "default") == "default"


def test_statements_built_once_run_from_the_identity_table_with_their_own_parameters(db: Database):
    other = select(User.username).where(User.username == bindparam("name"))  # built per call elsewhere
    with db.write() as session:
        session.add_all([User(username=name, name=name, email=f"{name}@dtu.example", language="da", active=True,
                              password_hash="x") for name in ("ulla", "kim")])
    with db.read() as session:
        first = [session.execute(_BY_NAME, {"name": name}).one() for name in ("ulla", "kim", "ulla")]
        second = session.scalar(other, {"name": "kim"})
        cache = session.connection().get_execution_options()["compiled_cache"]

    assert [tuple(row) for row in first] == [("ulla", "ulla@dtu.example"), ("kim", "kim@dtu.example"),
                                            ("ulla", "ulla@dtu.example")]
    assert second == "kim"
    assert isinstance(cache, StatementCache)
    assert id(_BY_NAME._generate_cache_key()[0]) in cache._known
