"""The tables, as SQLAlchemy 2 declarative models. Schema changes go through Alembic migrations only."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored as UTC; SQLite hands back naive values, which we mark as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


Timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime(), default=utcnow)]
Code = Annotated[str, mapped_column(String(64))]
JsonDoc = Annotated[Any, mapped_column(JSON, nullable=False)]


class Base(DeclarativeBase):
    pass


user_groups = Table(
    "user_groups",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("group_code", ForeignKey("groups.code"), primary_key=True),
)

user_units = Table(
    "user_units",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_code", ForeignKey("units.code"), primary_key=True),
)


class Unit(Base):
    """A DTU unit (institute or department), e.g. ``kemi`` (DTU Kemi)."""

    __tablename__ = "units"
    code: Mapped[Code] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # the unit above it (department -> DTU); None for DTU itself (issue #11: the next-level leader)
    parent: Mapped[str | None] = mapped_column(ForeignKey("units.code"), index=True)


class Group(Base):
    """A group of case handlers; a BPMN lane names one. Central groups see every unit."""

    __tablename__ = "groups"
    code: Mapped[Code] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    central: Mapped[bool] = mapped_column(Boolean, default=False)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), default="da")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[Timestamp]
    groups: Mapped[list[Group]] = relationship(secondary=user_groups, lazy="selectin")
    units: Mapped[list[Unit]] = relationship(secondary=user_units, lazy="selectin")


class ApiToken(Base):
    """A bearer token; only its SHA-256 digest is stored, so a leaked table leaks no usable token."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[Timestamp]
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    user: Mapped[User] = relationship(lazy="joined")


class WebSession(Base):
    """A log-in of the web pages. The cookie holds a random session id (no bearer token); only its SHA-256
    digest is stored, and log-out deletes the row, so a copied cookie is worthless afterwards."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[Timestamp]
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempts(Base):
    """Log-in attempts counted in a fixed window per account and per client address.

    Kept in the database so every gunicorn worker (and a restarted one) sees the same counts.
    """

    __tablename__ = "login_attempts"
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # "account" or "address"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class ProcessVersion(Base):
    """An immutable, numbered deployment of one BPMN process (key = the BPMN process id)."""

    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300), default="", server_default="")  # property nameEn
    filename: Mapped[str] = mapped_column(String(300))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(64))
    start_form: Mapped[str | None] = mapped_column(String(200))
    deployed_at: Mapped[Timestamp]
    deployed_by: Mapped[str | None] = mapped_column(String(100))
    # The digest of the BPMN with every bundle entry it uses (processes.bundles); null: deployed before bundles.
    bundle_digest: Mapped[str | None] = mapped_column(String(64))
    # What changed, in the deployer's words (the modeler asks for it; the CLI and the shipped files give none).
    change_note: Mapped[str | None] = mapped_column(String(1000))


class ProcessDraft(Base):
    """A process owner's unsaved work in the modeler: one draft per process key, not deployed, not run."""

    __tablename__ = "process_drafts"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    bpmn_xml: Mapped[str] = mapped_column(Text)
    lanes: Mapped[Any | None] = mapped_column(JSON)  # lane name -> group code, as the page last had it
    based_on: Mapped[int | None] = mapped_column(Integer)  # the version the draft was opened from
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[Timestamp]


class BundleEntry(Base):
    """One version of a document a process uses beside its BPMN (a form, a rule set, the parameters, a
    register, a mail template), stored once by its content's SHA-256 and shared by every version using it."""

    __tablename__ = "bundle_entries"
    __table_args__ = (
        UniqueConstraint("kind", "name", "sha256"),
        CheckConstraint("kind IN ('form', 'ruleset', 'parameters', 'register', 'mail', 'lanes')",
                        name="ck_bundle_kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)


process_version_entries = Table(
    "process_version_entries",
    Base.metadata,
    Column("process_version_id", ForeignKey("process_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("entry_id", ForeignKey("bundle_entries.id"), primary_key=True, index=True),
)


class Case(Base):
    """One running or finished process instance.

    ``state`` is SpiffWorkflow's serialized run state (without the process definition, which lives once per
    version); ``data`` is the case data as the users see it, kept beside it unescaped. ``revision`` is the
    optimistic lock: every UPDATE checks it, so a concurrent change fails instead of being overwritten.
    """

    __tablename__ = "cases"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    unit: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    data: Mapped[JsonDoc]
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    started_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp]
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # when the worker erased the personal data its process declares, after the retention period (retention.py)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # What lists and search read without loading the workflow (issue #17), written by every step
    # (processes.casefacts): the title and summary from the process's caseTitle/caseSummary templates, the
    # current decision (the badge, from caseBadge), the user the case is about, whether it is restricted and who
    # else may read it, and the words full-text search looks in. On SQLite the words are also in the FTS5
    # table ``case_search``; on PostgreSQL a GIN index on to_tsvector('simple', search_text) (both made by
    # migration 0019 only: neither is a table or index a model can describe).
    title: Mapped[str] = mapped_column(String(300), default="", server_default="")
    summary: Mapped[str] = mapped_column(String(500), default="", server_default="")
    badge: Mapped[str] = mapped_column(String(200), default="", server_default="")  # from caseBadge
    # the same in English (migration 0022): decision values and form choices by their English names, the
    # process's English name when the title template gives nothing; title and badge above are the Danish
    title_en: Mapped[str] = mapped_column(String(300), default="", server_default="")
    badge_en: Mapped[str] = mapped_column(String(200), default="", server_default="")
    subject: Mapped[str | None] = mapped_column(String(100), index=True)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    readers: Mapped[str] = mapped_column(String(300), default="", server_default="")  # " amk hr " (padded)
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    __table_args__ = (
        Index("ix_cases_started_by", "started_by", "created_at"),
        Index("ix_cases_unit_created", "unit", "created_at"),
        Index("ix_cases_erasure", "process_version_id", "erased_at", "completed_at"),
    )
    __mapper_args__ = {"version_id_col": revision}


class TaskRecord(Base):
    """The task index: one row per user task instance, kept in step with the workflow state."""

    __tablename__ = "tasks"
    __table_args__ = (
        # The queue (processes.taskqueue) reads one (status, group, unit) range per visibility arm, in the
        # order of the sort column, id; one index per sort column, so no sort needs a temporary B-tree.
        Index("ix_tasks_queue", "status", "group", "unit", "created_at", "id"),
        Index("ix_tasks_queue_due", "status", "group", "unit", "due_at", "id"),
        Index("ix_tasks_queue_title", "status", "group", "unit", "title", "id"),
        Index("ix_tasks_queue_case", "status", "group", "unit", "case_id", "id"),
        Index("ix_tasks_queue_assignee", "status", "group", "unit", "assignee", "id"),
        Index("ix_tasks_queue_unit", "status", "group", "unit", "id"),  # sort by unit: the arm has one unit
        Index("ix_tasks_assignee", "assignee", "status", "created_at", "id"),
        Index("ix_tasks_assignee_due", "assignee", "status", "due_at", "id"),  # my tasks, due first
        CheckConstraint("status IN ('ready', 'claimed', 'completed', 'cancelled')", name="ck_tasks_status"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300), default="", server_default="")  # "" -> title
    group: Mapped[str | None] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    form: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[Timestamp]
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(100))


class AuditEvent(Base):
    """Append-only audit trail: who did what to which case, when, with which data."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[Timestamp]
    actor: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(50))
    detail: Mapped[JsonDoc]


class DecisionRecord(Base):
    """A rules-engine decision taken in a case, with the fired rules and the parameter values used."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task: Mapped[str | None] = mapped_column(String(200))
    ruleset: Mapped[str] = mapped_column(String(100))
    decision: Mapped[JsonDoc]
    fired: Mapped[JsonDoc]
    parameters: Mapped[JsonDoc]
    on: Mapped[dt.date] = mapped_column(Date)
    at: Mapped[Timestamp]
    # What a replay needs and a reader asks (null on decisions taken before process bundles):
    facts: Mapped[Any | None] = mapped_column(JSON)  # the facts as given to the rule set
    derived: Mapped[Any | None] = mapped_column(JSON)  # the derived facts and lookup results
    ruleset_version: Mapped[str | None] = mapped_column(String(64))  # sha256 of the bundle's rule-set entry
    parameters_version: Mapped[str | None] = mapped_column(String(64))  # sha256 of its parameters entry
    law_date_from: Mapped[str | None] = mapped_column(String(200))  # "field:<name>", "fact:<name>" or "today"


class Notification(Base):
    """The outbox: one message to one recipient, written in the same transaction as the step that causes it.

    Subject and body are rendered when the row is written, in the recipient's language, so what is sent is
    what the step decided. A sender delivers pending rows over SMTP with retries (``status`` pending ->
    sending -> sent | logged | failed); ``message_id`` is stable, so a resend after a crash can be told
    apart by the receiving side.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status", "status", "next_attempt_at"),
        Index("ix_notifications_created_at", "created_at"),  # the worker's purge of finished mails
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    template: Mapped[str] = mapped_column(String(100))
    recipient_user: Mapped[str | None] = mapped_column(String(100))
    recipient_group: Mapped[str | None] = mapped_column(String(64))
    unit: Mapped[str | None] = mapped_column(String(64))
    to_address: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5), default="da")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    data: Mapped[JsonDoc]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Timestamp]
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CaseTimer(Base):
    """The next wake-up of a case: the earliest due time of its waiting BPMN timers.

    The worker claims due rows from this table (never by scanning open cases) and consumes a row in the
    same transaction that advances the case, so a timer fires exactly once even with several workers or
    a worker killed mid-run. A row whose handling keeps failing backs off and finally becomes an incident.
    """

    __tablename__ = "case_timers"
    __table_args__ = (Index("ix_case_timers_due", "status", "due_at"),)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled | incident
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Incident(Base):
    """Something the engine could not do by itself and a person must look at (shown on the case)."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[Timestamp]
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class TaskDraft(Base):
    """A form filled in part and saved, to be resumed later by the same user."""

    __tablename__ = "task_drafts"
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    data: Mapped[JsonDoc]
    saved_at: Mapped[Timestamp]


class Comment(Base):
    """A remark anyone working the case adds to it."""

    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[Timestamp]


class Attachment(Base):
    """A file attached to a case (optionally through a task's form), stored in the database.

    Kept in the database so it is saved in the same transaction as the step and backed up with the
    case; the size is capped (``MAX_ATTACHMENT_BYTES`` in processes.worklist).
    """

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    at: Mapped[Timestamp]


class SavedFilter(Base):
    """A named task-queue filter; shared with a group when ``shared_group`` is set."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("owner", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[JsonDoc]
    shared_group: Mapped[str | None] = mapped_column(ForeignKey("groups.code"), index=True)
    created_at: Mapped[Timestamp]


class WorkerHeartbeat(Base):
    """The last pass of each timer worker process (``host:pid``); `/readyz` fails when none is recent."""

    __tablename__ = "worker_heartbeats"
    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CaseRead(Base):
    """One read of a restricted case (its page, its tasks, comments or attachments), allowed or refused.

    Kept apart from the case's history so reading never changes what the history shows.
    """

    __tablename__ = "case_reads"
    __table_args__ = (Index("ix_case_reads_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[Timestamp]
    actor: Mapped[str | None] = mapped_column(String(400))
    what: Mapped[str] = mapped_column(String(100))
    allowed: Mapped[bool] = mapped_column(Boolean)


class CaseLink(Base):
    """A signed link for a person without an account: one case and the tasks it names, until it expires.

    The token is signed (HMAC, processes.links) and names this row's id and a key id; the row says whether
    it is still good: ``revoked_at`` stops it at once, a renewal moves ``expires_at`` and bumps ``serial``,
    which makes every earlier token of the row worthless.
    """

    __tablename__ = "case_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    tasks: Mapped[JsonDoc]
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5), default="da")
    serial: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[Timestamp]
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class StartLink(Base):
    """A signed link that starts one case of a process in a unit, for a person without an account (a student,
    a guest), who is recorded as the case's starter; until it expires, is revoked, or has started its case.

    Like ``CaseLink`` the token names this row's id and serial (processes.startlinks); ``case_id`` is set
    when the link has been used.
    """

    __tablename__ = "start_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5), default="da")
    serial: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[Timestamp]
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))


class CaseCalledVersion(Base):
    """The version of a process of another file that a case's call activity called first (kept for restores)."""

    __tablename__ = "case_called_versions"
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))


class ProcessSchedule(Base):
    """A process started by the timer of its start event: the next occurrence the worker is to start.

    One row per process key, kept in step with its newest version by the worker (``processes/starts.py``);
    a process without a timer start has a row with no ``next_at``, so its version is not parsed again.
    """

    __tablename__ = "process_schedules"
    __table_args__ = (Index("ix_process_schedules_due", "next_at"),)
    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class ScheduledStart(Base):
    """One occurrence of a timer start that started a case; unique, so no occurrence starts two cases."""

    __tablename__ = "scheduled_starts"
    __table_args__ = (UniqueConstraint("process_key", "occurrence_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    occurrence_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    started_at: Mapped[Timestamp]


class WebhookDelivery(Base):
    """The webhook outbox: one JSON POST to a configured target, written in the step that causes it.

    A BPMN service task with operator ``webhook`` writes the row in the step's transaction, so the case never
    waits for the receiver; the worker posts due rows (``status`` pending -> sending -> delivered | failed |
    skipped) with back-off, and a row that keeps failing becomes an incident on the case. ``target`` names
    the configured URL (``fm`` -> ``AMFLOW_FM_WEBHOOK_URL``), never the URL itself, so a diagram cannot send
    case data anywhere the operators did not configure.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task: Mapped[str] = mapped_column(String(200))  # the BPMN id of the service task
    target: Mapped[str] = mapped_column(String(64))
    payload: Mapped[JsonDoc]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Timestamp]
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class InboxItem(Base):
    """An in-app notification (issue #17): a task for a group in a unit, a task given to one person, a comment.

    Written in the transaction of the step or comment that causes it. A group's task is ONE row for the
    group and unit, read by membership (a step stays cheap however many members the group has); a personal
    one names its ``recipient``. Only ids are kept: titles are joined from the case and task when read, so a
    restricted case's title never lands here and an erased case leaves nothing behind."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        Index("ix_inbox_items_recipient", "recipient", "id"),
        Index("ix_inbox_items_group_unit", "group", "unit", "id"),
        Index("ix_inbox_items_created_at", "created_at"),  # the worker's purge of read notifications
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # group_task, task_assigned, comment
    recipient: Mapped[str | None] = mapped_column(String(100))
    group: Mapped[str | None] = mapped_column(String(64))
    unit: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    actor: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[Timestamp]


class InboxRead(Base):
    """That a user has opened an in-app notification (one row per reader: a group's row has many)."""

    __tablename__ = "inbox_reads"
    item_id: Mapped[int] = mapped_column(ForeignKey("inbox_items.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    read_at: Mapped[Timestamp]


class NotificationSetting(Base):
    """A user's choice per kind of notification: also by e-mail or not (no row: the kind's default)."""

    __tablename__ = "notification_settings"
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean)
