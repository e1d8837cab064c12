"""Comparing two versions of a pathway, and moving a running instance from one to the other.

Built on SpiffWorkflow's own diff (`SpiffWorkflow.bpmn.util.diff`) under its safe policy: an
instance may move only if none of its completed or started tasks is changed or removed in the
new version (an edit to something already done would rewrite history). Waiting timers are
armed again from the moment of migration; callers must say so to the person migrating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.util.diff import SpecDiff, diff_workflow, migrate_workflow

from workflows.errors import EngineError
from workflows.loader import CompiledPathway
from workflows.serialization import _SERIALIZER, load_state

# Attributes of a task spec that say nothing about what the task does.
_NOISE = frozenset({"inputs", "outputs", "bpmn_id"})
DONE = TaskState.COMPLETED | TaskState.STARTED


class MigrationRefusedError(EngineError):
    """The instance cannot move to the new version; ``reasons`` says why."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__("; ".join(reasons))


@dataclass(frozen=True)
class ElementChange:
    process: str
    element_id: str
    name: str | None
    change: str  # "added", "removed" or "changed"
    attributes: tuple[str, ...] = ()


def _is_diagram_element(spec: Any) -> bool:
    # SpiffWorkflow adds internal specs (Start, End, joins); people only drew the BPMN ones.
    return getattr(spec, "bpmn_id", None) is not None


def _settled(spec: Any) -> Any:
    """SpiffWorkflow wires a message-started event subprocess into its process's spec the
    first time one is triggered (``BpmnStartTask.trigger_wf``), so a compiled spec shared
    by many patients changes with their history. Comparing a spec that has seen a
    progression with one that has not would call the start and the event subprocess
    "changed" and refuse every patient. Make that same wiring up front (it is idempotent
    and changes nothing a running instance does) so a comparison never depends on history."""
    start = spec.start
    for name in getattr(start, "trigger_specs", ()):
        triggered = spec.task_specs.get(name)
        if triggered is not None and start not in triggered.inputs:
            start.connect(triggered)
            triggered.connect(spec.end)
    return spec


def _settle(*pathways: CompiledPathway) -> None:
    for pathway in pathways:
        for spec in [pathway.spec, *pathway.subprocess_specs.values()]:
            _settled(spec)


def _spec_changes(process: str, diff: SpecDiff) -> list[ElementChange]:
    changes = [
        ElementChange(process, s.bpmn_id, s.bpmn_name, "added")
        for s in diff.added
        if _is_diagram_element(s)
    ]
    changes += [
        ElementChange(process, s.bpmn_id, s.bpmn_name, "removed")
        for s in diff.removed
        if _is_diagram_element(s)
    ]
    for spec, attributes in diff.changed.items():
        meaningful = tuple(sorted(set(attributes) - _NOISE))
        if meaningful and _is_diagram_element(spec):
            now = diff.alignment.get(spec) or spec  # a renamed element goes by its new name
            changes.append(
                ElementChange(process, spec.bpmn_id, now.bpmn_name, "changed", meaningful)
            )
    return changes


def diff_pathways(old: CompiledPathway, new: CompiledPathway) -> list[ElementChange]:
    """Every element added, removed or changed from one version to the next, per process."""
    registry = _SERIALIZER.registry
    _settle(old, new)
    changes = _spec_changes(old.spec.name, SpecDiff(registry, old.spec, new.spec))
    for name in sorted(set(old.subprocess_specs) | set(new.subprocess_specs)):
        before, after = old.subprocess_specs.get(name), new.subprocess_specs.get(name)
        if before is not None and after is not None:
            changes += _spec_changes(name, SpecDiff(registry, before, after))
        elif after is not None:
            changes.append(ElementChange(name, name, getattr(after, "description", None), "added"))
        elif before is not None:
            changes.append(
                ElementChange(name, name, getattr(before, "description", None), "removed")
            )
    return changes


def _blocking(diff: Any, process: str) -> list[str]:
    reasons = []
    for task in [*diff.changed, *diff.removed]:
        spec = task.task_spec
        if task.state & DONE and _is_diagram_element(spec):
            what = "removed" if task in diff.removed else "changed"
            label = f"'{spec.bpmn_name}'" if spec.bpmn_name else spec.bpmn_id
            reasons.append(
                f"{label} ({spec.bpmn_id}) was already done and is {what} in the new version"
            )
    return reasons


def _plan(
    state: str, old: CompiledPathway, new: CompiledPathway
) -> tuple[Any, Any, dict[Any, Any], list[str]]:
    _settle(old, new)
    workflow = load_state(state, old.spec, old.subprocess_specs)
    if workflow.spec.name != new.spec.name:
        return (
            workflow,
            None,
            {},
            [f"the new version starts with process {new.spec.name}, not {workflow.spec.name}"],
        )
    top, subprocess_diffs = diff_workflow(
        _SERIALIZER.registry, workflow, new.spec, new.subprocess_specs
    )
    reasons = _blocking(top, new.spec.name)
    for sp_id, sp_diff in subprocess_diffs.items():
        subprocess = workflow.subprocesses[sp_id]
        if sp_diff is None:
            reasons.append(f"the called process {subprocess.spec.name} is not in the new version")
        else:
            reasons += _blocking(sp_diff, subprocess.spec.name)
    return workflow, top, subprocess_diffs, sorted(set(reasons))


def migration_blockers(state: str, old: CompiledPathway, new: CompiledPathway) -> list[str]:
    """Why this instance cannot move to ``new`` (empty: it can). Changes nothing."""
    return _plan(state, old, new)[3]


def migrated_workflow(
    state: str, old: CompiledPathway, new: CompiledPathway, script_engine: Any = None
) -> Any:
    """The instance's workflow on ``new`` (not yet advanced); raises MigrationRefusedError
    when it cannot move. Ready and waiting tasks are reset to be predicted again from the new
    version, so timers waiting in the instance start again from now: with ``script_engine``
    (the pathway's own, with its helpers), as a timer such as working_days_from_now(2) needs."""
    workflow, top, subprocess_diffs, reasons = _plan(state, old, new)
    if reasons:
        raise MigrationRefusedError(reasons)
    if script_engine is not None:
        workflow.script_engine = script_engine
    migrate_workflow(top, workflow, new.spec)
    for sp_id, sp_diff in subprocess_diffs.items():
        subprocess = workflow.subprocesses[sp_id]
        migrate_workflow(sp_diff, subprocess, new.subprocess_specs[subprocess.spec.name])
    workflow.subprocess_specs = new.subprocess_specs
    return workflow
