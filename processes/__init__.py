"""amflow's engine: deploy BPMN processes, start and advance cases, keep the task index and audit trail.

This is the front door: everything the service layer (and the tests) may call is named here, by what a
user does. See docs/internals.md for the map of the rooms behind it. It knows nothing of Flask or HTTP;
every use case owns its transaction.
"""

from processes import errors, views
from processes.cases import case_diagram, get_case, passed_step_names, start_case
from processes.clock import SYSTEM_CLOCK, Clock, FixedClock
from processes.decisions import decision_labels, describe_rules, run_decision
from processes.demo import load_demo
from processes.deployments import deploy, deploy_bundled, deploy_file, get_process_xml, list_processes
from processes.notify.mailer import SendReport, SmtpSettings, send_pending
from processes.people.identity import authenticate, create_token, create_user, get_user, user_for_token
from processes.people.organisation import GROUP_CODES, GROUPS, UNITS
from processes.store.audit import HIDDEN_KINDS, AuditKind
from processes.store.db import Database
from processes.tasks import TaskFilter, claim_task, complete_task, get_task, list_tasks, unclaim_task
from processes.views import CaseStatus, CaseView, ProcessView, TaskStatus, TaskView, UserView
from processes.worker import MAX_ATTEMPTS, TimerPass, WorkerPass, fire_due_timers, run_pass
from processes.worklist import (
    AttachmentView,
    CommentView,
    SavedFilterView,
    Upload,
    add_attachment,
    add_comment,
    assign_tasks,
    check_upload,
    claim_tasks,
    colleagues_for,
    delete_filter,
    get_attachment,
    get_draft,
    list_attachments,
    list_comments,
    list_filters,
    save_draft,
    save_filter,
    work_on_task,
)

__all__ = [
    "GROUPS",
    "GROUP_CODES",
    "HIDDEN_KINDS",
    "MAX_ATTEMPTS",
    "SYSTEM_CLOCK",
    "UNITS",
    "AttachmentView",
    "AuditKind",
    "CaseStatus",
    "CaseView",
    "Clock",
    "CommentView",
    "Database",
    "FixedClock",
    "ProcessView",
    "SavedFilterView",
    "SendReport",
    "SmtpSettings",
    "TaskFilter",
    "TaskStatus",
    "TaskView",
    "TimerPass",
    "Upload",
    "UserView",
    "WorkerPass",
    "add_attachment",
    "add_comment",
    "assign_tasks",
    "authenticate",
    "case_diagram",
    "check_upload",
    "claim_task",
    "claim_tasks",
    "colleagues_for",
    "complete_task",
    "create_token",
    "create_user",
    "decision_labels",
    "delete_filter",
    "deploy",
    "deploy_bundled",
    "deploy_file",
    "describe_rules",
    "errors",
    "fire_due_timers",
    "get_attachment",
    "get_case",
    "get_draft",
    "get_process_xml",
    "get_task",
    "get_user",
    "list_attachments",
    "list_comments",
    "list_filters",
    "list_processes",
    "list_tasks",
    "load_demo",
    "passed_step_names",
    "run_decision",
    "run_pass",
    "save_draft",
    "save_filter",
    "send_pending",
    "start_case",
    "unclaim_task",
    "user_for_token",
    "views",
    "work_on_task",
]
