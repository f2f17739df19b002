"""Process bundles: a process version deployed together with the forms, rule sets and mail templates it uses.

A bundle is the set of content-addressed ``Entry`` documents (kind, name, SHA-256, text) a process version
references, shared by every version that uses the same content; the version's ``bundle_digest`` covers the
BPMN and every entry, so a form or rule set changed on disk makes a new version on the next deploy even
when the BPMN is unchanged. A case keeps its version, so it keeps its bundle to the end: its forms
validate, its rule sets decide and its mails are written with the documents of its own version
(``Bundle``, cached per version by ``for_version``), and a stored decision is decided again with the rule
set and parameters it names (``replay``). Reading and checking the documents at deploy is
``processes/bundlesources.py``.

What a bundle holds:

* ``form``: each form of the start event and the user tasks (``{"schema", "ui"}``);
* ``ruleset``: each rule set of a business-rule task, the ``register`` entries its lookups read, and
  ``parameters`` (always: the sandbox's ``param()`` reads them too);
* ``mail``: each template a ``notify`` service task names as a literal (``'lone_work_approved'``), and
  ``task_assigned`` (written for every new task), in every language shipped (``NAME.da``, ``NAME.en``);
* ``lanes``: the lane -> group mapping given at deploy, if any (a model whose lanes are named otherwise).

A template named by a computed expression is not known at deploy time: it is read from the shipped files
when it is sent. A version deployed before bundles has no entries and reads the shipped files throughout.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

import forms
import rules
from processes.errors import NotFound
from processes.store.models import BundleEntry, DecisionRecord, process_version_entries

PARAMETERS = "parameters"
LANES = "lanes"


@dataclass(frozen=True)
class Entry:
    """One document of a bundle, addressed by the SHA-256 of its text."""

    kind: str
    name: str
    sha256: str
    content: str

    @classmethod
    def of(cls, kind: str, name: str, content: str) -> Entry:
        return cls(kind, name, hashlib.sha256(content.encode("utf-8")).hexdigest(), content)


def bundle_digest(bpmn_checksum: str, entries: tuple[Entry, ...]) -> str:
    """The digest of a version: its BPMN and every entry it references."""
    text = json.dumps([bpmn_checksum, sorted([e.kind, e.name, e.sha256] for e in entries)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Bundle:
    """The documents of one process version, and what the engine does with them.

    Each lookup falls back to the shipped files for a document the bundle does not hold (a version
    deployed before bundles holds none). Implements ``engine.rulebook.Rulebook``.
    """

    entries: tuple[Entry, ...] = ()
    digest: str | None = None

    def _entry(self, kind: str, name: str) -> Entry | None:
        return self._by_key.get((kind, name))

    @cached_property
    def _by_key(self) -> dict[tuple[str, str], Entry]:
        return {(entry.kind, entry.name): entry for entry in self.entries}

    @property
    def registers(self) -> list[Any]:
        """The register documents of the bundle."""
        return [document for (kind, _name), document in self._documents.items() if kind == "register"]

    @cached_property
    def _documents(self) -> dict[tuple[str, str], Any]:
        return {key: json.loads(entry.content) for key, entry in self._by_key.items() if entry.kind != "mail"}

    @cached_property
    def lanes(self) -> dict[str, str]:
        """The lane -> group mapping the version was deployed with ({} if none)."""
        document = self._documents.get((LANES, LANES))
        return dict(document) if isinstance(document, dict) else {}

    # --- forms ------------------------------------------------------------------------------------------

    def has_form(self, name: str) -> bool:
        """Whether this version (or the shipped forms) has form ``name``."""
        return ("form", name) in self._by_key or forms.form_exists(name)

    @cached_property
    def _forms(self) -> dict[str, forms.Form]:
        return {name: forms.form_from_documents(name, document["schema"], document["ui"])
                for (kind, name), document in self._documents.items() if kind == "form"}

    def form(self, name: str) -> forms.Form | None:
        """The form of this version (or the shipped one); None if neither exists."""
        found = self._forms.get(name)
        if found is not None:
            return found
        return forms.get_form(name) if forms.form_exists(name) else None

    def validate(self, name: str, data: Any) -> dict[str, str]:
        """Field path -> message for every error of ``data`` against this version's form ``name``."""
        document = self._documents.get(("form", name))
        if document is not None:
            return forms.validate_with(document["schema"], data)
        return forms.validate(name, data)

    # --- mail --------------------------------------------------------------------------------------------

    @cached_property
    def mail(self) -> dict[str, str]:
        """The mail templates: "NAME.LANG" -> file text."""
        return {entry.name: entry.content for entry in self.entries if entry.kind == "mail"}

    # --- rules (engine.rulebook.Rulebook) ---------------------------------------------------------------

    def _holds_rules(self, ruleset: str) -> bool:
        return ("ruleset", ruleset) in self._by_key and ("parameters", PARAMETERS) in self._by_key

    @cached_property
    def _catalogs(self) -> dict[str, rules.Catalog]:
        return {}

    def _catalog(self, ruleset: str) -> rules.Catalog:
        """The checked rule set with the bundle's parameters; kept here, so a decision hashes no documents."""
        found = self._catalogs.get(ruleset)
        if found is not None:
            return found
        document = self._documents[("ruleset", ruleset)]
        registers = [self._documents[("register", name)] for name in register_names(document)
                     if ("register", name) in self._documents]
        catalog = rules.catalog_of((document,), self._documents[("parameters", PARAMETERS)], registers)
        return self._catalogs.setdefault(ruleset, catalog)

    def fact_names(self, ruleset: str) -> tuple[str, ...]:
        if self._holds_rules(ruleset):
            return self._catalog(ruleset).get(ruleset).fact_names
        return rules.fact_names(ruleset)

    def law_date_fact(self, ruleset: str) -> str | None:
        if self._holds_rules(ruleset):
            return self._catalog(ruleset).get(ruleset).law_date_fact
        return rules.default_catalog().get(ruleset).law_date_fact

    def decide(self, ruleset: str, facts: Mapping[str, Any], on: Any, *, today: Any) -> rules.Decision:
        if self._holds_rules(ruleset):
            return self._catalog(ruleset).decide(ruleset, facts, on, today=today)
        return rules.default_catalog().decide(ruleset, facts, on, today=today)

    def parameter(self, key: str, on: Any) -> Any:
        document = self._documents.get(("parameters", PARAMETERS))
        if document is not None:
            return rules.parameter_with(document, key, on)
        return rules.parameter(key, on)

    def versions(self, ruleset: str) -> tuple[str | None, str | None]:
        if not self._holds_rules(ruleset):
            return None, None
        return self._by_key[("ruleset", ruleset)].sha256, self._by_key[("parameters", PARAMETERS)].sha256


def register_names(ruleset_document: Mapping[str, Any]) -> list[str]:
    """The registers a rule set's lookups read, each once, sorted."""
    return sorted({spec["register"] for spec in (ruleset_document.get("lookups") or {}).values()})


# --- storing and loading --------------------------------------------------------------------------------

def store(session: Session, version_id: int, entries: tuple[Entry, ...]) -> None:
    """Reference ``entries`` from the process version, writing each content not stored yet."""
    ids = []
    for entry in entries:
        row_id = session.scalar(select(BundleEntry.id).where(
            BundleEntry.kind == entry.kind, BundleEntry.name == entry.name, BundleEntry.sha256 == entry.sha256))
        if row_id is None:
            row = BundleEntry(kind=entry.kind, name=entry.name, sha256=entry.sha256, content=entry.content)
            session.add(row)
            session.flush()
            row_id = row.id
        ids.append(row_id)
    if ids:
        session.execute(insert(process_version_entries),
                        [{"process_version_id": version_id, "entry_id": row_id} for row_id in ids])


class BundleCache:
    """Bundles by (database, process version id): a version's bundle never changes once deployed."""

    def __init__(self) -> None:
        self._bundles: dict[tuple[str, int], Bundle] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, version_id: int, digest: str | None = None) -> Bundle:
        key = (str(session.get_bind().engine.url), version_id)
        found = self._bundles.get(key)
        if found is not None:
            return found
        rows = session.execute(
            select(BundleEntry.kind, BundleEntry.name, BundleEntry.sha256, BundleEntry.content)
            .join(process_version_entries, process_version_entries.c.entry_id == BundleEntry.id)
            .where(process_version_entries.c.process_version_id == version_id)
            .order_by(BundleEntry.kind, BundleEntry.name)
        )
        bundle = Bundle(tuple(Entry(*row) for row in rows), digest)
        with self._lock:
            return self._bundles.setdefault(key, bundle)

    def clear(self) -> None:
        with self._lock:
            self._bundles.clear()


BUNDLES = BundleCache()


def for_version(session: Session, version_id: int) -> Bundle:
    """The bundle of a process version (empty for a version deployed before bundles: the shipped files)."""
    return BUNDLES.get(session, version_id)


def replay(session: Session, version_id: int, row: DecisionRecord) -> rules.Decision:
    """Decide a stored decision again: its facts, on its date, with the rule set and parameters it names.

    Raises ``NotFound`` for a decision taken before process bundles (it names no versions).
    """
    if row.ruleset_version is None or row.parameters_version is None or row.facts is None:
        raise NotFound("this decision was taken before process bundles: it names no rule-set version")
    documents = {
        kind: json.loads(content) for kind, content in session.execute(
            select(BundleEntry.kind, BundleEntry.content).where(
                ((BundleEntry.kind == "ruleset") & (BundleEntry.name == row.ruleset)
                 & (BundleEntry.sha256 == row.ruleset_version))
                | ((BundleEntry.kind == "parameters") & (BundleEntry.sha256 == row.parameters_version))))
    }
    if set(documents) != {"ruleset", "parameters"}:
        raise NotFound("the rule set or parameters this decision names are not stored")
    registers = for_version(session, version_id).registers
    return rules.decide_with(documents["ruleset"], documents["parameters"], row.facts, row.on, registers=registers)
