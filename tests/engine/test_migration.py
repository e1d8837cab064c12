"""Moving running instances to a new version of their pathway, under the safe policy."""

from __future__ import annotations

import pytest

from workflows import (
    CompiledPathway,
    MigrationRefusedError,
    PathwayEngine,
    diff_pathways,
    migration_blockers,
)

from .bpmn_builders import FORM, chain, process, user_task
from .conftest import FIXTURES, compile_bpmn, read_dir

TINY = (FIXTURES / "tiny" / "wound_care.bpmn").read_text()


def with_photo_task() -> str:
    """Version 2: after the review, the oncologist photographs the wound."""
    xml = TINY.replace(
        "<bpmn:flowNodeRef>review</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>photo</bpmn:flowNodeRef>",
    )
    xml = xml.replace(
        '<bpmn:sequenceFlow id="f_after" sourceRef="review" targetRef="done" />',
        '<bpmn:sequenceFlow id="f_after" sourceRef="review" targetRef="photo" />'
        '<bpmn:sequenceFlow id="f_photo" sourceRef="photo" targetRef="done" />',
    )
    xml = xml.replace(
        "<bpmn:incoming>f_after</bpmn:incoming>\n    </bpmn:endEvent>",
        "<bpmn:incoming>f_photo</bpmn:incoming>\n    </bpmn:endEvent>",
    )
    photo = (
        '<bpmn:userTask id="photo" name="Photograph the wound"><bpmn:extensionElements>'
        '<spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" '
        'value="review.schema.json" /></spiffworkflow:properties></bpmn:extensionElements>'
        "<bpmn:incoming>f_after</bpmn:incoming><bpmn:outgoing>f_photo</bpmn:outgoing>"
        "</bpmn:userTask>"
    )
    return xml.replace('<bpmn:endEvent id="done"', photo + '<bpmn:endEvent id="done"')


def compile_xml(xml: str) -> CompiledPathway:
    _, forms = read_dir(FIXTURES / "tiny")
    return compile_bpmn({"wound_care.bpmn": xml.encode()}, forms)


def test_the_diff_names_what_was_added_and_changed(tiny: CompiledPathway) -> None:
    changes = diff_pathways(tiny, compile_xml(with_photo_task()))
    assert [(c.element_id, c.name, c.change) for c in changes] == [
        ("photo", "Photograph the wound", "added")
    ]
    retimed = compile_xml(
        TINY.replace('name="dueWorkingDays" value="2"', 'name="dueWorkingDays" value="3"')
    )
    [change] = diff_pathways(tiny, retimed)
    assert (change.element_id, change.change) == ("assess", "changed")
    renamed = compile_xml(TINY.replace('name="Assess the wound"', 'name="Measure the wound"'))
    [change] = diff_pathways(tiny, renamed)
    # A renamed element goes by its new name, with what changed in it.
    assert (change.element_id, change.name, change.attributes) == (
        "assess",
        "Measure the wound",
        ("bpmn_name",),
    )


def test_an_instance_moves_and_the_new_task_appears(tiny: CompiledPathway) -> None:
    v2 = compile_xml(with_photo_task())
    run = PathwayEngine(tiny).start({"patient_label": "Jo"})
    run.complete_task(run.ready_tasks()[0].id, {"size_cm": 7, "infected": False})
    [review] = run.ready_tasks()
    assert migration_blockers(run.state(), tiny, v2) == []

    moved = PathwayEngine(v2).adopt(run.state(), tiny)
    [still] = moved.ready_tasks()
    assert (still.bpmn_id, still.name) == ("review", review.name)
    moved.complete_task(still.id, {"plan": "Dressings"})
    [photo] = moved.ready_tasks()
    assert photo.bpmn_id == "photo" and photo.role == "oncologist"
    restored = PathwayEngine(v2).restore(moved.state())  # the state is on version 2 now
    assert [t.bpmn_id for t in restored.ready_tasks()] == ["photo"]


def test_a_change_to_something_already_done_blocks_the_move(tiny: CompiledPathway) -> None:
    renamed = compile_xml(
        TINY.replace('name="Assess the wound"', 'name="Assess and measure the wound"')
    )
    waiting = PathwayEngine(tiny).start({"patient_label": "Jo"})
    assert migration_blockers(waiting.state(), tiny, renamed) == []  # not done yet: fine

    done = PathwayEngine(tiny).start({"patient_label": "Jo"})
    done.complete_task(done.ready_tasks()[0].id, {"size_cm": 7, "infected": False})
    [reason] = migration_blockers(done.state(), tiny, renamed)
    assert "'Assess the wound' (assess) was already done and is changed" in reason
    with pytest.raises(MigrationRefusedError) as refused:
        PathwayEngine(renamed).adopt(done.state(), tiny)
    assert refused.value.reasons == [reason]


EVENT_SUBPROCESS = (
    '<bpmn:message id="m_news" name="news"><bpmn:extensionElements>'
    "<spiffworkflow:messageVariable>news</spiffworkflow:messageVariable>"
    "</bpmn:extensionElements></bpmn:message>"
)
WITH_EVENT_SUBPROCESS = (
    '<bpmn:subProcess id="on_news" triggeredByEvent="true">'
    '<bpmn:startEvent id="news_start" isInterrupting="false">'
    '<bpmn:messageEventDefinition messageRef="m_news" /></bpmn:startEvent>'
    + user_task("read_news", "Read the news")
    + '<bpmn:endEvent id="news_end" />'
    '<bpmn:sequenceFlow id="n1" sourceRef="news_start" targetRef="read_news" />'
    '<bpmn:sequenceFlow id="n2" sourceRef="read_news" targetRef="news_end" />'
    "</bpmn:subProcess>"
)


def test_the_comparison_does_not_depend_on_what_patients_did() -> None:
    """SpiffWorkflow rewires a compiled spec the first time an event subprocess is
    triggered; one patient's event must not make every other patient unmovable."""
    files = {"p.bpmn": process(chain(user_task()) + WITH_EVENT_SUBPROCESS, extra=EVENT_SUBPROCESS)}
    used, fresh = compile_bpmn(files, {"f.json": FORM}), compile_bpmn(files, {"f.json": FORM})
    PathwayEngine(used).start().send_message("news", {})  # rewires the compiled spec
    waiting = PathwayEngine(used).start()  # on the rewired spec
    assert diff_pathways(used, fresh) == []
    assert migration_blockers(waiting.state(), used, fresh) == []
    assert diff_pathways(fresh, used) == []
