"""The organisation the engine knows from the start: the stable group codes and the DTU units.

Group codes are a stable contract (BPMN lanes name them). Central groups see the tasks of every unit.
Units are DTU's departments, centres and central offices with the unit above each (issue #11); the
seed documents (AMK-netværk minutes, 12 May 2026) name several of them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from processes.errors import Forbidden, InvalidData
from processes.store.db import Database
from processes.store.models import Group, Unit, User
from processes.views import UserView

GROUPS: dict[str, tuple[str, bool]] = {
    # code: (name, central)
    "employees": ("Medarbejdere / Employees", False),
    "leaders": ("Nærmeste ledere / Line managers", False),
    "amk": ("Arbejdsmiljøkoordinatorer (AMK) / Work-environment coordinators", False),
    "amr": ("Arbejdsmiljørepræsentanter (AMR) / Safety representatives", False),
    "hr": ("HR", False),
    "cas": ("Campus Service (CAS)", True),
    "arbejdsmiljo": ("DTU Arbejdsmiljø (CAS AB og Koncern HR)", True),
    "precursor-coordinator": ("Prækursorkoordinator / Precursor coordinator", True),
    "process-owners": ("Procesejere / Process owners", False),
    "admins": ("Administratorer / Administrators", True),
}

# The seeded groups' names for people in each language (issue #17: a lane is shown by its group's name).
GROUP_WORDS: dict[str, dict[str, str]] = {
    "employees": {"da": "Medarbejdere", "en": "Employees"},
    "leaders": {"da": "Nærmeste ledere", "en": "Line managers"},
    "amk": {"da": "Arbejdsmiljøkoordinatorer (AMK)", "en": "Work-environment coordinators (AMK)"},
    "amr": {"da": "Arbejdsmiljørepræsentanter (AMR)", "en": "Safety representatives (AMR)"},
    "hr": {"da": "HR", "en": "HR"},
    "cas": {"da": "Campus Service (CAS)", "en": "Campus Service (CAS)"},
    "arbejdsmiljo": {"da": "DTU Arbejdsmiljø", "en": "DTU Work Environment"},
    "precursor-coordinator": {"da": "Prækursorkoordinator", "en": "Precursor coordinator"},
    "process-owners": {"da": "Procesejere", "en": "Process owners"},
    "admins": {"da": "Administratorer", "en": "Administrators"},
}


def group_words(language: str) -> dict[str, str]:
    """Group code -> the group's name for people in ``language`` (the seeded groups)."""
    return {code: words.get(language) or words["da"] for code, words in GROUP_WORDS.items()}


CENTRAL_GROUPS = frozenset(code for code, (_, central) in GROUPS.items() if central)
GROUP_CODES = frozenset(GROUPS)  # the groups seeded by migration 0002; admins may add more (add_group)
GROUP_CODE = re.compile(r"[a-z][a-z0-9_-]{0,63}")

# The units of DTU with the unit above each (department -> DTU). Departments and centres as of 2026, plus
# Campus Service and the central offices; a unit's leaders are the members of the group "leaders" in it.
UNIT_TREE: dict[str, tuple[str, str | None]] = {
    # code: (name, parent)
    "dtu": ("Danmarks Tekniske Universitet (DTU)", None),
    # departments and centres
    "aqua": ("DTU Aqua", "dtu"),
    "bioengineering": ("DTU Bioengineering", "dtu"),
    "biosustain": ("DTU Biosustain", "dtu"),
    "compute": ("DTU Compute", "dtu"),
    "construct": ("DTU Construct", "dtu"),
    "electro": ("DTU Electro", "dtu"),
    "energi": ("DTU Energi", "dtu"),
    "engineering-technology": ("DTU Engineering Technology", "dtu"),
    "entrepreneurship": ("DTU Entrepreneurship", "dtu"),
    "food": ("DTU Fødevareinstituttet (DTU Food)", "dtu"),
    "fysik": ("DTU Fysik (DTU Physics)", "dtu"),
    "kemi": ("DTU Kemi", "dtu"),
    "kemiteknik": ("DTU Kemiteknik", "dtu"),
    "learn-for-life": ("DTU Learn for Life", "dtu"),
    "management": ("DTU Management", "dtu"),
    "nanolab": ("DTU Nanolab", "dtu"),
    "offshore": ("DTU Offshore", "dtu"),
    "space": ("DTU Space", "dtu"),
    "sundhedsteknologi": ("DTU Sundhedsteknologi (DTU Health Tech)", "dtu"),
    "sustain": ("DTU Sustain", "dtu"),
    "wind": ("DTU Vindenergi (DTU Wind)", "dtu"),
    "skylab": ("DTU Skylab", "dtu"),
    "bibliotek": ("DTU Bibliotek (DTU Library)", "dtu"),
    "science-park": ("DTU Science Park", "dtu"),
    # central offices
    "cas": ("Campus Service (CAS)", "dtu"),
    "cas-ab": ("CAS Arbejdsmiljø & Beredskab", "cas"),
    "koncern-hr": ("Koncern HR", "dtu"),
    "aus": ("Afdelingen for Uddannelse og Studerende (AUS)", "dtu"),
    "okonomi": ("Økonomi (Finance)", "dtu"),
    "kommunikation": ("Kommunikation og Marketing", "dtu"),
    "it": ("DTU IT", "dtu"),
    "direktion": ("Direktionen (Executive Board)", "dtu"),
}

UNITS: dict[str, str] = {code: name for code, (name, _parent) in UNIT_TREE.items()}
PARENTS: dict[str, str | None] = {code: parent for code, (_name, parent) in UNIT_TREE.items()}
LEADERS_GROUP = "leaders"


def unit_chain(session: Session, unit: str) -> list[str]:
    """The unit and the units above it, nearest first (from the units table, so added units count)."""
    chain: list[str] = []
    current: str | None = unit
    while current is not None and current not in chain:
        chain.append(current)
        current = session.scalar(select(Unit.parent).where(Unit.code == current))
    return chain


def unit_leaders(session: Session, unit: str) -> list[str]:
    """The active users in the group "leaders" who belong to the unit, by username."""
    query = (select(User.username).join(User.groups).join(User.units)
             .where(Group.code == LEADERS_GROUP, Unit.code == unit, User.active.is_(True))
             .order_by(User.username))
    return list(dict.fromkeys(session.scalars(query)))


def next_level_leader(session: Session, unit: str, *, passing: str | None = None) -> list[str]:
    """The leaders who take over from the unit's own: those of the nearest unit above that has any.

    ``passing`` (the username of the leader who is the one reported, say) is never among them.
    """
    for above in unit_chain(session, unit)[1:]:
        leaders = [name for name in unit_leaders(session, above) if name != passing]
        if leaders:
            return leaders
    return []


def group_codes(session: Session) -> frozenset[str]:
    """Every group code in the database: the seeded ones and those an administrator added."""
    return frozenset(session.scalars(select(Group.code)))


def add_group(db: Database, code: str, *, name: str, actor: UserView | None) -> tuple[str, str]:
    """Create a group (a BPMN lane may then name it); ``actor`` None is the console. Returns (code, name).

    A new group is local: its members see its tasks in their own units. An existing code keeps its row
    and gets the new name (idempotent).
    """
    if actor is not None and "admins" not in actor.groups:
        raise Forbidden("only administrators may create groups")
    if not GROUP_CODE.fullmatch(code or ""):
        raise InvalidData("invalid group code", fields={"code": "a lower-case letter, then letters, digits, '_' "
                                                                "or '-' (at most 64)"})
    name = (name or "").strip() or code
    if len(name) > 200:
        raise InvalidData("group name too long", fields={"name": "at most 200 characters"})
    with db.write() as session:
        group = session.get(Group, code)
        if group is None:
            session.add(Group(code=code, name=name, central=False))
        else:
            group.name = name
        return code, name


class UnitNames:
    """Unit code -> the unit's name for people ("kemi" -> "DTU Kemi"), per database, cached.

    Pages show a unit by its name; reading the units table once per page for that would cost a query per
    page, so the map is kept for ``ttl`` seconds and read again at once when asked for a code it does not
    know (a unit added since). ``forget`` drops it (after the units change).
    """

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._maps: dict[str, tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def get(self, db: Database, codes: Iterable[str] = ()) -> dict[str, str]:
        """The map for ``db``; read again when stale or when one of ``codes`` is missing from it."""
        with self._lock:
            loaded_at, names = self._maps.get(db.url, (0.0, {}))
        if names and time.monotonic() - loaded_at < self.ttl and all(code in names for code in codes):
            return names
        with db.read() as session:
            names = {str(row.code): str(row.name) for row in session.execute(select(Unit.code, Unit.name))}
        with self._lock:
            self._maps[db.url] = (time.monotonic(), names)
        return names

    def forget(self, db: Database | None = None) -> None:
        with self._lock:
            if db is None:
                self._maps.clear()
            else:
                self._maps.pop(db.url, None)


UNIT_NAMES = UnitNames()


def unit_names(db: Database, codes: Iterable[str] = ()) -> dict[str, str]:
    """Unit code -> name (cached, see UnitNames); a code of ``codes`` the map lacks makes it read again."""
    return UNIT_NAMES.get(db, codes)
