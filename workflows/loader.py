"""Turn uploaded BPMN and form files into a validated, runnable pathway."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask as ManualTaskMixin
from SpiffWorkflow.bpmn.specs.mixins.none_task import NoneTask as NoneTaskMixin
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask as UserTaskMixin

from workflows.checking import check_pathway
from workflows.errors import PathwayInvalidError, Problem
from workflows.lint import (
    FORM_PROPERTY,
    NS,
    properties_of,
    split_codes,
)
from workflows.records import EventInfo
from workflows.xml_safety import DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class UserTaskInfo:
    """What the pathway says about one human task, read once from the spec."""

    process_id: str
    bpmn_id: str
    name: str
    lane: str | None
    role: str | None
    form: str | None
    standards: tuple[str, ...]
    due_working_days: int | None
    properties: dict[str, str]


@dataclass
class CompiledPathway:
    """A parsed, validated pathway: specs for the engine plus what the application reads."""

    process_id: str
    spec: Any
    subprocess_specs: dict[str, Any]
    forms: dict[str, Any]
    user_tasks: dict[tuple[str, str], UserTaskInfo]
    message_names: frozenset[str]
    sha256: str
    # Messages staff can record (they declare a form), by name.
    events: dict[str, EventInfo] = field(default_factory=dict)
    # The kind of episode a new instance starts in (the main process's ``episode`` property).
    first_episode: str = "start"

    def task_info(self, process_id: str, bpmn_id: str) -> UserTaskInfo | None:
        return self.user_tasks.get((process_id, bpmn_id))


def _digest(bpmn_files: Mapping[str, bytes], forms: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(bpmn_files):
        digest.update(name.encode() + b"\0" + bpmn_files[name] + b"\0")
    for name in sorted(forms):
        digest.update(name.encode() + b"\0" + forms[name] + b"\0")
    return digest.hexdigest()


def _user_tasks(
    specs: Iterable[Any],
    role_for_lane: Callable[[str], str | None],
) -> dict[tuple[str, str], UserTaskInfo]:
    infos = {}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if not isinstance(task_spec, UserTaskMixin | ManualTaskMixin | NoneTaskMixin):
                continue
            props = dict(task_spec.extensions.get("properties", {}))
            lane = task_spec.lane
            due = props.get("dueWorkingDays")
            infos[(spec.name, task_spec.bpmn_id)] = UserTaskInfo(
                process_id=spec.name,
                bpmn_id=task_spec.bpmn_id,
                name=task_spec.bpmn_name or task_spec.bpmn_id,
                lane=lane,
                role=props.get("role") or (role_for_lane(lane) if lane else None),
                form=props.get(FORM_PROPERTY),
                standards=split_codes(props.get("standards")),
                due_working_days=int(due) if due and due.isdigit() else None,
                properties=props,
            )
    return infos


def _message_names(specs: Iterable[Any]) -> frozenset[str]:
    names = set()
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(task_spec, CatchingEvent) and isinstance(
                definition, MessageEventDefinition
            ):
                names.add(definition.name)
    return frozenset(names)


def _events(trees: Mapping[str, etree._ElementTree]) -> dict[str, EventInfo]:
    """Messages that declare a form, read from the ``bpmn:message`` elements' properties.
    A message used by several files is declared with its form in one of them."""
    events = {}
    for tree in trees.values():
        for message in tree.getroot().xpath("./bpmn:message", namespaces=NS):
            props = properties_of(message)
            name = message.get("name") or message.get("id")
            if not props.get(FORM_PROPERTY) or not name:
                continue
            events[name] = EventInfo(
                name=name,
                label=props.get("label") or name.replace("_", " ").capitalize(),
                hint=props.get("hint", ""),
                form=props[FORM_PROPERTY],
                roles=split_codes(props.get("roles"), lower=True),
                episode=props.get("episode") or None,
                closes=props.get("closes") or None,
                date_field=props.get("episodeDateField") or props.get("closeDateField") or None,
            )
    return events


def _first_episode(trees: Mapping[str, etree._ElementTree], process_id: str) -> str:
    for tree in trees.values():
        for process in tree.getroot().xpath("./bpmn:process", namespaces=NS):
            if process.get("id") == process_id:
                return properties_of(process).get("episode") or "start"
    return "start"


def compile_pathway(
    bpmn_files: Mapping[str, bytes],
    forms: Mapping[str, bytes],
    *,
    role_for_lane: Callable[[str], str | None],
    known_roles: Iterable[str],
    known_standards: Iterable[str] | None = None,
    process_id: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timer_helpers: Iterable[str] | Mapping[str, Callable[..., Any]] = (),
    lint: bool = True,
) -> CompiledPathway:
    """Validate everything (XSD, engine parse, project lint) and return a runnable pathway.

    Raises PathwayInvalidError with every problem found, all in one round, each naming file,
    line and the shape it is about (``checking.py``).
    ``lint=False`` skips the project's own checks (and forms that are not valid JSON Schema),
    for a test run that shows where the problems they find would stop a patient: never
    publish what it returns.
    """
    if not bpmn_files:
        raise PathwayInvalidError([Problem("No BPMN file given.")])
    checked = check_pathway(
        bpmn_files,
        forms,
        role_for_lane=role_for_lane,
        known_roles=known_roles,
        known_standards=known_standards,
        process_id=process_id,
        max_bytes=max_bytes,
        timer_helpers=timer_helpers,
        lint=lint,
    )
    trees, schemas, main = checked.trees, checked.forms, checked.process_id
    spec, subprocess_specs = checked.spec, checked.subprocess_specs
    all_specs = [spec, *subprocess_specs.values()]
    return CompiledPathway(
        process_id=main,
        spec=spec,
        subprocess_specs=subprocess_specs,
        forms=schemas,
        user_tasks=_user_tasks(all_specs, role_for_lane),
        message_names=_message_names(all_specs),
        sha256=_digest(bpmn_files, forms),
        events=_events(trees),
        first_episode=_first_episode(trees, main),
    )
