"""docs/pathway.md stays true to the diagrams."""

from __future__ import annotations

import re

from .conftest import ROOT
from .engine.conftest import compile_dir


def test_standards_table_matches_the_diagrams() -> None:
    pathway = compile_dir(ROOT / "bpmn")
    text = (ROOT / "docs" / "pathway.md").read_text()
    for code in {c for info in pathway.user_tasks.values() for c in info.standards}:
        [row] = [line for line in text.splitlines() if line.startswith(f"| {code} |")]
        documented = set(re.findall(r"`([a-z_]+)`", row))
        carried = {i.bpmn_id for i in pathway.user_tasks.values() if code in i.standards}
        assert documented == carried, code


def test_every_diagram_has_its_picture() -> None:
    for bpmn in (ROOT / "bpmn").glob("*.bpmn"):
        assert (ROOT / "docs" / "diagrams" / f"{bpmn.stem}.svg").exists(), bpmn.name
