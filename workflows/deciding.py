"""What one of a pathway's business rule tasks decides on answers already given, without
running an instance: the MDT list shows what the pathway's own decision table makes of a
stored needs assessment, so no threshold is written twice (once in the table, once for the
screen). The table runs as the business rule task runs it (SpiffWorkflow's DMN engine, every
expression in the sandbox, under the engine's time limit); its pre- and post-scripts do not
run, and nothing is stored.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from workflows.dmn import _TrialTask
from workflows.errors import EngineError, ScriptTimeoutError, WorkflowRunError
from workflows.lint import FORM_PROPERTY
from workflows.loader import CompiledPathway
from workflows.sandbox import SandboxInterrupt, time_limit


@dataclass(frozen=True)
class Decided:
    """What a decision table decided for one set of answers."""

    outputs: dict[str, Any]  # as the business rule task would add them to the task's data
    rules: tuple[str, ...]  # each matching rule's description (or "Rule n"), in table order


def _task_specs(pathway: CompiledPathway) -> Iterable[Any]:
    for spec in (pathway.spec, *pathway.subprocess_specs.values()):
        yield from spec.task_specs.values()


def decision_tasks(pathway: CompiledPathway) -> frozenset[str]:
    """The bpmn ids of the pathway's business rule tasks that apply a decision table."""
    return frozenset(s.bpmn_id for s in _task_specs(pathway) if _table(s) is not None)


def _table(spec: Any) -> Any:
    """A business rule task's DMN engine (None: not one, or one run by scripts alone)."""
    return getattr(spec, "dmnEngine", None)


def _answers_variable(pathway: CompiledPathway, form: str) -> str | None:
    """The data variable a user task with ``form`` files its answers under (variableName)."""
    for spec in _task_specs(pathway):
        props = getattr(spec, "extensions", {}).get("properties", {})
        if props.get(FORM_PROPERTY) == form and getattr(spec, "variable", None):
            return str(spec.variable)
    return None


def decide(
    pathway: CompiledPathway,
    script_engine: PythonScriptEngine,
    task_id: str,
    form: str,
    cases: Sequence[Mapping[str, Any]],
    seconds: float,
) -> list[Decided]:
    """What the business rule task ``task_id``'s table decides for each of ``cases`` (answers
    to ``form``, filed where the form's user task files them). EngineError when no such task."""
    spec = next(
        (s for s in _task_specs(pathway) if s.bpmn_id == task_id and _table(s) is not None),
        None,
    )
    if spec is None:
        raise EngineError(f"The pathway has no business rule task '{task_id}'.")
    variable = _answers_variable(pathway, form)
    name = spec.bpmn_name or task_id
    table = spec.dmnEngine
    found = []
    try:
        with time_limit(seconds):
            for answers in cases:
                data = copy.deepcopy({variable: dict(answers)} if variable else dict(answers))
                task = _TrialTask(data, script_engine, name)
                matched = table.decide(task)
                rules = tuple(
                    r.description or f"Rule {table.decision_table.rules.index(r) + 1}"
                    for r in matched
                )
                found.append(Decided(table.result(task), rules))
    except SandboxInterrupt:
        raise ScriptTimeoutError("The decision table took too long", name) from None
    except Exception as error:  # the DMN engine wraps every sandbox failure
        raise WorkflowRunError(f"The decision table failed: {str(error)[:300]}", name) from None
    return found
