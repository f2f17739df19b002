"""``python -m rules check [DIRECTORY]``: check rule and parameter files before they are deployed.

A process owner runs this after editing ``rules/data`` (CI runs it too): it applies the same JSON Schema
and cross-reference checks as loading does, and names the place of every problem.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rules.catalog import Catalog
from rules.errors import RulesError

USAGE = "usage: python -m rules check [DIRECTORY]\n"


def main(argv: list[str] | None = None) -> int:
    """Run the command; the exit status is 0 when every file is valid, 1 when not, 2 on bad usage."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "check" or len(args) > 2:
        sys.stderr.write(USAGE)
        return 2
    try:
        catalog = Catalog.load(Path(args[1]) if len(args) == 2 else None)
    except RulesError as error:
        sys.stderr.write(f"invalid: {error.message}\n")
        for where, problem in error.fields.items():
            sys.stderr.write(f"  {where}: {problem}\n")
        return 1
    for name, ruleset in sorted(catalog.rulesets.items()):
        sys.stdout.write(f"ok {name}: {len(ruleset.rules)} rules, {len(ruleset.facts)} facts\n")
    for name, register in sorted(catalog.registers.items()):
        sys.stdout.write(f"ok register {name}: {len(register.entries)} entries\n")
    sys.stdout.write(f"ok parameters: {len(catalog.parameters.history)} keys\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
