"""The demo organisation: one user per role in the DTU units, and every bundled process deployed.

Idempotent: running it again resets the demo users' groups, units and passwords and deploys only
changed diagrams. The passwords are printed by ``amflow demo``; they are for a local demo only.
"""

from __future__ import annotations

from processes.deployments import deploy_bundled
from processes.people.identity import create_user
from processes.store.db import Database

DEMO_PASSWORD = "demo-amflow"  # noqa: S105 - a published demo password, printed by `amflow demo`

# (username, name, groups, units)
DEMO_USERS: list[tuple[str, str, list[str], list[str]]] = [
    ("anna", "Anna Ansat (medarbejder, DTU Kemi)", ["employees"], ["kemi"]),
    ("emil", "Emil Ansat (medarbejder, DTU Energi)", ["employees"], ["energi"]),
    ("karl", "Karl Koordinator (AMK, DTU Kemi)", ["amk", "employees"], ["kemi"]),
    ("eva", "Eva Koordinator (AMK, DTU Energi)", ["amk", "employees"], ["energi"]),
    ("lene", "Lene Leder (nærmeste leder, DTU Kemi)", ["leaders", "employees"], ["kemi"]),
    ("erik", "Erik Leder (nærmeste leder, DTU Energi)", ["leaders", "employees"], ["energi"]),
    ("rasmus", "Rasmus Repræsentant (AMR, DTU Kemi)", ["amr", "employees"], ["kemi"]),
    ("hanne", "Hanne HR", ["hr"], ["kemi", "energi", "food", "aqua", "wind"]),
    ("carl", "Carl Campus Service (CAS)", ["cas"], ["cas"]),
    ("ditte", "Ditte DTU Arbejdsmiljø", ["arbejdsmiljo"], []),
    ("pia", "Pia Prækursorkoordinator", ["precursor-coordinator"], []),
    ("owen", "Owen Procesejer", ["process-owners"], []),
    ("admin", "Administrator", ["admins"], []),
    # --- drug-precursor reporting (issue #16, docs/process-precursors.md) ---------------------------------
    # pia (above) is a precursor coordinator too; lise is the central coordinator named in the AMK minutes'
    # item 7a (CAS AB), and kim the DTU Kemi contact person who files the unit's annual reports.
    ("lise", "Lise Prækursorkoordinator (CAS AB)", ["precursor-coordinator", "employees"], ["cas-ab"]),
    ("kim", "Kim Kontaktperson (prækursorer, DTU Kemi)", ["employees"], ["kemi"]),
    # --- end of drug-precursor reporting ------------------------------------------------------------------
    # --- psychological work accidents (issue #14): the leader above a department's leader (C-R9: takes the
    # leader's tasks when the nearest leader is the one reported) and a colleague who witnesses an event
    ("dorthe", "Dorthe Direktør (leder over institutterne, DTU)", ["leaders", "employees"], ["dtu"]),
    ("mette", "Mette Medarbejder (kollega og vidne, DTU Kemi)", ["employees"], ["kemi"]),
    # --- end of the psychological work-accident block
    # --- contractor onboarding (issue #15): a DTU kontaktperson and a room owner in DTU Kemi; the supplier's
    # site lead has no account (they use the portal link mailed to them)
    ("kasper", "Kasper Kontaktperson (DTU Kemi)", ["employees"], ["kemi"]),
    ("rita", "Rita Rumansvarlig (laboratorie, DTU Kemi)", ["employees"], ["kemi"]),
]


def load_demo(db: Database) -> list[tuple[str, str, list[str], list[str]]]:
    """Create the demo users and deploy every diagram in ``bpmn/``; returns (user, password, groups, units)."""
    for username, name, groups, units in DEMO_USERS:
        create_user(db, username, password=DEMO_PASSWORD, name=name, email=f"{username}@example.dtu.dk",
                    groups=groups, units=units)
    deploy_bundled(db)
    return [(username, DEMO_PASSWORD, groups, units) for username, _, groups, units in DEMO_USERS]
