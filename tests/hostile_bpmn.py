"""Hostile pathways for the isolation and no-stranded-patient tests: a nurse's task, then one
hostile element, then a task that shows whether the pathway got past it."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from mdt.models import PathwayVersionModel
from mdt.services.actor import SYSTEM, Actor
from mdt.services.pathways import publish_files

from .helpers import new_patient, ready_task, start_on

FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Wound assessment",
    "type": "object",
    "required": ["size_cm"],
    "properties": {
        "size_cm": {"type": "integer", "title": "Wound size (cm)", "minimum": 0, "maximum": 50}
    },
}
ASSESS = "Assess the wound"
AFTER = "Review the wound"


def _user_task(task_id: str, name: str, extra: str = "", documentation: str = "") -> str:
    doc = (
        f"<bpmn:documentation>{escape(documentation)}</bpmn:documentation>" if documentation else ""
    )
    return f"""<bpmn:userTask id="{task_id}" name="{escape(name)}">{doc}
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="assess.schema.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>{extra}
    </bpmn:userTask>"""


def script(source: str) -> str:
    """A script task between the two tasks."""
    return f"""<bpmn:scriptTask id="x" name="Hostile step" scriptFormat="python">
      <bpmn:script>{escape(source)}</bpmn:script>
    </bpmn:scriptTask>"""


def timer(expression: str) -> str:
    """A timer between the two tasks."""
    return f"""<bpmn:intermediateCatchEvent id="x" name="Wait">
      <bpmn:timerEventDefinition id="x_timer">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{escape(expression)}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>"""


def user_task(name: str = AFTER, documentation: str = "", cardinality: str | None = None) -> str:
    """A second user task in place of the hostile element (a long name, Jinja instructions,
    a repeated task)."""
    loop = (
        "<bpmn:multiInstanceLoopCharacteristics>"
        f'<bpmn:loopCardinality xsi:type="bpmn:tFormalExpression">{cardinality}'
        "</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"
        if cardinality
        else ""
    )
    return _user_task("x", name, loop, documentation)


def pathway_files(
    element: str,
    key: str,
    setup: str | None = None,
    then: str | None = None,
    after_documentation: str = "",
) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """``setup``: a script run before the hostile element (values it uses, out of the
    lint's sight); ``then``: a script run after it; ``after_documentation``: the last task's
    instructions."""
    if then:
        element += f"""<bpmn:scriptTask id="then" name="Then" scriptFormat="python">
      <bpmn:script>{escape(then)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f_then" sourceRef="then" targetRef="after" />"""
    if setup:
        element = (
            f"""<bpmn:scriptTask id="setup" name="Set up" scriptFormat="python">
      <bpmn:script>{escape(setup)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f_setup" sourceRef="setup" targetRef="x" />"""
            + element
        )
    bpmn = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="Definitions_{key}" targetNamespace="http://example.org/test">
  <bpmn:process id="{key.replace("-", "_")}" name="Hostile" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_nurse" name="CNS">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>assess</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>x</bpmn:flowNodeRef>{"<bpmn:flowNodeRef>setup</bpmn:flowNodeRef>" if setup else ""}{"<bpmn:flowNodeRef>then</bpmn:flowNodeRef>" if then else ""}
        <bpmn:flowNodeRef>after</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>done</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    {_user_task("assess", ASSESS)}
    {element}
    {_user_task("after", AFTER if 'name="' + AFTER + '"' not in element else "Last", "", after_documentation)}
    <bpmn:endEvent id="done" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="assess" />
    <bpmn:sequenceFlow id="f2" sourceRef="assess" targetRef="{"setup" if setup else "x"}" />
    <bpmn:sequenceFlow id="f3" sourceRef="x" targetRef="{"then" if then else "after"}" />
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""
    return {f"{key}.bpmn": bpmn.encode()}, {"assess.schema.json": json.dumps(FORM).encode()}


def publish_hostile(
    element: str, key: str, setup: str | None = None, **more: Any
) -> PathwayVersionModel:
    bpmn, forms = pathway_files(element, key, setup, **more)
    return publish_files(SYSTEM, key, "Hostile", bpmn, forms)


def patient_at_first_task(actor: Actor, key: str, index: int = 0) -> Any:
    """A patient on pathway ``key`` whose first task is ready: (patient, task)."""
    patient = new_patient(actor, index, start=False)
    start_on(actor, patient, key)
    return patient, ready_task(patient.id, ASSESS)
