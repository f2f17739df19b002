"""Full-text search over cases, one query for both databases (issue #17).

Each step writes a case's words to ``cases.search_text`` (:func:`index_case`). SQLite keeps them also in
the FTS5 table ``case_search`` (migration 0019), PostgreSQL matches ``to_tsvector('simple', search_text)``
through its GIN index. :func:`matching` is the condition on ``cases`` either way: every word of the query
must occur (SQLite: as a word prefix; PostgreSQL: as a word, or a word prefix for the last one).
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, bindparam, column, delete, func, insert, literal_column, select, table
from sqlalchemy.orm import Session

from processes.store.models import Case

_case_search = table("case_search", column("case_id"), column("body"))
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_WORDS = 8


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


_DELETE_WORDS = delete(_case_search).where(_case_search.c.case_id == bindparam("case_id"))
_INSERT_WORDS = insert(_case_search).values(case_id=bindparam("case_id"), body=bindparam("body"))


def index_case(session: Session, case: Case, words: str) -> None:
    """Keep the case's searchable words in step (only when they changed).

    On SQLite the FTS table has a row for a case exactly when its ``search_text`` is not empty (a new case's
    is empty), so a case's first words need no DELETE; the statements go past the ORM, without flushing it
    first (they touch no table it maps), so the case row's changes of the step are written in one UPDATE.
    """
    if case.search_text == words:
        return
    had_words = bool(case.search_text)
    case.search_text = words
    if _is_sqlite(session):
        connection = session.connection()
        if had_words:
            connection.execute(_DELETE_WORDS, {"case_id": case.id})
        if words:
            connection.execute(_INSERT_WORDS, {"case_id": case.id, "body": words})


def query_words(text: str) -> list[str]:
    """The words of a search, as both databases split them (punctuation is no part of a word)."""
    return _WORD.findall(text.lower())[:MAX_QUERY_WORDS]


def matching(session: Session, text: str) -> ColumnElement[bool]:
    """The cases whose words contain every word of ``text`` (a query without words matches every case)."""
    words = query_words(text)
    if not words:
        return Case.id.is_not(None)
    if _is_sqlite(session):
        fts = " ".join(f'"{word}"*' for word in words)  # quoted: no FTS5 syntax gets through
        found = select(_case_search.c.case_id).where(
            literal_column("case_search").op("MATCH")(bindparam("fts_query", fts)))
        return Case.id.in_(found)
    tsquery = " & ".join(f"{word}:*" if index == len(words) - 1 else word for index, word in enumerate(words))
    return func.to_tsvector(literal_column("'simple'"), Case.search_text).op("@@")(
        func.to_tsquery(literal_column("'simple'"), bindparam("ts_query", tsquery)))
