"""The facade on real .bpmn files, without Flask or a database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from workflows import (
    CompiledPathway,
    MessageNotAcceptedError,
    PathwayEngine,
    TaskNotReadyError,
    decode_state,
)

from .bpmn_builders import FORM, chain, process, user_task
from .conftest import compile_bpmn, make_engine

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend


def test_tiny_pathway_runs_and_branches_on_data(tiny: CompiledPathway) -> None:
    run = PathwayEngine(tiny).start({"patient_label": "Jo"})
    [assess] = run.ready_tasks()
    assert (assess.name, assess.role, assess.form, assess.due_working_days) == (
        "Assess the wound",
        "cns",
        "assess.schema.json",
        2,
    )
    assert assess.instructions == "Look at the wound of patient Jo."

    run.complete_task(assess.id, {"size_cm": 7, "infected": False})

    [review] = run.ready_tasks()
    assert (review.bpmn_id, review.role) == ("review", "oncologist")
    run.complete_task(review.id, {"plan": "Dressings"})
    assert run.is_finished


def test_small_wound_skips_review(tiny: CompiledPathway) -> None:
    run = PathwayEngine(tiny).start({"patient_label": "Jo"})
    run.complete_task(run.ready_tasks()[0].id, {"size_cm": 1, "infected": False})
    assert run.ready_tasks() == []
    assert run.is_finished


def test_state_round_trip_has_no_spec_and_a_format(tiny: CompiledPathway) -> None:
    engine = PathwayEngine(tiny)
    run = engine.start({"patient_label": "Jo"})
    state = run.state()
    stored = json.loads(decode_state(state))
    assert stored["state_format"] == 2 and state.startswith("z2:")
    assert "spec" not in stored and "subprocess_specs" not in stored
    restored = engine.restore(state)
    assert [t.id for t in restored.ready_tasks()] == [t.id for t in run.ready_tasks()]
    # A state written in format 1 (plain JSON) still loads.
    old = json.dumps({**stored, "state_format": 1})
    assert [t.id for t in engine.restore(old).ready_tasks()] == [t.id for t in run.ready_tasks()]


def test_completing_a_task_twice_is_refused(tiny: CompiledPathway) -> None:
    run = PathwayEngine(tiny).start({"patient_label": "Jo"})
    task_id = run.ready_tasks()[0].id
    run.complete_task(task_id, {"size_cm": 1, "infected": False})
    with pytest.raises(TaskNotReadyError):
        run.complete_task(task_id, {"size_cm": 1, "infected": False})
    with pytest.raises(TaskNotReadyError):
        run.complete_task("not-a-uuid", {})


def test_message_not_awaited_is_refused(tiny: CompiledPathway) -> None:
    run = PathwayEngine(tiny).start({"patient_label": "Jo"})
    with pytest.raises(MessageNotAcceptedError):
        run.send_message("progression", {})
    assert run.state()  # a refused message leaves a saveable run


def test_cancel_leaves_no_ready_task(tiny: CompiledPathway) -> None:
    run = PathwayEngine(tiny).start({"patient_label": "Jo"})
    run.cancel()
    assert run.ready_tasks() == []


def test_timers_fire_by_the_clock_the_engine_is_given() -> None:
    """No sleeping and no wall clock: the engine asks its clock, once per operation."""
    timer = (
        '<bpmn:intermediateCatchEvent id="wait" name="Wait two days">'
        '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
        '"P2D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
    )
    pathway = compile_bpmn({"t.bpmn": process(chain(timer, user_task()))}, {"f.json": FORM})
    now = [datetime(2031, 5, 9, 16, 0, tzinfo=UTC)]  # not today, whatever today is
    engine = PathwayEngine(pathway, clock=lambda: now[0])
    run = engine.start()
    [pending] = run.pending_timers()
    assert pending.event_name == "Wait two days"
    assert pending.due_at == datetime(2031, 5, 11, 16, 0, tzinfo=UTC)
    now[0] = datetime(2031, 5, 11, 15, 59, tzinfo=UTC)
    run.fire_due_timers()
    assert run.ready_tasks() == []
    now[0] = datetime(2031, 5, 11, 16, 1, tzinfo=UTC)
    run = engine.restore(run.state())  # a fresh load, as the scheduler does
    run.fire_due_timers()
    assert [t.bpmn_id for t in run.ready_tasks()] == ["task"]
    assert run.pending_timers() == []


def test_real_pathway_progression_lists_for_mdt_at_once_beside_a_new_assessment(
    real_pathway: CompiledPathway,
) -> None:
    run = make_engine(real_pathway).start(
        {
            "patient_birth_date": "1950-01-01",
            "episode": {"id": 1, "kind": "diagnosis"},
            "local_settings": {"pension_age": 66},
        }
    )
    assert "progression" not in run.waiting_messages()  # nothing to progress from yet
    [registration] = run.ready_tasks()
    run.complete_task(registration.id, {"ecog": 1, "in_work": "no", "index_date": "2026-11-01"})
    assert {"progression", "treatment_change", "death"} <= run.waiting_messages()
    before = {t.id for t in run.ready_tasks()}
    episode = {"id": 2, "kind": "progression", "mdt_question": "Next line?", "fast_track": True}
    run.send_message("progression", episode)
    new = [t for t in run.ready_tasks() if t.id not in before]
    assert sorted(t.name for t in new) == ["Holistic needs assessment", "Record MDT outcome"]
    assert all(t.context["episode"]["id"] == 2 for t in new)  # they belong to the progression
    outcome = next(t for t in new if t.name == "Record MDT outcome")
    assert outcome.context["mdt_referral"]["urgency"] == "fast_track"


def test_signal_reaches_a_waiting_catch_event() -> None:
    catch = (
        '<bpmn:intermediateCatchEvent id="wait" name="Results back">'
        "<bpmn:extensionElements><spiffworkflow:variableName>results</spiffworkflow:variableName>"
        "</bpmn:extensionElements>"
        '<bpmn:signalEventDefinition signalRef="sig" /></bpmn:intermediateCatchEvent>'
    )
    pathway = compile_bpmn(
        {
            "s.bpmn": process(
                chain(catch, user_task()), extra='<bpmn:signal id="sig" name="results" />'
            )
        },
        {"f.json": FORM},
    )
    run = PathwayEngine(pathway).start()
    assert run.ready_tasks() == []
    run.send_signal("results", {"ok": True})
    assert [t.bpmn_id for t in run.ready_tasks()] == ["task"]
    with pytest.raises(MessageNotAcceptedError):
        run.send_signal("results", {})
