"""Small BPMN documents for engine tests, built from a one-line body."""

from __future__ import annotations

import itertools

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="Defs" targetNamespace="http://example.org/test">
"""

FORM = b'{"type": "object", "properties": {"ok": {"type": "boolean", "title": "OK"}}}'


def user_task(task_id: str = "task", name: str = "Do it") -> str:
    return f"""<bpmn:userTask id="{task_id}" name="{name}">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="f.json" />
      </spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>"""


def process(body: str, lanes: bool = True, extra: str = "") -> bytes:
    """A process whose elements are all in a CNS lane, flows added by the body."""
    import re

    ids = re.findall(
        r"<bpmn:(?:userTask|scriptTask|startEvent|endEvent|exclusiveGateway|"
        r'intermediateCatchEvent|manualTask|boundaryEvent|task(?= ))[^>]*id="([^"]+)"',
        body,
    )
    lane = ""
    if lanes:
        refs = "".join(f"<bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in ids)
        lane = (
            f'<bpmn:laneSet id="ls"><bpmn:lane id="lane" name="Clinical nurse specialist">'
            f"{refs}</bpmn:lane></bpmn:laneSet>"
        )
    return (
        HEAD + extra + f'<bpmn:process id="proc" isExecutable="true">{lane}{body}'
        "</bpmn:process></bpmn:definitions>"
    ).encode()


def chain(*elements: str) -> str:
    """Elements joined start -> e1 -> e2 ... -> end by sequence flows."""
    import re

    ids = ["start"] + [re.search(r'id="([^"]+)"', e).group(1) for e in elements] + ["end"]  # type: ignore[union-attr]
    flows = "".join(
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />'
        for i, (a, b) in enumerate(itertools.pairwise(ids))
    )
    return (
        '<bpmn:startEvent id="start" />' + "".join(elements) + '<bpmn:endEvent id="end" />' + flows
    )


def script(source: str, task_id: str = "script") -> str:
    from xml.sax.saxutils import escape

    return (
        f'<bpmn:scriptTask id="{task_id}" name="Script" scriptFormat="python">'
        f"<bpmn:script>{escape(source)}</bpmn:script></bpmn:scriptTask>"
    )
