"""requirements.lock holds what pyproject.toml asks for: a changed dependency without `make lock` fails here.

pyproject.toml keeps ranges (for people who install amflow as a library); the Makefile installs only the
exact versions and hashes of requirements.lock, so a fresh clone installs what was tested.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKED_EXTRAS = ("test", "postgresql")  # the extras `make test` installs (Makefile: make lock)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
FROM_PYPROJECT = "amflow (pyproject.toml"


def declared() -> list[Requirement]:
    """The requirements of pyproject.toml that the lock must satisfy: runtime, locked extras, build system."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    texts = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    for extra in LOCKED_EXTRAS:
        texts.extend(project["project"]["optional-dependencies"][extra])
    return [Requirement(text) for text in texts]


def parse_lock(text: str) -> tuple[dict[str, Version], set[str]]:
    """(every pinned version by name, the names pinned because pyproject.toml asks for them)."""
    pins: dict[str, Version] = {}
    direct: set[str] = set()
    current: str | None = None
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = Version(match.group(2))
        elif current and line.strip().startswith("#") and FROM_PYPROJECT in line:
            direct.add(current)
    return pins, direct


def stale_entries(requirements: list[Requirement], lock_text: str) -> list[str]:
    """What is wrong with the lock for these requirements, in words (empty when it is fresh)."""
    pins, direct = parse_lock(lock_text)
    problems = []
    wanted = {canonicalize_name(requirement.name) for requirement in requirements}
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{requirement} but the lock pins {pins[name]}")
    problems.extend(f"{name} is locked for pyproject.toml, which no longer asks for it"
                    for name in sorted(direct - wanted))
    return problems


def test_the_lock_pins_every_dependency_of_pyproject_within_its_range():
    problems = stale_entries(declared(), (ROOT / "requirements.lock").read_text(encoding="utf-8"))

    assert problems == [], "requirements.lock is stale: run `make lock`\n" + "\n".join(problems)


def test_every_locked_package_is_pinned_with_hashes():
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    pinned = [block for block in blocks if PIN.match(block)]

    assert len(pinned) > 20
    assert [block.split()[0] for block in pinned if "--hash=sha256:" not in block] == []


def test_a_dependency_added_to_pyproject_without_refreshing_the_lock_is_reported():
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")

    problems = stale_entries([*declared(), Requirement("flask-limiter>=3")], lock)

    assert problems == ["flask-limiter>=3 is not in the lock"]


def test_a_range_the_locked_version_falls_outside_of_is_reported():
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    requirements = [Requirement("flask>=99") if req.name == "flask" else req for req in declared()]

    problems = stale_entries(requirements, lock)

    assert len(problems) == 1
    assert problems[0].startswith("flask>=99 but the lock pins ")


def test_a_dependency_removed_from_pyproject_but_left_in_the_lock_is_reported():
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    requirements = [req for req in declared() if canonicalize_name(req.name) != "simpleeval"]

    assert stale_entries(requirements, lock) == ["simpleeval is locked for pyproject.toml, which no longer asks for it"]
