"""The documents stay true: docs/pathway.md to the diagrams, docs/security.md to the tests."""

from __future__ import annotations

import json
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


def _tables() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "pathway_tables", ROOT / "scripts" / "pathway_tables.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_generated_tables_are_the_documents() -> None:
    """docs/pathway.md holds exactly what the diagrams say (make diagrams rewrites it)."""
    tables = _tables()
    text = (ROOT / "docs" / "pathway.md").read_text()
    assert tables.standards_table() in text  # type: ignore[attr-defined]
    assert tables.waits_table() in text  # type: ignore[attr-defined]


def test_the_measures_in_the_doc_are_the_definitions() -> None:
    """docs/standards-report.md states each measure's start, deadline, evidence and who is
    counted exactly as bpmn/measures.json defines them (make diagrams rewrites it)."""
    tables = _tables()
    text = (ROOT / "docs" / "standards-report.md").read_text()
    table = tables.measures_table()  # type: ignore[attr-defined]
    assert table in text
    measures = json.loads((ROOT / "bpmn" / "measures.json").read_text())["measures"]
    for measure in measures:  # every measure, with its own deadline and target
        row = next(r for r in table.splitlines() if f"`{measure['key']}`" in r)
        assert f"| {measure['target']}% |" in row
        deadline = measure["deadline"]
        if deadline is None:
            assert "| No deadline |" in row
        elif "days" in deadline:
            assert f"| Within {deadline['days']} days |" in row


# What belongs to one track and no other may wait for: the offers a patient decides on, the
# referrals made from them and the letters. Keyed by form.
TRACK_OWN = {
    "psychological-support.schema.json", "financial-advice.schema.json",
    "family-support.schema.json", "palliative-referral.schema.json",
    "advance-care-planning.schema.json", "share-advance-care-plan.schema.json",
    "inform-gp.schema.json", "mdt-gp-letter.schema.json", "bereavement-support.schema.json",
    "death-follow-up.schema.json", "transfer-handover.schema.json",
    "discharge-letter.schema.json", "holistic-needs-assessment.schema.json",
}  # fmt: skip


def test_no_task_waits_for_another_tracks_referral_letter_or_decision() -> None:
    from workflows.dependencies import prerequisites_of_files

    pathway = compile_dir(ROOT / "bpmn")
    files = {p.name: p.read_bytes() for p in (ROOT / "bpmn").glob("*.bpmn")}
    forms = {(i.process_id, i.bpmn_id): i.form for i in pathway.user_tasks.values()}
    crossing = [
        f"{task} waits for {wait.element_id} ({wait.process_id})"
        for task, waits in prerequisites_of_files(files).items()
        for wait in waits
        if wait.kind == "task"
        and forms.get((wait.process_id, wait.element_id)) in TRACK_OWN
        and wait.process_id != task[0]
    ]
    assert crossing == []


def test_what_the_clinical_review_found_blocking_now_starts_on_its_own() -> None:
    """The queues the review found are gone: named, from the diagrams."""
    from workflows.dependencies import prerequisites_of_files

    files = {p.name: p.read_bytes() for p in (ROOT / "bpmn").glob("*.bpmn")}
    waits = {
        key[1]: {w.element_id for w in found}
        for key, found in prerequisites_of_files(files).items()
    }
    # Treatment planning follows the MDT outcome (or a change of treatment), nothing else.
    assert waits["treatment_planning"] == {"record_mdt_outcome", "treatment_change_received"}
    # The MDT referral waits for no key worker; reviews for nothing but their timer.
    assert waits["mdt_referral"] == {
        "register_diagnosis", "progression_received", "treatment_change_received"
    }  # fmt: skip
    assert waits["planned_review"] == {"next_review_due"}
    # Palliative referral: at registration, on any trigger, or on the date agreed.
    assert waits["refer_palliative"] == {
        "register_diagnosis", "trigger_recorded", "trigger_while_waiting", "palliative_reoffer_due"
    }  # fmt: skip
    # Advance care planning: offered to everyone from registration.
    assert "register_diagnosis" in waits["acp_conversation"]


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
