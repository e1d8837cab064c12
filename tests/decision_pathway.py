"""The tiny wound-care pathway with its severity rule in a decision table instead of a script,
for the tests of decision tables through the services, the web and the browser."""

from __future__ import annotations

from typing import Any

from mdt.services.actor import SYSTEM
from mdt.services.pathways import publish_files, read_pathway_directory

from .conftest import FIXTURES

KEY = "wound-decisions"
TABLE = "wound_severity.dmn"
SCRIPT = (
    '<bpmn:scriptTask id="score" name="Score severity" scriptFormat="python">\n'
    "      <bpmn:incoming>f2</bpmn:incoming>\n"
    "      <bpmn:outgoing>f3</bpmn:outgoing>\n"
    '      <bpmn:script>severity = "high" if assessment["size_cm"] &gt;= 5 else "low"</bpmn:script>\n'
    "    </bpmn:scriptTask>"
)
RULE_TASK = (
    '<bpmn:businessRuleTask id="score" name="Score severity">\n'
    "      <bpmn:extensionElements>\n"
    "        <spiffworkflow:calledDecisionId>wound_severity</spiffworkflow:calledDecisionId>\n"
    "      </bpmn:extensionElements>\n"
    "      <bpmn:incoming>f2</bpmn:incoming>\n"
    "      <bpmn:outgoing>f3</bpmn:outgoing>\n"
    "    </bpmn:businessRuleTask>"
)


def severity_table(threshold: int = 5) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" id="wound_definitions" name="Wound severity" namespace="http://example.org/dmn">
  <decision id="wound_severity" name="Wound severity">
    <decisionTable id="wound_severity_table" hitPolicy="FIRST">
      <input id="size" label="Wound size (cm)">
        <inputExpression id="size_expr" typeRef="integer">
          <text>assessment["size_cm"]</text>
        </inputExpression>
      </input>
      <output id="severity_out" label="Severity" name="severity" typeRef="string" />
      <rule id="large">
        <description>Large wounds are reviewed by an oncologist</description>
        <inputEntry id="large_size">
          <text>&gt;= {threshold}</text>
        </inputEntry>
        <outputEntry id="large_severity">
          <text>"high"</text>
        </outputEntry>
      </rule>
      <rule id="otherwise">
        <inputEntry id="otherwise_size">
          <text>-</text>
        </inputEntry>
        <outputEntry id="otherwise_severity">
          <text>"low"</text>
        </outputEntry>
      </rule>
    </decisionTable>
  </decision>
  <dmndi:DMNDI>
    <dmndi:DMNDiagram id="wound_diagram">
      <dmndi:DMNShape id="wound_shape" dmnElementRef="wound_severity">
        <dc:Bounds height="80" width="180" x="160" y="100" />
      </dmndi:DMNShape>
    </dmndi:DMNDiagram>
  </dmndi:DMNDI>
</definitions>
""".encode()


def decision_files(threshold: int = 5) -> tuple[dict[str, bytes], dict[str, bytes]]:
    bpmn, forms = read_pathway_directory(FIXTURES / "tiny")
    diagram = bpmn["wound_care.bpmn"].decode()
    assert SCRIPT in diagram
    bpmn["wound_care.bpmn"] = diagram.replace(SCRIPT, RULE_TASK).encode()
    bpmn[TABLE] = severity_table(threshold)
    return bpmn, forms


def publish_decision_pathway(threshold: int = 5) -> Any:
    bpmn, forms = decision_files(threshold)
    return publish_files(SYSTEM, KEY, "Wound care with a decision table", bpmn, forms)
