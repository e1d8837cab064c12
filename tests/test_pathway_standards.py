"""The standards a pathway measures are its own: its measures.json declares them (code ->
title), each measure's code must be one it declares, and the report and scorecard title them
from it. A measures.json stored before the declaration measures the legacy default (the
eleven secondary breast cancer standards)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mdt.models.standards import LEGACY_STANDARDS
from mdt.services.actor import SYSTEM
from mdt.services.measures import MEASURES_FILE, parse_measures
from mdt.services.pathways import publish_files, read_pathway_directory
from workflows import PathwayInvalidError

from .conftest import ROOT

EXAMPLE = ROOT / "bpmn" / "examples" / "lymphoedema"


def _files(change: Any) -> tuple[dict[str, bytes], dict[str, bytes]]:
    bpmn, forms = read_pathway_directory(EXAMPLE)
    document = json.loads(forms[MEASURES_FILE])
    change(document)
    return bpmn, {**forms, MEASURES_FILE: json.dumps(document).encode()}


def _problems(change: Any) -> list[Any]:
    with pytest.raises(PathwayInvalidError) as refused:
        publish_files(SYSTEM, "lymph-test", "Lymphoedema test", *_files(change))
    return list(refused.value.problems)


def test_a_pathway_with_its_own_codes_publishes_and_titles_its_measures(app: Any) -> None:
    version = publish_files(SYSTEM, "lymph-test", "Lymphoedema test", *_files(lambda d: None))
    assert version.status == "published"
    measures = {
        m.code: m.standard for m in parse_measures(_files(lambda d: None)[1][MEASURES_FILE])
    }
    assert measures == {
        "LY1": "A named lymphoedema nurse for every referral",
        "LY2": "Limbs assessed and a treatment plan agreed",
        "LY3": "The GP kept informed",
    }


def test_an_undeclared_code_is_refused_with_its_file_and_place(app: Any) -> None:
    def breast_code(document: dict[str, Any]) -> None:
        document["measures"][1]["code"] = "TC1"  # the breast cancer code, not declared here

    [problem] = _problems(breast_code)
    assert problem.file == MEASURES_FILE
    assert problem.message.startswith("Measure ly_assessment: standard code TC1 is not one")
    assert "LY1, LY2, LY3" in problem.message


def test_a_declaration_must_title_every_code(app: Any) -> None:
    def untitled(document: dict[str, Any]) -> None:
        document["standards"]["LY2"] = ""

    problems = _problems(untitled)
    assert [p.file for p in problems] == [MEASURES_FILE]
    assert 'Standard "LY2": the code needs a title' in problems[0].message


def test_a_task_may_name_only_the_codes_its_pathway_declares(app: Any) -> None:
    bpmn, forms = _files(lambda d: None)
    bpmn = {name: text.replace(b'value="LY1"', b'value="IS2"') for name, text in bpmn.items()}
    with pytest.raises(PathwayInvalidError) as refused:
        publish_files(SYSTEM, "lymph-test", "Lymphoedema test", bpmn, forms)
    assert any("IS2" in p.message for p in refused.value.problems)


def test_measures_without_a_declaration_measure_the_legacy_default() -> None:
    shipped = json.loads((ROOT / "bpmn" / MEASURES_FILE).read_bytes())
    assert shipped["standards"] == LEGACY_STANDARDS  # the shipped pathway declares the eleven
    del shipped["standards"]
    legacy = parse_measures(json.dumps(shipped).encode())
    assert {m.code: m.standard for m in legacy} == {
        code: LEGACY_STANDARDS[code] for code in {m.code for m in legacy}
    }
