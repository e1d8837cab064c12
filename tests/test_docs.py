"""The documents stay true: docs/pathway.md to the diagrams, docs/security.md to the tests."""

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


def test_every_test_the_security_doc_names_exists() -> None:
    """docs/security.md names the test behind each control; a renamed or deleted test must
    not leave the document claiming a proof that is gone. `::name` means the file named last."""
    root = ROOT
    text = (root / "docs" / "security.md").read_text()
    missing, current = [], ""
    for path, name in re.findall(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", text):
        current = path or current
        source = (root / current).read_text() if current else ""
        if path and not (root / path).exists():
            missing.append(path)
        elif name and f"def {name}(" not in source:
            missing.append(f"{current}::{name}")
    assert missing == []
