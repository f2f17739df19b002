"""BPMN 2.0 diagrams (*procesdiagrammer*), one ``.bpmn`` file per process, shipped as package data.

Read through ``importlib.resources`` so that deploying the shipped processes (``amflow demo``) works from a
non-editable install too. The diagrams themselves are plain XML, editable in any BPMN modeler.
"""

from __future__ import annotations

import re
from importlib import resources

SUFFIX = ".bpmn"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def diagram_names() -> list[str]:
    """Return the names (file names without ``.bpmn``) of the shipped diagrams, sorted."""
    names = (
        entry.name.removesuffix(SUFFIX) for entry in resources.files(__name__).iterdir() if entry.name.endswith(SUFFIX)
    )
    return sorted(name for name in names if _NAME.fullmatch(name))


def diagram_xml(name: str) -> bytes:
    """Return the XML of the shipped diagram ``name``; raise ``LookupError`` if there is none."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise LookupError(f"no BPMN diagram named {name!r}")
    file = resources.files(__name__).joinpath(name + SUFFIX)
    if not file.is_file():
        raise LookupError(f"no BPMN diagram named {name!r}")
    return file.read_bytes()
