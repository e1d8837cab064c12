"""Exceptions raised by the engine layer. Callers never see a SpiffWorkflow exception."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an uploaded pathway, pinned to where it is."""

    message: str
    file: str | None = None
    line: int | None = None
    element_id: str | None = None
    element_name: str | None = None
    # The shape's kind as people say it ("user task", "sequence flow", "process").
    element_type: str | None = None
    # The text the XSD validator or the engine wrote, when the message translates it.
    details: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.line:
            where.append(f"line {self.line}")
        if self.element_id:
            label = f"{self.element_id}"
            if self.element_name:
                label += f" ({self.element_name})"
            where.append(label)
        return f"{', '.join(where)}: {self.message}" if where else self.message


class EngineError(Exception):
    """Base class of everything the engine layer raises."""


class PathwayInvalidError(EngineError):
    """The BPMN or its forms cannot be accepted; ``problems`` says why and where."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class SandboxCompileError(EngineError):
    """A script or expression is not allowed by the sandbox (or is not Python)."""


class SandboxLimitError(EngineError):
    """A script asked for more than the sandbox allows (huge numbers, huge sequences)."""


class WorkflowRunError(EngineError):
    """Running the pathway failed: a script raised, a condition failed, a limit was hit."""

    def __init__(self, message: str, task_name: str | None = None):
        self.task_name = task_name
        super().__init__(message if not task_name else f"{message} (at {task_name})")


class ScriptTimeoutError(WorkflowRunError):
    """An engine run went past its wall-clock limit."""


class TaskNotReadyError(EngineError):
    """The task is not ready in this instance (already done, cancelled or unknown)."""


class MessageNotAcceptedError(EngineError):
    """The instance is not waiting for this message."""
