"""Deciding with rule-set and parameter *documents* instead of the shipped files.

A process bundle (``processes/bundles.py``) keeps the exact rule sets, parameters and registers a process
version was deployed with, so a running case decides with the rules of its own version even after the
files on disk changed. This module turns such documents into a checked catalog, once per content:

* the catalog is cached by a digest of the documents (an LRU of ``CACHE_SIZE``), so a decision costs what
  a decision with the shipped files costs, not a schema check and a compile;
* the durable-rules program of a rule set is named by a digest of its rules (``engine.compile_program``),
  so two bundles with the same rules share one registered program and only a *changed* rule set
  registers a new one. durable-rules cannot unregister a program: the programs a process holds are the
  distinct rule-set versions it has decided with since it started (TECH.md: keep them bounded; a bundle
  per deploy with changed rules is a handful a year, far below what durable-rules handles).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from rules.catalog import Catalog, _decision_date
from rules.decision import Decision
from rules.parameters import thaw

CACHE_SIZE = 32


def digest(document: Any) -> str:
    """The SHA-256 of a JSON document in canonical form (sorted keys, no spaces): its content address."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _CatalogCache:
    """Checked catalogs by the digest of their documents, the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._catalogs: OrderedDict[str, Catalog] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        rulesets: tuple[Mapping[str, Any], ...],
        parameters: Mapping[str, Any],
        registers: tuple[Mapping[str, Any], ...],
    ) -> Catalog:
        key = digest([sorted(digest(item) for item in rulesets), digest(parameters),
                      sorted(digest(item) for item in registers)])
        with self._lock:
            found = self._catalogs.get(key)
            if found is not None:
                self._catalogs.move_to_end(key)
                return found
        catalog = Catalog.from_documents(rulesets, parameters, registers)  # outside the lock: it may raise
        with self._lock:
            self._catalogs[key] = catalog
            self._catalogs.move_to_end(key)
            while len(self._catalogs) > self.size:
                self._catalogs.popitem(last=False)
        return catalog

    def clear(self) -> None:
        with self._lock:
            self._catalogs.clear()

    def __len__(self) -> int:
        return len(self._catalogs)


CATALOGS = _CatalogCache(CACHE_SIZE)


def catalog_of(
    rulesets: Iterable[Mapping[str, Any]],
    parameters: Mapping[str, Any],
    registers: Iterable[Mapping[str, Any]] = (),
) -> Catalog:
    """The checked catalog of these documents (cached by content); ``InvalidRuleSet`` if one is invalid."""
    return CATALOGS.get(tuple(rulesets), parameters, tuple(registers))


def decide_with(
    ruleset: Mapping[str, Any],
    parameters: Mapping[str, Any],
    facts: Mapping[str, Any],
    on: datetime.date | None = None,
    *,
    registers: Iterable[Mapping[str, Any]] = (),
    today: datetime.date | None = None,
) -> Decision:
    """``decide`` with a rule-set document and a parameters document (e.g. from a process bundle).

    ``on`` as for ``decide``; without it the rule set's ``law_date_fact``, else ``today`` (default: today
    in Denmark). Raises what ``decide`` raises, and ``InvalidRuleSet`` for an invalid document.
    """
    catalog = catalog_of((ruleset,), parameters, registers)
    return catalog.decide(str(ruleset["name"]), facts, on, today=today)


def parameter_with(parameters: Mapping[str, Any], key: str, on: datetime.date | None = None) -> Any:
    """The value of parameter ``key`` on ``on`` (default: today) in a parameters document."""
    table = catalog_of((), parameters).parameters
    return thaw(table.value(key, _decision_date(on)))
