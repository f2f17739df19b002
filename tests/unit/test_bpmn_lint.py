"""Every shipped diagram passes bpmnlint's recommended rules (the advice the modeler shows process owners)
with no error and no warning. bpmnlint runs under node from web/ (``npm ci`` there), as in the modeler."""

from __future__ import annotations

import shutil

import pytest

from bpmn import diagram_names, diagram_xml
from processes import modeler

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (modeler.WEB_TOOLS / "node_modules" / "bpmnlint").is_dir(),
    reason="bpmnlint runs only where node and web/node_modules are installed (npm ci in web/)",
)


@pytest.mark.parametrize("name", diagram_names())
def test_a_shipped_diagram_gets_no_bpmnlint_advice(name: str) -> None:
    found = modeler.lint(diagram_xml(name))
    assert found is not None, "bpmnlint did not run"
    assert [(item.rule, item.element, item.message) for item in found] == [], name
