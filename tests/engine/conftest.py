"""Engine tests run without Flask or a database: the autouse database fixture is replaced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workflows import CompiledPathway, PathwayEngine, compile_pathway
from workflows.sandbox import default_helpers

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
ROLES = {"cns", "oncologist", "coordinator", "palliative", "manager"}
LANES = {
    "clinical nurse specialist": "cns",
    "cns (key worker)": "cns",
    "oncologist": "oncologist",
    "mdt coordinator": "coordinator",
    "palliative care team": "palliative",
    "service manager": "manager",
}


@pytest.fixture(autouse=True)
def _clean_database() -> Iterator[None]:
    yield


def read_dir(directory: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    bpmn = {p.name: p.read_bytes() for p in sorted(directory.glob("*.bpmn"))}
    forms = {p.name: p.read_bytes() for p in sorted((directory / "forms").glob("*.json"))}
    return bpmn, forms


def compile_dir(directory: Path, **kwargs: object) -> CompiledPathway:
    bpmn, forms = read_dir(directory)
    return compile_bpmn(bpmn, forms, **kwargs)


def compile_bpmn(
    bpmn: dict[str, bytes], forms: dict[str, bytes] | None = None, **kwargs: object
) -> CompiledPathway:
    return compile_pathway(
        bpmn,
        forms or {},
        role_for_lane=lambda lane: LANES.get(lane.lower()),
        known_roles=ROLES,
        timer_helpers=("working_days_from_now",),
        **kwargs,
    )  # type: ignore[arg-type]


def working_days_from_now(days: int) -> str:
    """The app's timer helper: the end of the n-th working day from the run's instant."""
    from mdt.services.calendar import add_working_days
    from workflows.clock import run_now

    return add_working_days(run_now(), int(days)).isoformat()


def make_engine(pathway: CompiledPathway, **kwargs: object) -> PathwayEngine:
    helpers = {**default_helpers(), "working_days_from_now": working_days_from_now}
    return PathwayEngine(pathway, helpers=helpers, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def tiny() -> CompiledPathway:
    return compile_dir(FIXTURES / "tiny")


@pytest.fixture
def real_pathway() -> CompiledPathway:
    return compile_dir(ROOT / "bpmn")
