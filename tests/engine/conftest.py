"""Engine tests run without Flask or a database: the autouse database fixture is replaced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mdt.services.episodes import CONTEXT_KEYS
from mdt.services.pathways import TIMER_HELPERS, _pathway_helpers
from workflows import CompiledPathway, PathwayEngine, compile_pathway

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
    bpmn.update({p.name: p.read_bytes() for p in sorted(directory.glob("*.dmn"))})
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
        timer_helpers=TIMER_HELPERS,
        **kwargs,
    )  # type: ignore[arg-type]


def make_engine(pathway: CompiledPathway, **kwargs: object) -> PathwayEngine:
    """An engine as the application builds one: its helpers (working days, dates from forms)
    and the episode every task reports; no local closures."""
    options = {"helpers": _pathway_helpers([]), "context_keys": CONTEXT_KEYS, **kwargs}
    return PathwayEngine(pathway, **options)  # type: ignore[arg-type]


@pytest.fixture
def tiny() -> CompiledPathway:
    return compile_dir(FIXTURES / "tiny")


@pytest.fixture
def real_pathway() -> CompiledPathway:
    return compile_dir(ROOT / "bpmn")
