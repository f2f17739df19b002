"""The one module that talks to durable-rules 2.0.28.

How it is used, and why (measured, see TECH.md):

* A rule set is registered as JSON data with ``Host.register_rulesets``; each rule's action is bound by
  name through ``get_action`` and records the rule's name and outcome in the durable state ``c.s``.
* One fact per decision is *asserted* (not posted as an event): durable-rules then fires every rule whose
  condition matches, in ``pri`` order. An event would be consumed by the first matching rule only.
* durable-rules is not thread-safe (8 threads without a lock segfaulted or hung) and its lazy
  ``get_host()`` is racy. So: one ``Host`` subclass per process, created lazily after a fork (the pid
  is checked on every call), its background dispatch threads disabled, and one process-wide lock around
  assert + delete_state.
* State is kept per ``sid`` even when no rule matched, and 1,024 live states raise ``MemoryError``:
  every decision uses a fresh uuid ``sid`` and deletes its state in ``finally``.
* A catch-all rule with the lowest priority is added to every rule set, so no fact goes unhandled:
  deleting the state of an unhandled fact segfaults while the rule set has never handled one.
* Actions take exactly one parameter ``c`` (a second one makes durable-rules treat the action as
  asynchronous and it never completes), and exceptions inside actions are swallowed into the returned
  state under ``exception``; the caller checks for it.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import durable_rules_engine
from durable import engine as durable_engine
from durable.engine import Host, MessageNotHandledException

from rules.errors import RulesError
from rules.model import ParameterRef, Rule

Action = Callable[[Any], None]


def _unix_now() -> float:
    """durable-rules' clock for action leases, without ``datetime.utcfromtimestamp``.

    durable-rules 2.0.28 calls it for every action; Python 3.12 deprecates it, and under pytest's
    ``filterwarnings = error`` every decision then fails. Only differences of this clock are used
    (lease timeouts of a few seconds), so ``time.time()`` is an exact replacement.
    """
    return time.time()


durable_engine._unix_now = _unix_now  # the one compatibility patch, see above

# durable-rules error code for "no state for this sid" (e.g. deleting a state that was never created).
_STATE_NOT_FOUND = "error code: 309"


@dataclass(frozen=True)
class Program:
    """A rule set as durable-rules runs it.

    ``name`` is versioned by a digest of the rules (see ``compile_program``), so reloading an edited rule
    file registers a new durable rule set instead of clashing with the old name. ``definition`` is kept as JSON text
    because durable-rules mutates the dict it registers (it deletes each rule's ``run`` key).
    """

    name: str
    definition: str
    actions: Mapping[str, Action]


# Where the actions record in the durable state. The dots keep these keys apart from fact names
# (identifiers without dots), and from the properties rule conditions test.
FIRED, DECISION, REQUIRED, CONFLICTS = "amflow.fired", "amflow.decision", "amflow.required", "amflow.conflicts"
EVALUATED = "amflow.evaluated"

# The catch-all rule the engine adds to every rule set, below any priority a rule file may use
# (the schema caps ``pri`` at 100000). It guarantees that every fact is handled: in durable-rules
# 2.0.28, deleting a state after a MessageNotHandledException segfaults the process while the
# rule set has never handled a message (reproduced in tests/unit/test_rules_engine.py).
CATCH_ALL = "__evaluated__"
CATCH_ALL_PRI = 1_000_000

# Every posted fact carries this marker and every condition requires it. durable-rules also matches
# conditions against its own state, which the actions change: without the marker a condition such as
# {"$ex": {"sid": 1}} matches the state after each action and the rule set never stops firing.
FACT_MARKER = "__fact__"


@dataclass(frozen=True)
class Outcome:
    """What the fired rules recorded for one decision (an empty outcome: no rule matched)."""

    fired: tuple[str, ...] = ()
    decision: Mapping[str, Any] = field(default_factory=dict)
    required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()
    exception: str | None = None
    evaluated: bool = False

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Outcome:
        """Read the outcome out of the state durable-rules returned."""
        exception = state.get("exception")
        return cls(
            fired=tuple(state.get(FIRED) or ()),
            decision=dict(state.get(DECISION) or {}),
            required={name: tuple(keys) for name, keys in (state.get(REQUIRED) or {}).items()},
            conflicts=tuple(state.get(CONFLICTS) or ()),
            exception=None if exception is None else str(exception),
            evaluated=state.get(EVALUATED) is True,
        )


def _outcome_value(value: Any) -> Any:
    """Outcome values as JSON for the durable state; a parameter reference is resolved later."""
    if isinstance(value, ParameterRef):
        return {"parameter": value.key}
    return list(value) if isinstance(value, tuple) else value


def _items(content: Any) -> dict[str, Any]:
    """A plain dict from a durable ``Content`` (or ``None``)."""
    return dict(content.items()) if content is not None else {}


def _record(state: Any, rule: Rule) -> None:
    """Record in the durable state that ``rule`` fired, what it decided and what it requires.

    A field already decided differently by an earlier rule is recorded as a conflict: which of two
    contradicting rules should win is a question for the process owner, not something to guess.
    """
    state[FIRED] = [*(state[FIRED] or []), rule.name]
    decided = _items(state[DECISION])
    conflicts = list(state[CONFLICTS] or [])
    for name, value in rule.sets.items():
        new = _outcome_value(value)
        if name in decided and decided[name] != new:
            conflicts.append(f"{name}: {decided[name]!r} and {new!r} (rule {rule.name})")
        decided[name] = new
    state[DECISION] = decided
    if conflicts:
        state[CONFLICTS] = conflicts
    if rule.requires:
        required = _items(state[REQUIRED])
        for name, keys in rule.requires.items():
            required[name] = [*required.get(name, []), *keys]
        state[REQUIRED] = required


def _action_for(rule: Rule) -> Action:
    def action(c: Any) -> None:  # exactly one parameter, or durable-rules runs it as asynchronous
        _record(c.s, rule)

    action.__name__ = f"record_{rule.name}"
    return action


def _evaluated(c: Any) -> None:  # exactly one parameter, see _action_for
    """The catch-all's action: the rule set ran down to its lowest priority."""
    c.s[EVALUATED] = True


def _marked(condition: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's ``all``/``any`` with the fact marker required in every pattern."""
    return {
        kind: [{"m": {"$and": [{FACT_MARKER: 1}, pattern["m"]]}} for pattern in patterns]
        for kind, patterns in condition.items()
    }


def _version(ruleset: str, rules: tuple[Rule, ...]) -> str:
    """A digest of everything the program does: conditions, priorities and outcomes."""
    content = [
        [rule.name, rule.pri, rule.condition, {k: _outcome_value(v) for k, v in rule.sets.items()}, rule.requires]
        for rule in rules
    ]
    text = json.dumps([ruleset, content], sort_keys=True, default=list)
    return uuid.uuid5(uuid.NAMESPACE_URL, text).hex[:12]


def compile_program(ruleset: str, rules: tuple[Rule, ...]) -> Program:
    """The durable-rules definition of a validated rule set, with one recording action per rule.

    The durable name carries a digest of conditions *and* outcomes: an edited rule set (even one that
    only changes what a rule sets) is registered anew instead of reusing the actions of the old one.
    """
    name = f"{ruleset}@{_version(ruleset, rules)}"
    definition: dict[str, Any] = {}
    actions: dict[str, Action] = {}
    for rule in rules:
        action_name = f"{name}:{rule.name}"
        definition[rule.name] = {**_marked(rule.condition), "pri": rule.pri, "run": action_name}
        actions[action_name] = _action_for(rule)
    definition[CATCH_ALL] = {"all": [{"m": {FACT_MARKER: 1}}], "pri": CATCH_ALL_PRI, "run": f"{name}:{CATCH_ALL}"}
    actions[f"{name}:{CATCH_ALL}"] = _evaluated
    return Program(name=name, definition=json.dumps(definition), actions=actions)


class _DecisionHost(Host):  # durable-rules ships no type hints (mypy sees Any)
    """A durable-rules host for synchronous decisions only."""

    def __init__(self) -> None:
        self._amflow_actions: dict[str, Action] = {}
        super().__init__()

    def get_action(self, action_name: str) -> Action:
        """Bind a rule's ``run`` name to its recording action."""
        try:
            return self._amflow_actions[action_name]
        except KeyError:
            raise RulesError(f"no action called {action_name!r}") from None

    def _run(self) -> None:
        """Start no background dispatch or timer threads: decisions run in the caller's thread."""

    def ensure(self, program: Program) -> None:
        """Register ``program`` the first time it is used in this process."""
        if program.name in self._ruleset_directory:
            return
        self._amflow_actions.update(program.actions)
        self.register_rulesets({program.name: json.loads(program.definition)})


@dataclass
class _ProcessHost:
    pid: int = -1
    host: _DecisionHost | None = None


_LOCK = threading.Lock()
_CURRENT = _ProcessHost()


def _reset_after_fork() -> None:
    """A forked child must not inherit a lock held by a parent thread, nor the parent's host."""
    global _LOCK  # noqa: PLW0603  # the lock itself must be replaced in the child
    _LOCK = threading.Lock()
    _CURRENT.pid, _CURRENT.host = -1, None


os.register_at_fork(after_in_child=_reset_after_fork)


def _host() -> _DecisionHost:
    """This process's host, created on first use after start or fork. Call with ``_LOCK`` held."""
    pid = os.getpid()
    if _CURRENT.host is None or _CURRENT.pid != pid:
        _CURRENT.host, _CURRENT.pid = _DecisionHost(), pid
    return _CURRENT.host


def _delete_state(host: _DecisionHost, program: Program, sid: str) -> None:
    try:
        host.delete_state(program.name, sid)
    except durable_rules_engine.error as error:
        if _STATE_NOT_FOUND not in str(error):
            raise RulesError(f"could not delete decision state of {program.name}: {error}") from error


def new_sid() -> str:
    """A fresh durable-rules session id: one per decision, so no decision sees another's state."""
    return uuid.uuid4().hex


def run(program: Program, fact: Mapping[str, Any]) -> Outcome:
    """Assert ``fact`` under a fresh sid and return what the fired rules recorded.

    The durable state is deleted before returning, whatever happened.
    """
    sid = new_sid()
    message = {**fact, FACT_MARKER: 1, "sid": sid}
    with _LOCK:
        host = _host()
        host.ensure(program)
        try:
            state = host.assert_fact(program.name, message)
        except MessageNotHandledException as error:  # cannot happen with the catch-all rule
            raise RulesError(f"no rule of {program.name} handled the facts") from error
        finally:
            _delete_state(host, program, sid)
    return Outcome.from_state(state or {})


def state_exists(program: Program, sid: str) -> bool:
    """Whether durable-rules still holds a state for ``sid`` (used by tests to prove nothing leaks)."""
    with _LOCK:
        host = _host()
        host.ensure(program)
        try:
            host.get_state(program.name, sid)
        except durable_rules_engine.error:
            return False
        return True
