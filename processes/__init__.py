"""amflow's engine: deploy BPMN processes, start and advance cases, keep the task index and audit trail.

The public API of this package is what the service layer may call (see docs/internals.md). It knows
nothing of Flask or HTTP; every use case owns its transaction.
"""

from processes import errors, views, worklist
from processes.cases import claim_task, complete_task, get_case, start_case, unclaim_task
from processes.clock import SYSTEM_CLOCK, Clock, FixedClock
from processes.demo import load_demo
from processes.deployments import deploy, deploy_bundled, deploy_file, get_process_xml, list_processes
from processes.notify import mailer, outbox
from processes.people.identity import (
    authenticate,
    create_token,
    create_user,
    end_session,
    get_user,
    list_tokens,
    revoke_all,
    revoke_presented_token,
    revoke_token,
    start_session,
    user_for_session,
    user_for_token,
)
from processes.people.organisation import GROUP_CODES, GROUPS, UNITS
from processes.store.db import Database
from processes.tasks import (
    COUNT_CAP,
    SORTABLE,
    TaskFilter,
    TaskPage,
    case_diagram,
    describe_rules,
    get_task,
    list_tasks,
    run_decision,
    task_page,
)
from processes.throttle import LoginLimits
from processes.views import CaseStatus, CaseView, IssuedToken, TaskStatus, TaskView, TokenView, UserView

__all__ = [
    "COUNT_CAP",
    "GROUPS",
    "GROUP_CODES",
    "SORTABLE",
    "SYSTEM_CLOCK",
    "UNITS",
    "CaseStatus",
    "CaseView",
    "Clock",
    "Database",
    "FixedClock",
    "IssuedToken",
    "LoginLimits",
    "TaskFilter",
    "TaskPage",
    "TaskStatus",
    "TaskView",
    "TokenView",
    "UserView",
    "authenticate",
    "case_diagram",
    "claim_task",
    "complete_task",
    "create_token",
    "create_user",
    "deploy",
    "deploy_bundled",
    "deploy_file",
    "describe_rules",
    "end_session",
    "errors",
    "get_case",
    "get_process_xml",
    "get_task",
    "get_user",
    "list_processes",
    "list_tasks",
    "list_tokens",
    "load_demo",
    "mailer",
    "outbox",
    "revoke_all",
    "revoke_presented_token",
    "revoke_token",
    "run_decision",
    "start_case",
    "start_session",
    "task_page",
    "unclaim_task",
    "user_for_session",
    "user_for_token",
    "views",
    "worklist",
]
