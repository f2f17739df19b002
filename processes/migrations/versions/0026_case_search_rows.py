"""the case search's words by case, indexed (SQLite)

SQLite's FTS5 table ``case_search`` (migration 0019) keeps ``case_id`` as an unindexed column, so changing a
case's words deleted its old row by a scan of the whole table, and took two statements (DELETE, INSERT).
Now the words live in ``case_search_rows`` (``case_id`` unique, so indexed), written with one upsert, and
triggers keep ``case_search`` in step with it, row for row (the FTS row's rowid is the row's id). Existing
words are copied from ``cases.search_text``, the truth. PostgreSQL searches ``cases.search_text`` through its
GIN index and needs nothing. No model describes it (the schema test leaves out tables named case_search*).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 09:00:00
"""
from alembic import op


revision = '0026'
down_revision = "0025"
branch_labels = None
depends_on = None

_TRIGGERS = {
    "case_search_rows_inserted": "AFTER INSERT ON case_search_rows BEGIN "
    "INSERT INTO case_search (rowid, case_id, body) VALUES (new.id, new.case_id, new.body); END",
    "case_search_rows_updated": "AFTER UPDATE ON case_search_rows BEGIN "
    "DELETE FROM case_search WHERE rowid = old.id; "
    "INSERT INTO case_search (rowid, case_id, body) VALUES (new.id, new.case_id, new.body); END",
    "case_search_rows_deleted": "AFTER DELETE ON case_search_rows BEGIN "
    "DELETE FROM case_search WHERE rowid = old.id; END",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TABLE case_search_rows (id INTEGER PRIMARY KEY, case_id VARCHAR(36) NOT NULL, "
               "body TEXT NOT NULL, CONSTRAINT uq_case_search_rows_case UNIQUE (case_id))")
    for name, body in _TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute("DELETE FROM case_search")
    op.execute("INSERT INTO case_search_rows (case_id, body) SELECT id, search_text FROM cases "
               "WHERE search_text != ''")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE case_search_rows")
