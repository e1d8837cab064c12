"""The engine layer: SpiffWorkflow behind a small facade.

Nothing here knows about Flask, SQLAlchemy, the application or any one clinical
pathway. The application hands in BPMN and form files and gets back plain data.
"""

from workflows.deciding import Decided, decision_tasks
from workflows.dependencies import upstream_tasks
from workflows.engine import PathwayEngine, PathwayRun
from workflows.errors import (
    EngineError,
    MessageNotAcceptedError,
    PathwayInvalidError,
    Problem,
    ScriptTimeoutError,
    TaskNotReadyError,
    WorkflowRunError,
)
from workflows.loader import CompiledPathway, UserTaskInfo, compile_pathway
from workflows.migration import (
    ElementChange,
    MigrationRefusedError,
    diff_pathways,
    migration_blockers,
)
from workflows.records import EventInfo, PendingTimer, ReadyTask
from workflows.serialization import STATE_FORMAT, decode_state, encode_state
from workflows.templating import render_text
from workflows.trial_run import Coverage, TrialBudget, TrialProblem, TrialReport, run_trial

__all__ = [
    "STATE_FORMAT",
    "CompiledPathway",
    "Coverage",
    "Decided",
    "ElementChange",
    "EngineError",
    "EventInfo",
    "MessageNotAcceptedError",
    "MigrationRefusedError",
    "PathwayEngine",
    "PathwayInvalidError",
    "PathwayRun",
    "PendingTimer",
    "Problem",
    "ReadyTask",
    "ScriptTimeoutError",
    "TaskNotReadyError",
    "TrialBudget",
    "TrialProblem",
    "TrialReport",
    "UserTaskInfo",
    "WorkflowRunError",
    "compile_pathway",
    "decision_tasks",
    "decode_state",
    "diff_pathways",
    "encode_state",
    "migration_blockers",
    "render_text",
    "run_trial",
    "upstream_tasks",
]
