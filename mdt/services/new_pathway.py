"""A new pathway from nothing: a manager names it, and gets a draft to build in the browser.

The draft starts with a diagram of one lane, a start and an end (laid out, so the editor opens
it drawn), which the manager replaces or draws on; forms, decision tables, measures and the
profile are added beside it in the editor, the form designer and the table editor. Nothing
about the new pathway is written in Python.
"""

from __future__ import annotations

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import PathwayVersionModel
from mdt.services.actor import Actor
from mdt.services.errors import InvalidInputError
from mdt.services.pathway_drafts import KEY, save_draft

STARTER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" \
xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" \
id="Definitions_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="Collaboration_{pid}">
    <bpmn:participant id="Participant_{pid}" name="{title}" processRef="{pid}"/>
  </bpmn:collaboration>
  <bpmn:process id="{pid}" name="{title}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{pid}">
      <bpmn:lane id="Lane_nurse" name="Clinical nurse specialist">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>done</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Referred"><bpmn:outgoing>flow</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="done" name="Done"><bpmn:incoming>flow</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow" sourceRef="start" targetRef="done"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{pid}">
    <bpmndi:BPMNPlane id="Plane_{pid}" bpmnElement="Collaboration_{pid}">
      <bpmndi:BPMNShape id="Participant_{pid}_di" bpmnElement="Participant_{pid}" isHorizontal="true">
        <dc:Bounds x="100" y="60" width="600" height="200"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_nurse_di" bpmnElement="Lane_nurse" isHorizontal="true">
        <dc:Bounds x="130" y="60" width="570" height="200"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="200" y="142" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="done_di" bpmnElement="done"><dc:Bounds x="560" y="142" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_di" bpmnElement="flow">
        <di:waypoint x="236" y="160"/><di:waypoint x="560" y="160"/>
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def _escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def starter_diagram(key: str, title: str) -> bytes:
    """The first diagram of a new pathway: its process named after the key."""
    return STARTER.format(pid=key.replace("-", "_"), title=_escaped(title.strip())).encode()


def create_pathway(actor: Actor, key: str, title: str) -> PathwayVersionModel:
    """Use case: a new pathway ``key`` as a draft holding the starter diagram (committed by
    ``save_draft``). A key any version already has is refused: open that pathway's draft."""
    key = key.strip()
    if KEY.fullmatch(key) and db.session.scalar(
        select(PathwayVersionModel.id).where(PathwayVersionModel.key == key).limit(1)
    ):
        raise InvalidInputError(
            {"key": f"There is already a pathway '{key}': make a new draft of it from the list"}
        )
    name = f"{key.replace('-', '_')}.bpmn"
    return save_draft(actor, key, title, {name: starter_diagram(key, title)})
