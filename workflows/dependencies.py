"""What each human task waits for, read from the diagrams: the tasks, events and times that
must come before it can start.

Walks the sequence flows backwards from each user task, through gateways, scripts and throw
events, out of embedded subprocesses to what starts them, and out of a called process to what
comes before each call of it, and stops at what a person or the outside world does: another
human task, a message or signal caught, a timer, or the start of the pathway. Docs and tests
use it to show, and to prove, that no track of care waits for another.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lxml import etree

from workflows.lint import HUMAN_TASKS, NS, local

EVENT_KINDS = {
    "messageEventDefinition": "message",
    "timerEventDefinition": "timer",
    "signalEventDefinition": "signal",
}


@dataclass(frozen=True, order=True)
class Waits:
    """One thing a task can wait for: ``kind`` is task, message, timer, signal or start."""

    kind: str
    name: str
    process_id: str
    element_id: str

    def describe(self) -> str:
        return {
            "task": self.name,
            "message": f"event recorded: {self.name}",
            "timer": f"time: {self.name}",
            "signal": f"signal: {self.name}",
            "start": "the pathway starts",
        }[self.kind]


class _Index:
    def __init__(self, roots: list[etree._Element]):
        self.nodes: dict[str, etree._Element] = {}
        self.incoming: dict[str, list[etree._Element]] = {}
        self.callers: dict[str, list[etree._Element]] = {}
        self.process_of: dict[str, str] = {}
        for root in roots:
            for process in root.xpath("./bpmn:process", namespaces=NS):
                self._index(process, str(process.get("id")))

    def _index(self, process: etree._Element, process_id: str) -> None:
        for element in process.iter(etree.Element):
            element_id = element.get("id")
            kind = local(element)
            if kind == "sequenceFlow":
                self.incoming.setdefault(str(element.get("targetRef")), []).append(element)
            elif element_id:
                self.nodes[element_id] = element
                self.process_of[element_id] = process_id
            if kind == "callActivity" and element.get("calledElement"):
                self.callers.setdefault(str(element.get("calledElement")), []).append(element)


def _event_kind(element: etree._Element) -> str | None:
    for child in element:
        if isinstance(child.tag, str) and local(child) in EVENT_KINDS:
            return EVENT_KINDS[local(child)]
    return None


def _label(element: etree._Element) -> str:
    return str(element.get("name") or element.get("id"))


def _before(index: _Index, element: etree._Element, seen: set[str]) -> Iterator[Waits]:
    """What comes directly before ``element`` and is done by a person or the world."""
    for flow in index.incoming.get(str(element.get("id")), []):
        source = index.nodes.get(str(flow.get("sourceRef")))
        if source is not None:
            yield from _through(index, source, seen)


def _through(index: _Index, element: etree._Element, seen: set[str]) -> Iterator[Waits]:
    element_id = str(element.get("id"))
    if element_id in seen:
        return
    seen.add(element_id)
    kind, process_id = local(element), index.process_of[element_id]
    event = _event_kind(element)
    if kind in HUMAN_TASKS:
        yield Waits("task", _label(element), process_id, element_id)
    elif kind in ("intermediateCatchEvent", "boundaryEvent") and event:
        name = _label(element)
        if kind == "boundaryEvent":
            host = index.nodes.get(str(element.get("attachedToRef")))
            name = f"{name} ({_label(host)})" if host is not None else name
        yield Waits(event, name, process_id, element_id)
    elif kind == "startEvent":
        yield from _before_start(index, element, event, seen)
    else:  # gateways, scripts, throw events, called processes: look further back
        yield from _before(index, element, seen)


def _before_start(
    index: _Index, start: etree._Element, event: str | None, seen: set[str]
) -> Iterator[Waits]:
    start_id = str(start.get("id"))
    if event:
        yield Waits(event, _label(start), index.process_of[start_id], start_id)
        return
    container = start.getparent()
    if container is not None and local(container) == "subProcess":
        yield from _before(index, container, seen)
        return
    process_id = index.process_of[start_id]
    calls = index.callers.get(process_id, [])
    if not calls:
        yield Waits("start", _label(start), process_id, start_id)
    for call in calls:
        yield from _before(index, call, seen)


def prerequisites(roots: list[etree._Element]) -> dict[tuple[str, str], tuple[Waits, ...]]:
    """For every human task, keyed by (process id, task id): what it waits for (any one)."""
    index = _Index(roots)
    result = {}
    for element_id, element in index.nodes.items():
        if local(element) in HUMAN_TASKS:
            found = set(_before(index, element, {element_id}))
            result[(index.process_of[element_id], element_id)] = tuple(sorted(found))
    return result


def prerequisites_of_files(files: Mapping[str, bytes]) -> dict[tuple[str, str], tuple[Waits, ...]]:
    from workflows.xml_safety import parse_untrusted_xml

    return prerequisites(
        [
            parse_untrusted_xml(raw, name).getroot()
            for name, raw in files.items()
            if not name.endswith(".dmn")  # decision tables have no tasks
        ]
    )


def upstream_tasks(files: Mapping[str, bytes]) -> dict[str, frozenset[str]]:
    """For every human task id, every human task that comes before it, however far back
    (what must be done first for it to start). A task waiting on a time, a signal or a
    message has nothing upstream of that wait."""
    direct: dict[str, set[str]] = {}
    for (_, task_id), found in prerequisites_of_files(files).items():
        direct.setdefault(task_id, set()).update(w.element_id for w in found if w.kind == "task")
    result = {}
    for task_id in direct:
        seen: set[str] = set()
        stack = [task_id]
        while stack:
            for before in direct.get(stack.pop(), ()):
                if before not in seen:
                    seen.add(before)
                    stack.append(before)
        result[task_id] = frozenset(seen - {task_id})
    return result
