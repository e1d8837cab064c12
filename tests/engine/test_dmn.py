"""Decision tables (workflows/dmn.py): business rule tasks run DMN tables through the sandbox;
hostile or broken tables are refused at upload with the file, line and element; and the
pathway's own tables decide exactly as the scripts they replaced."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from workflows import CompiledPathway, PathwayInvalidError, ScriptTimeoutError, WorkflowRunError
from workflows import dmn as dmn_module

from .bpmn_builders import FORM, chain, process, user_task
from .conftest import ROOT, compile_bpmn, compile_dir, make_engine

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs" '
    'name="Tables" namespace="http://example.org/dmn">\n'
)


def table(
    rules: list[tuple[str, str]],
    *,
    policy: str = "FIRST",
    expression: str = "score",
    type_ref: str = "integer",
    decision: str = "referral",
    output: str = "refer",
) -> bytes:
    """One decision with one input column and one output column; each rule (entry, output)
    on its own line."""
    rows = "".join(
        f'    <rule id="rule{n}">\n'
        f'      <inputEntry id="rule{n}_in"><text>{entry}</text></inputEntry>\n'
        f'      <outputEntry id="rule{n}_out"><text>{out}</text></outputEntry>\n'
        "    </rule>\n"
        for n, (entry, out) in enumerate(rules, start=1)
    )
    return (
        HEAD + f'  <decision id="{decision}" name="Referral">\n'
        f'  <decisionTable id="table" hitPolicy="{policy}">\n'
        f'    <input id="in1" label="Score">\n'
        f'      <inputExpression id="in1_expr" typeRef="{type_ref}"><text>{expression}</text>'
        "</inputExpression>\n"
        "    </input>\n"
        f'    <output id="out1" label="Refer" name="{output}" typeRef="boolean"/>\n'
        f"{rows}  </decisionTable>\n  </decision>\n</definitions>\n"
    ).encode()


THRESHOLD = table([("&gt;= 4", "True"), ("-", "False")])


def rule_task(decision: str = "referral", pre: str = "") -> str:
    pre_script = f"<spiffworkflow:preScript>{pre}</spiffworkflow:preScript>" if pre else ""
    return (
        '<bpmn:businessRuleTask id="decide" name="Decide"><bpmn:extensionElements>'
        f"<spiffworkflow:calledDecisionId>{decision}</spiffworkflow:calledDecisionId>"
        f"{pre_script}</bpmn:extensionElements></bpmn:businessRuleTask>"
    )


def pathway_files(dmn: bytes, decision: str = "referral", pre: str = "") -> dict[str, bytes]:
    return {"p.bpmn": process(chain(rule_task(decision, pre), user_task())), "rules.dmn": dmn}


def compiled(
    dmn: bytes, decision: str = "referral", pre: str = "", **kwargs: object
) -> CompiledPathway:
    return compile_bpmn(pathway_files(dmn, decision, pre), {"f.json": FORM}, **kwargs)


def refused(dmn: bytes, decision: str = "referral") -> list:
    with pytest.raises(PathwayInvalidError) as error:
        compiled(dmn, decision)
    return error.value.problems


def decided(pathway: CompiledPathway, data: dict) -> dict:
    """The data of the task after the business rule task, for a patient starting with
    ``data``."""
    run = make_engine(pathway).start(data)
    task = run._workflow.get_tasks(state=16, manual=True)[0]  # the user task after it
    return task.data


def test_a_decision_table_decides_at_its_threshold() -> None:
    pathway = compiled(THRESHOLD)
    assert [decided(pathway, {"score": s})["refer"] for s in (0, 3, 4, 9)] == [
        False,
        False,
        True,
        True,
    ]


def test_collect_gathers_every_matching_rule_into_a_list_reset_by_the_pre_script() -> None:
    dmn = table(
        [("&gt;= 4", '"high"'), ("&gt;= 8", '"very high"'), ("&lt; 0", '"impossible"')],
        policy="COLLECT",
        output="found",
    )
    pathway = compiled(dmn, pre="found = []")
    assert decided(pathway, {"score": 9, "found": ["stale"]})["found"] == ["high", "very high"]
    assert decided(pathway, {"score": 1, "found": ["stale"]})["found"] == []


def test_entries_with_a_question_mark_and_comparisons_in_the_sandbox() -> None:
    dmn = table([("2 &lt;= ? &lt; 5", "True"), ("-", "False")])
    pathway = compiled(dmn)
    assert [decided(pathway, {"score": s})["refer"] for s in (1, 2, 4, 5)] == [
        False,
        True,
        True,
        False,
    ]


def test_a_document_type_or_entity_in_a_decision_file_is_refused_on_its_line() -> None:
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n' + THRESHOLD.split(b"\n", 1)[1]
    )
    problems = refused(bomb)
    assert any(
        p.file == "rules.dmn" and p.line == 2 and "DOCTYPE" in p.message for p in problems
    ), problems


def test_a_file_that_is_not_well_formed_or_not_dmn_is_refused() -> None:
    broken = refused(THRESHOLD.replace(b"</decision>", b""))
    assert any(p.file == "rules.dmn" and "well-formed" in p.message for p in broken), broken
    bpmn_instead = refused(process(chain(user_task())))
    assert any("Not a DMN 1.3 file" in p.message for p in bpmn_instead), bpmn_instead


@pytest.mark.parametrize(
    ("where", "dmn"),
    [
        ("input expression", table([("-", "True")], expression="().__class__.__bases__")),
        ("input entry", table([("().__class__", "True"), ("-", "False")])),
        ("output entry", table([("-", "[].__class__.__mro__")])),
        ("output entry", table([("-", "__import__('os').system('id')")])),
    ],
)
def test_an_expression_escaping_the_sandbox_is_refused_at_upload(where: str, dmn: bytes) -> None:
    problems = refused(dmn)
    assert any(
        p.file == "rules.dmn" and p.line and "not an allowed expression" in p.message
        for p in problems
    ), (where, problems)


def test_at_run_time_every_cell_is_evaluated_by_the_sandbox_not_eval() -> None:
    """Even a table loaded without the upload checks (a stored version) cannot escape."""
    hostile = table([("-", "().__class__.__bases__[0].__subclasses__()")])
    pathway = compiled(hostile, lint=False)
    with pytest.raises(WorkflowRunError) as error:
        make_engine(pathway).start({"score": 1})
    assert "Decide" in str(error.value)


def test_a_slow_expression_is_stopped_at_upload_and_at_run_time(monkeypatch) -> None:
    slow = table([("-", "len([i for i in range(100000) for j in range(100000)]) &gt; 0")])
    monkeypatch.setattr(dmn_module, "TEST_RUN_SECONDS", 0.5)
    problems = refused(slow)
    assert any("took longer than 0.5 s" in p.message for p in problems), problems
    pathway = compiled(slow, lint=False)
    with pytest.raises(ScriptTimeoutError):
        make_engine(pathway, time_limit_seconds=0.5).start({"score": 1})


def test_a_business_rule_task_calling_an_unknown_decision_is_refused_on_its_line() -> None:
    problems = refused(THRESHOLD, decision="no_such_table")
    [problem] = [p for p in problems if "no_such_table" in p.message]
    assert problem.file == "p.bpmn" and problem.element_id == "decide" and problem.line
    assert "'referral'" in problem.message  # the decisions there are


def test_a_test_run_failure_is_reported_on_the_rule_that_failed() -> None:
    dividing = table([("&gt;= 4", "score / (score - score)"), ("-", "False")])
    problems = refused(dividing)
    [problem] = [p for p in problems if "test run" in p.message]
    assert problem.file == "rules.dmn" and problem.element_id == "rule1"
    assert problem.line == dividing.decode().splitlines().index('    <rule id="rule1">') + 1
    assert "ZeroDivisionError" in problem.message and "Score = 4" in problem.message


def test_rules_of_a_unique_table_that_overlap_are_refused() -> None:
    problems = refused(table([("&gt;= 4", "True"), ("&gt;= 2", "False")], policy="UNIQUE"))
    assert any(
        "Rules 1 and 2 both match" in p.message and p.element_id == "rule2" for p in problems
    ), problems
    compiled(table([("&gt;= 4", "True"), ("&lt; 4", "False")], policy="UNIQUE"))


def test_unsupported_hit_policies_and_empty_output_cells_are_refused() -> None:
    problems = refused(table([("-", "True")], policy="RULE ORDER"))
    assert any("Hit policy RULE ORDER is not supported" in p.message for p in problems)
    problems = refused(table([("-", "")]))
    assert any("is empty" in p.message and p.element_id == "rule1" for p in problems)


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("1" + " + 1" * 300, "nested"),
        ('"' + "x" * 10_001 + '"', "characters long"),
        ("1" * 30, "digits"),
    ],
)
def test_the_lints_limits_hold_for_table_cells(cell: str, words: str) -> None:
    problems = refused(table([("-", cell)]))
    assert any(words in p.message and p.element_id == "rule1" for p in problems), problems


def test_a_call_to_a_function_scripts_do_not_have_is_refused() -> None:
    problems = refused(table([("-", "open_file('x')")]))
    assert any("calls open_file()" in p.message for p in problems), problems


# -- the pathway's own rules, moved from scripts into bpmn/*.dmn --------------------------


def _own(decision: str, pre: str = "") -> CompiledPathway:
    dmn = (ROOT / "bpmn" / f"{decision}.dmn").read_bytes()
    return compiled(dmn, decision, pre)


def test_the_needs_assessment_referrals_decide_as_the_script_did() -> None:
    pathway = _own("hna_referrals", pre="hna_referrals = []")
    for offer, distress, emotional, practical, family, wants, symptoms in itertools.product(
        ("01", "02"), (3, 4), (0, 4), (3, 4), (3, 4), (False, True), (False, True)
    ):
        hna = {
            "offer": offer,
            "distress": distress,
            "emotional": emotional,
            "practical": practical,
            "family": family,
            "wants_family_support": wants,
            "uncontrolled_symptoms": symptoms,
        }
        found = decided(pathway, {"hna": hna})["hna_referrals"]
        accepted = offer == "01"  # the script this table replaced, word for word
        assert ("psychological" in found) == (accepted and (distress >= 4 or emotional >= 4))
        assert ("financial" in found) == (accepted and practical >= 4)
        assert ("family" in found) == (accepted and (family >= 4 or wants))
        assert ("symptoms" in found) == (accepted and symptoms)


def test_the_palliative_triggers_decide_as_the_scripts_did_in_their_order() -> None:
    pathway = _own("palliative_triggers", pre="palliative_triggers_found = []")
    for mdt, ecog, symptoms, surprise in itertools.product(
        (False, True), (0, 2, 3, 4), (False, True), ("yes", "no", None)
    ):
        data = {
            "trigger_mdt": mdt,
            "trigger_ecog": ecog,
            "trigger_symptoms": symptoms,
            "trigger_surprise_question": surprise,
        }
        expected = (
            (["mdt"] if mdt else [])
            + (["ecog"] if ecog >= 3 else [])
            + (["symptoms"] if symptoms else [])
            + (["surprise_question"] if surprise == "no" else [])
        )
        assert decided(pathway, data)["palliative_triggers_found"] == expected


def test_the_working_age_rule_decides_as_the_script_did() -> None:
    pathway = _own("financial_eligibility")
    today = make_engine(pathway).clock().date()
    for age, pension, in_work in itertools.product(
        (40, 65, 66, 67, 80), (66, 67), ("yes", "no", "not_known")
    ):
        birth = today.replace(year=today.year - age).isoformat()
        data = {
            "patient_birth_date": birth,
            "local_settings": {"pension_age": pension},
            "diagnosis": {"in_work": in_work},
        }
        found = decided(pathway, data)
        assert found["working_age"] == (age < pension)
        assert found["eligible_financial"] == (age < pension or in_work == "yes")


def test_the_pathway_compiles_with_its_decision_tables_and_no_rule_is_left_in_a_script() -> None:
    pathway = compile_dir(ROOT / "bpmn")
    kinds = {
        spec.bpmn_id: type(spec).__name__
        for process_spec in [pathway.spec, *pathway.subprocess_specs.values()]
        for spec in process_spec.task_specs.values()
    }
    for task in ("decide_referrals", "screen_registration", "financial_eligibility"):
        assert kinds[task] == "BusinessRuleTask", task
    scripts = "".join(p.read_text() for p in (ROOT / "bpmn").glob("*.bpmn"))
    assert "&gt;= 4" not in scripts and "&gt;= 3" not in scripts
    assert "pension_age &lt;" not in scripts and "&lt; pension_age" not in scripts


# -- the test run of a draft (trial_run, trial_graph) with business rule tasks ------------------


def _wound_trial(table: bytes | None = None, lint: bool = True) -> Any:
    from datetime import UTC, datetime

    from mdt.services.episodes import CONTEXT_KEYS
    from mdt.services.pathways import _pathway_helpers
    from workflows import TrialBudget, run_trial

    from ..decision_pathway import TABLE, decision_files
    from .conftest import ROLES

    bpmn, forms = decision_files()
    if table is not None:
        bpmn[TABLE] = table
    pathway = compile_bpmn(bpmn, forms, lint=lint)
    start = {"patient_id": 1, "patient_age": 60, "episode": {"id": 1, "kind": "diagnosis"}}
    return run_trial(
        pathway,
        bpmn,
        patients=[("a patient of 60", start)],
        start_at=datetime(2026, 3, 3, 9, 30, tzinfo=UTC),
        known_roles=ROLES,
        helpers=_pathway_helpers([]),
        context_keys=CONTEXT_KEYS,
        budget=TrialBudget(max_seconds=60),
    )


def test_the_test_run_follows_each_route_a_decision_table_chooses() -> None:
    report = _wound_trial()
    assert report.errors == ()  # the gateway's condition reads the table's output: it is set
    coverage = report.coverage
    assert (coverage.user_tasks_reached, coverage.user_tasks) == (2, 2)
    assert (coverage.branches_taken, coverage.branches) == (2, 2)


def test_the_test_run_says_when_a_table_reads_a_field_its_form_does_not_have() -> None:
    from ..decision_pathway import TABLE, severity_table

    misspelt = severity_table().replace(b'assessment["size_cm"]', b'assessment["size_mm"]')
    with pytest.raises(PathwayInvalidError) as refused:  # the upload's test run of the table
        _wound_trial(misspelt)
    [problem] = refused.value.problems
    assert (problem.file, problem.element_id) == (TABLE, "large")  # the rule that reads it
    assert "KeyError: 'size_mm'" in problem.message
    # The draft's test run (the checks aside) names the business rule task that reads it.
    report = _wound_trial(misspelt, lint=False)
    unset = [p for p in report.problems if p.kind == "unset_data"]
    assert unset and unset[0].element_id == "score" and "no field 'size_mm'" in unset[0].message
