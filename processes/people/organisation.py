"""The organisation the engine knows from the start: the stable group codes and the DTU units.

Group codes are a stable contract (BPMN lanes name them). Central groups see the tasks of every unit.
Units are the DTU units named in the seed documents (AMK-netværk minutes, 12 May 2026).
"""

from __future__ import annotations

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

CENTRAL_GROUPS = frozenset(code for code, (_, central) in GROUPS.items() if central)
GROUP_CODES = frozenset(GROUPS)

UNITS: dict[str, str] = {
    "kemi": "DTU Kemi",
    "kemiteknik": "DTU Kemiteknik",
    "energi": "DTU Energi",
    "food": "DTU Fødevareinstituttet (DTU Food)",
    "aqua": "DTU Aqua",
    "wind": "DTU Vindenergi (DTU Wind)",
    "sundhedsteknologi": "DTU Sundhedsteknologi (DTU Health Tech)",
    "cas": "Campus Service (CAS)",
}
