"""The test run: synthetic patients through a pathway before it is published (no Flask).

Each bad draft is refused with the element and the path of answers that led a patient there;
the shipped pathway passes with every user task and every gateway branch reached.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pytest

from mdt.services.episodes import CONTEXT_KEYS
from mdt.services.pathways import _pathway_helpers
from workflows import CompiledPathway, PathwayInvalidError, TrialBudget, TrialReport, run_trial
from workflows.trial_answers import CodeMentions, answer_sets

from .bpmn_builders import HEAD
from .conftest import ROLES, ROOT, compile_bpmn, read_dir

START = datetime(2026, 3, 3, 9, 30, tzinfo=ZoneInfo("Europe/London"))  # a Tuesday morning
ASSESS_FORM = b"""{"type": "object", "required": ["urgent"], "properties": {
  "urgent": {"type": "boolean", "title": "Urgent?"},
  "notes": {"type": "string", "title": "Notes", "maxLength": 2000}}}"""
FORMS = {"assess.json": ASSESS_FORM}


def patient(age: int = 60) -> dict[str, Any]:
    return {
        "patient_id": 1,
        "patient_age": age,
        "patient_birth_date": f"{2025 - age}-06-01",
        "episode": {"id": 1, "kind": "diagnosis"},
        "local_settings": {"pension_age": 66},
    }


def trial(
    bpmn: dict[str, bytes],
    forms: dict[str, bytes] | None = None,
    *,
    lint: bool = True,
    budget: TrialBudget | None = None,
    patients: list[tuple[str, dict[str, Any]]] | None = None,
) -> TrialReport:
    forms = FORMS if forms is None else forms
    pathway = compile_bpmn(bpmn, forms, lint=lint)
    return run_trial(
        pathway,
        bpmn,
        patients=patients or [("a patient of 60", patient())],
        start_at=START,
        known_roles=ROLES,
        helpers=_pathway_helpers([]),
        context_keys=CONTEXT_KEYS,
        budget=budget or TrialBudget(max_seconds=120),
    )


def diagram(
    body: str, lanes: dict[str, list[str]] | None = None, extra: str = ""
) -> dict[str, bytes]:
    """One process; ``lanes`` maps a lane name to the elements in it; ``extra`` is put
    before the process (messages, signals)."""
    lane_xml = "".join(
        f'<bpmn:lane id="lane{i}" name="{name}">'
        + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs)
        + "</bpmn:lane>"
        for i, (name, refs) in enumerate((lanes or {}).items())
    )
    lane_set = f'<bpmn:laneSet id="lanes">{lane_xml}</bpmn:laneSet>' if lane_xml else ""
    return {
        "flow.bpmn": (
            HEAD
            + extra
            + f'<bpmn:process id="flow" isExecutable="true">{lane_set}{body}</bpmn:process>'
            "</bpmn:definitions>"
        ).encode()
    }


def user(task_id: str, name: str, form: str = "assess.json", variable: str = "assess") -> str:
    return (
        f'<bpmn:userTask id="{task_id}" name="{name}"><bpmn:extensionElements>'
        f"<spiffworkflow:variableName>{variable}</spiffworkflow:variableName>"
        '<spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" '
        f'value="{form}" /></spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>'
    )


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />'
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )


def urgent_branch(urgent_step: str, condition: str = 'assess["urgent"]') -> str:
    """Assess -> urgent? -> (yes) the given step -> end; (no) end."""
    return (
        '<bpmn:startEvent id="start" />'
        + user("assess", "Assess the wound")
        + '<bpmn:exclusiveGateway id="urgent" name="Urgent?" default="not_urgent" />'
        + urgent_step
        + '<bpmn:endEvent id="done" /><bpmn:endEvent id="routine" />'
        + flow("f1", "start", "assess")
        + flow("f2", "assess", "urgent")
        + flow("is_urgent", "urgent", "urgent_step", condition)
        + flow("not_urgent", "urgent", "routine")
        + flow("f3", "urgent_step", "done")
    )


NURSE = ["start", "assess", "urgent", "done", "routine"]


def the(report: TrialReport, kind: str) -> list[Any]:
    return [p for p in report.problems if p.kind == kind]


def test_a_task_nobody_can_complete_is_refused_with_the_path_that_reaches_it() -> None:
    body = urgent_branch(user("urgent_step", "Urgent review", variable="review"))
    files = diagram(body, {"Clinical nurse specialist": NURSE})  # urgent_step in no lane
    with pytest.raises(PathwayInvalidError, match="does not map to a known role"):
        compile_bpmn(files, FORMS)  # the lint refuses it at upload...
    report = trial(files, lint=False)  # ...and a draft that got past it is refused too
    [problem] = the(report, "no_role")
    assert problem.severity == "error" and not report.passed
    assert (problem.element_id, problem.element_name) == ("urgent_step", "Urgent review")
    assert problem.file == "flow.bpmn" and problem.line
    assert problem.path == ("Start: a patient of 60", "Assess the wound (urgent=true)")
    assert "urgent_step" in report.failed["flow.bpmn"]


def test_a_print_script_is_refused_with_the_path_that_reaches_it() -> None:
    step = (
        '<bpmn:scriptTask id="urgent_step" name="Note it" scriptFormat="python">'
        '<bpmn:script>print("urgent")</bpmn:script></bpmn:scriptTask>'
    )
    files = diagram(urgent_branch(step), {"Clinical nurse specialist": NURSE})
    with pytest.raises(PathwayInvalidError, match="print"):
        compile_bpmn(files, FORMS)
    report = trial(files, lint=False)
    [problem] = the(report, "run_error")
    assert (problem.element_id, problem.element_name, problem.severity) == (
        "urgent_step",
        "Note it",
        "error",
    )
    assert "print" in problem.message
    assert problem.path == ("Start: a patient of 60", "Assess the wound (urgent=true)")


def test_a_condition_on_data_nothing_sets_is_refused_with_its_path() -> None:
    step = user("urgent_step", "Urgent review", variable="review")
    body = urgent_branch(step, condition="assess['urgent'] and wound_size > 5")
    report = trial(diagram(body, {"Clinical nurse specialist": [*NURSE, "urgent_step"]}))
    [unset] = the(report, "unset_data")
    assert unset.severity == "error" and "'wound_size'" in unset.message
    assert unset.element_id == "is_urgent"  # the sequence flow holding the condition
    assert unset.element_name == "Urgent? → Urgent review"
    assert unset.path == ("Start: a patient of 60", "Assess the wound")
    # The patient who answers yes meets it when the pathway runs, too.
    [failed] = the(report, "run_error")
    assert failed.element_id == "urgent" and "wound_size" in failed.message
    assert failed.path == ("Start: a patient of 60", "Assess the wound (urgent=true)")


def test_a_key_no_form_has_is_refused() -> None:
    step = user("urgent_step", "Urgent review", variable="review")
    body = urgent_branch(step, condition='assess["urgency"] == "high"')
    report = trial(diagram(body, {"Clinical nurse specialist": [*NURSE, "urgent_step"]}))
    [unset] = the(report, "unset_data")
    assert unset.severity == "error" and "no field 'urgency'" in unset.message


def test_an_element_nothing_leads_to_is_refused() -> None:
    body = urgent_branch(user("urgent_step", "Urgent review", variable="review")) + user(
        "orphan", "Photograph the wound", variable="photo"
    )
    lanes = {"Clinical nurse specialist": [*NURSE, "urgent_step", "orphan"]}
    report = trial(diagram(body + flow("f9", "orphan", "done"), lanes))
    [problem] = the(report, "unreachable")
    assert (problem.element_id, problem.element_name, problem.severity) == (
        "orphan",
        "Photograph the wound",
        "error",
    )
    assert problem.path == ()  # no path reaches it
    assert "Nothing leads here" in problem.message and not report.passed


def test_a_branch_no_answer_takes_is_a_warning_with_the_path_to_its_gateway() -> None:
    step = user("urgent_step", "Urgent review", variable="review")
    body = urgent_branch(step, condition='assess["urgent"] and assess["urgent"] == "never"')
    report = trial(diagram(body, {"Clinical nurse specialist": [*NURSE, "urgent_step"]}))
    assert report.passed  # no error: a manager confirms the warnings
    branch = next(p for p in report.warnings if p.element_id == "is_urgent")
    assert branch.kind == "not_reached" and branch.path == (
        "Start: a patient of 60",
        "Assess the wound",
    )
    assert report.coverage.branches_taken == 1 and report.coverage.branches == 2
    assert report.coverage.user_tasks_reached == 1 and report.coverage.user_tasks == 2


def test_every_branch_of_an_inclusive_gateway_is_taken() -> None:
    form = b"""{"type": "object", "properties": {
      "pain": {"type": "boolean"}, "infected": {"type": "boolean"}}}"""
    body = (
        '<bpmn:startEvent id="start" />'
        + user("assess", "Assess the wound", form="both.json")
        + '<bpmn:inclusiveGateway id="needs" name="Needs?" default="nothing" />'
        + user("analgesia", "Review pain relief", form="both.json", variable="pain_review")
        + user("swab", "Take a swab", form="both.json", variable="swab")
        + '<bpmn:inclusiveGateway id="join" /><bpmn:endEvent id="done" />'
        + flow("f1", "start", "assess")
        + flow("f2", "assess", "needs")
        + flow("for_pain", "needs", "analgesia", 'assess.get("pain")')
        + flow("for_infection", "needs", "swab", 'assess.get("infected")')
        + flow("nothing", "needs", "join")
        + flow("f3", "analgesia", "join")
        + flow("f4", "swab", "join")
        + flow("f5", "join", "done")
    )
    lanes = {"Clinical nurse specialist": ["start", "assess", "analgesia", "swab", "done"]}
    report = trial(diagram(body, lanes), {"both.json": form})
    assert report.passed and not report.warnings, report.problems
    assert report.coverage.branches_taken == report.coverage.branches == 3
    assert report.coverage.user_tasks_reached == report.coverage.user_tasks == 3


def test_a_patient_left_waiting_for_nothing_is_refused() -> None:
    body = (
        '<bpmn:startEvent id="start" />'
        + user("assess", "Assess the wound")
        + '<bpmn:intermediateCatchEvent id="wait" name="Signal that never comes">'
        '<bpmn:signalEventDefinition signalRef="nobody" /></bpmn:intermediateCatchEvent>'
        '<bpmn:endEvent id="done" />'
        + flow("f1", "start", "assess")
        + flow("f2", "assess", "wait")
        + flow("f3", "wait", "done")
    )
    signal = '<bpmn:signal id="nobody" name="nobody" />'
    report = trial(diagram(body, {"Clinical nurse specialist": ["start", "assess"]}, signal))
    [stranded] = the(report, "stranded")
    assert stranded.element_id == "wait" and stranded.severity == "error"
    assert stranded.path == ("Start: a patient of 60", "Assess the wound")


def test_timers_fire_and_a_clean_pathway_passes_whole() -> None:
    wait = (
        '<bpmn:intermediateCatchEvent id="urgent_step" name="A week later">'
        '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
        '"P7D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
    )
    report = trial(diagram(urgent_branch(wait), {"Clinical nurse specialist": NURSE}))
    assert report.passed and not report.warnings and report.complete
    assert report.coverage.branches_taken == report.coverage.branches == 2
    assert set(report.reached["flow.bpmn"]) >= {"urgent_step", "done", "routine", "is_urgent"}
    assert report.failed == {}


def test_the_budget_stops_the_run_and_says_so() -> None:
    body = urgent_branch(user("urgent_step", "Urgent review", variable="review"))
    files = diagram(body, {"Clinical nurse specialist": [*NURSE, "urgent_step"]})
    report = trial(files, budget=TrialBudget(max_runs=2))
    assert not report.complete
    assert any(p.kind == "budget" for p in report.problems)


def test_answers_come_from_the_form_one_change_at_a_time() -> None:
    schema = {
        "type": "object",
        "required": ["offer"],
        "properties": {
            "offer": {"type": "string", "oneOf": [{"const": "yes"}, {"const": "no"}]},
            "reoffer_on": {
                "type": "string",
                "format": "date",
                "x-date": "future",
                "x-show-if": {"field": "offer", "equals": "no"},
            },
            "score": {"type": "integer", "minimum": 0, "maximum": 10},
            "comment": {"type": "string"},  # no code mentions it: answered one way only
        },
    }
    mentions = CodeMentions(names=frozenset({"offer", "reoffer_on", "score"}))
    sets = answer_sets(schema, date(2026, 3, 3), mentions)
    assert sets[0].answers == {"offer": "yes", "score": 0, "comment": "Test entry"}
    described = [s.describe() for s in sets[1:]]
    assert "offer=no, reoffer_on=2026-03-31" in described  # a date to come: four weeks on
    assert "offer=no, reoffer_on blank" in described  # revealed, then left blank
    assert "score=10" in described and "score blank" in described
    assert all("comment" not in d for d in described)


# -- the shipped pathway -------------------------------------------------------------------


def shipped_report() -> TrialReport:
    bpmn, forms = read_dir(ROOT / "bpmn")
    pathway: CompiledPathway = compile_bpmn(bpmn, forms)
    return run_trial(
        pathway,
        bpmn,
        patients=[("a patient of 75", patient(75)), ("a patient of 45", patient(45))],
        start_at=START,
        known_roles=ROLES,
        helpers=_pathway_helpers([]),
        context_keys=CONTEXT_KEYS,
        budget=TrialBudget(max_seconds=600),
    )


def test_the_shipped_pathway_passes_reaching_every_user_task_and_branch() -> None:
    """...and docs/pathway.md gives the figure this run finds."""
    report = shipped_report()
    assert report.passed and report.complete, report.errors
    assert not report.warnings, [(p.element_id, p.message) for p in report.warnings]
    coverage = report.coverage
    assert coverage.user_tasks_reached == coverage.user_tasks > 20
    assert coverage.branches_taken == coverage.branches > 40
    # Only the ends of the tracks that run until care ends are out of reach.
    assert {p.element_id for p in report.problems} == {
        "palliative_track_done",
        "review_track_done",
        "acp_track_done",
        "financial_track_done",
        "family_track_done",
        "care_ended",
    }
    documented = (ROOT / "docs" / "pathway.md").read_text()
    assert f"**Coverage: {coverage.describe()}**" in documented


def test_a_timer_an_event_based_gateway_waits_for_is_a_pending_timer() -> None:
    """The engine lists an event-based gateway's wait without its timer's time; the facade
    gives it (the scheduler's timer table and the test run both need it)."""
    from .conftest import make_engine

    body = (
        '<bpmn:startEvent id="start" />'
        + user("assess", "Assess the wound")
        + '<bpmn:eventBasedGateway id="wait" />'
        '<bpmn:intermediateCatchEvent id="week" name="A week later">'
        '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
        '"P7D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
        '<bpmn:intermediateCatchEvent id="call" name="Patient calls">'
        '<bpmn:signalEventDefinition signalRef="calls" /></bpmn:intermediateCatchEvent>'
        '<bpmn:endEvent id="done" /><bpmn:endEvent id="called" />'
        + flow("f1", "start", "assess")
        + flow("f2", "assess", "wait")
        + flow("f3", "wait", "week")
        + flow("f4", "wait", "call")
        + flow("f5", "week", "done")
        + flow("f6", "call", "called")
    )
    files = diagram(
        body,
        {"Clinical nurse specialist": ["start", "assess"]},
        '<bpmn:signal id="calls" name="calls" />',
    )
    run = make_engine(compile_bpmn(files, FORMS), clock=lambda: START).start(patient())
    run.complete_task(run.ready_tasks()[0].id, {"urgent": False})
    [timer] = run.pending_timers()
    assert (timer.event_name, timer.due_at) == ("A week later", START + timedelta(days=7))
    report = trial(files)
    assert report.passed and "done" in report.reached["flow.bpmn"]
