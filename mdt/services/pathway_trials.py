"""Test runs: synthetic patients through a pathway before it is published.

Publishing a version first runs synthetic patients through it in the sandbox
(``workflows.run_trial``): a patient past the State Pension age and one of working age,
every form answered each way that can change a path, timers fired, every event the
pathway waits for recorded. Errors (a run-time error, a task no role can complete, a
patient left waiting with nothing to move them on, an element nothing leads to, a
condition on data nothing sets) refuse the publish; warnings (an element or branch no test
patient reached) need the manager's confirmation. A draft the checks refuse is still run
(without them) so that each problem is shown with the path of a patient it would stop.

The run takes seconds on a pathway like ours (about ten for the shipped one, on two
cores), so its report is kept, per process, for the same files on the same day.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from mdt import clock
from mdt.models import PathwayVersionModel
from mdt.models.roles import TASK_ROLES, Role, role_for_lane
from mdt.services.actor import Actor
from mdt.services.episodes import CONTEXT_KEYS
from mdt.services.errors import (
    PathwayRejectedError,
    PathwayWarningsError,
    PermissionDeniedError,
)
from mdt.services.measures import MEASURES_FILE
from mdt.services.pathways import (
    TIMER_HELPERS,
    _pathway_helpers,
    closures,
    compile_files,
    get_version,
    publish_files,
    version_files,
)
from mdt.services.profiles import PROFILE_FILE
from mdt.services.settings import setting
from workflows import (
    CompiledPathway,
    PathwayInvalidError,
    TrialBudget,
    TrialReport,
    compile_pathway,
    run_trial,
)

ERROR, WARNING = "error", "warning"
_log = logging.getLogger(__name__)
_CACHE_SIZE = 8
_cache_lock = threading.Lock()
_cache: OrderedDict[tuple[Any, ...], TrialResult] = OrderedDict()


@dataclass(frozen=True)
class TrialResult:
    """A pathway's checks and test run together: every problem, with its severity and the
    path that reached it, and what the test patients reached."""

    problems: list[dict[str, Any]]
    report: TrialReport | None
    compiled: CompiledPathway | None = field(default=None, compare=False)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [p for p in self.problems if p["severity"] == ERROR]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [p for p in self.problems if p["severity"] == WARNING]

    @property
    def passed(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        report = self.report
        return {
            "passed": self.passed,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": self.problems,
            "reached": dict(report.reached) if report else {},
            "failed": dict(report.failed) if report else {},
            "coverage": asdict(report.coverage) if report else None,
            "patients": report.patients if report else 0,
            "steps": report.steps if report else 0,
            "seconds": report.seconds if report else 0.0,
            "complete": report.complete if report else False,
        }

    def summary(self) -> dict[str, Any]:
        """What the audit trail keeps of it."""
        report = self.report
        return {
            "coverage": report.coverage.describe() if report else None,
            "patients": report.patients if report else 0,
            "seconds": report.seconds if report else 0.0,
            "warnings": [f"{p['element_name'] or ''}: {p['message']}" for p in self.warnings],
        }


def synthetic_patients(first_episode: str, today: date) -> list[tuple[str, dict[str, Any]]]:
    """The starting data of the test patients, as a registration gives it: one past the
    State Pension age, one of working age."""
    local = dict(setting("MDT_PATHWAY_SETTINGS"))  # type: ignore[call-overload]
    patients = []
    for age in (80, 45):
        patients.append(
            (
                f"a patient of {age}",
                {
                    "patient_id": 0,
                    "patient_age": age,
                    "patient_birth_date": date(today.year - age, 1, 1).isoformat(),
                    "episode": {"id": 1, "kind": first_episode},
                    "local_settings": local,
                },
            )
        )
    return patients


def trial_files(
    bpmn: dict[str, bytes], forms: dict[str, bytes], process_id: str | None = None
) -> TrialResult:
    """Check a pathway's files and run the test patients through them."""
    today = clock.today()
    key = (
        tuple(
            sorted(
                (name, hashlib.sha256(content).hexdigest())
                for name, content in {**bpmn, **forms}.items()
            )
        ),
        process_id,
        today,
        repr(setting("MDT_PATHWAY_SETTINGS")),
        repr(closures()),
        setting("MDT_ENGINE_TIME_LIMIT"),
        setting("MDT_TEST_RUN_SECONDS"),
    )
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    result = _run(bpmn, forms, process_id, today)
    if result.report is None and result.compiled is not None:
        return result  # the run itself failed: try again next time
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _run(
    bpmn: dict[str, bytes], forms: dict[str, bytes], process_id: str | None, today: date
) -> TrialResult:
    problems: list[dict[str, Any]] = []
    compiled: CompiledPathway | None = None
    runnable: CompiledPathway | None = None
    try:
        compiled = runnable = compile_files(bpmn, forms, process_id)
    except PathwayInvalidError as error:
        problems.extend(
            {**asdict(p), "severity": ERROR, "kind": "invalid", "path": []} for p in error.problems
        )
        runnable = _compile_unchecked(bpmn, forms, process_id)
    if runnable is None:
        return TrialResult(problems, None, None)
    try:
        report = run_trial(
            runnable,
            bpmn,
            patients=synthetic_patients(runnable.first_episode, today),
            start_at=clock.local_now(),
            known_roles=[role.value for role in TASK_ROLES],
            helpers=_pathway_helpers(closures()),
            time_limit_seconds=float(setting("MDT_ENGINE_TIME_LIMIT")),  # type: ignore[arg-type]
            context_keys=CONTEXT_KEYS,
            budget=TrialBudget(max_seconds=float(setting("MDT_TEST_RUN_SECONDS"))),  # type: ignore[arg-type]
        )
    except Exception:  # the test run's own failure must not stop the manager's work
        _log.exception("The test run failed")
        problems.append(
            {
                "message": "The test run could not be finished (the error is in the server's "
                "log), so this version was not tested with synthetic patients.",
                "file": None,
                "line": None,
                "element_id": None,
                "element_name": None,
                "severity": WARNING,
                "kind": "budget",
                "path": [],
            }
        )
        return TrialResult(problems, None, compiled)
    problems.extend(
        {
            "message": p.message,
            "file": p.file,
            "line": p.line,
            "element_id": p.element_id,
            "element_name": p.element_name,
            "severity": p.severity,
            "kind": p.kind,
            "path": list(p.path),
        }
        for p in report.problems
    )
    return TrialResult(problems, report, compiled)


def _compile_unchecked(
    bpmn: dict[str, bytes], forms: dict[str, bytes], process_id: str | None
) -> CompiledPathway | None:
    """The pathway as the engine would run it without the project's checks (to show where
    what they refuse would stop a patient); None when the engine cannot run it at all."""
    try:
        return compile_pathway(
            bpmn,
            {n: c for n, c in forms.items() if n not in (MEASURES_FILE, PROFILE_FILE)},
            role_for_lane=role_for_lane,
            known_roles=[role.value for role in TASK_ROLES],
            process_id=process_id,
            max_bytes=int(setting("MDT_BPMN_MAX_BYTES")),  # type: ignore[call-overload]
            timer_helpers=TIMER_HELPERS,
            lint=False,
        )
    except PathwayInvalidError:
        return None


def trial_version(actor: Actor, version_id: int) -> TrialResult:
    """The test run of a stored version (a draft before publishing, or any other)."""
    if not actor.has_role(Role.MANAGER):
        raise PermissionDeniedError("Only service managers test pathways.")
    version = get_version(version_id)
    # A draft's process_id is the manager's choice of starting process, if any (as
    # publishing reads it); a published version's, the one its patients start on.
    return trial_files(*version_files(version), version.process_id or None)


def require_passed(result: TrialResult, confirm_warnings: bool) -> None:
    """Refuse what the test run refuses: errors always, warnings unless confirmed."""
    if result.errors:
        raise PathwayRejectedError(result.problems, result.as_dict())
    if result.warnings and not confirm_warnings:
        raise PathwayWarningsError(result.problems, result.as_dict())


def publish_tested_files(
    actor: Actor,
    key: str,
    title: str,
    bpmn: dict[str, bytes],
    forms: dict[str, bytes],
    confirm_warnings: bool = False,
) -> tuple[PathwayVersionModel, TrialResult]:
    """Test-run a pathway's files and publish them if it passes (``flask mdt load-pathway``)."""
    result = trial_files(bpmn, forms)
    require_passed(result, confirm_warnings)
    return publish_files(actor, key, title, bpmn, forms, test_run=result.summary()), result
