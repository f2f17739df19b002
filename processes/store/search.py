"""Full-text search over cases, one query for both databases (issue #17).

Each step writes a case's words to ``cases.search_text`` (:func:`index_case`). SQLite keeps them also in
``case_search_rows`` (one row a case, by ``case_id``; migration 0026), whose triggers keep the FTS5 table
``case_search`` (migration 0019) in step; PostgreSQL matches ``to_tsvector('simple', search_text)``
through its GIN index. :func:`matching` is the condition on ``cases`` either way: every word of the query
must occur (SQLite: as a word prefix; PostgreSQL: as a word, or a word prefix for the last one).
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, bindparam, column, delete, func, literal_column, select, table
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from processes.store.models import Case

_case_search = table("case_search", column("case_id"), column("body"))
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_WORDS = 8


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


_case_search_rows = table("case_search_rows", column("case_id"), column("body"))
_DELETE_WORDS = delete(_case_search_rows).where(_case_search_rows.c.case_id == bindparam("case_id"))
_upsert = sqlite_insert(_case_search_rows).values(case_id=bindparam("case_id"), body=bindparam("body"))
_UPSERT_WORDS = _upsert.on_conflict_do_update(index_elements=["case_id"], set_={"body": _upsert.excluded.body})


def index_case(session: Session, case: Case, words: str) -> None:
    """Keep the case's searchable words in step (only when they changed).

    On SQLite one statement: the words are upserted into ``case_search_rows`` by its unique ``case_id`` (a
    case without words has no row: its row is deleted), and its triggers change the FTS row. The statements
    go past the ORM, without flushing it first (they touch no table it maps), so the case row's changes of
    the step are written in one statement (a new case's: its INSERT).
    """
    if case.search_text == words:
        return
    had_words = bool(case.search_text)
    case.search_text = words
    if _is_sqlite(session):
        if words:
            session.connection().execute(_UPSERT_WORDS, {"case_id": case.id, "body": words})
        elif had_words:
            session.connection().execute(_DELETE_WORDS, {"case_id": case.id})


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
