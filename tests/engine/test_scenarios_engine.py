"""The five synthetic patients through the bare engine (no Flask, no database)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from mdt.models.standards import STANDARDS
from mdt.services.demo import example_answers
from workflows import CompiledPathway, PathwayRun

from ..scenarios import SCENARIOS, Step
from ..timing import INSTANTS, at
from .conftest import make_engine

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend


class EngineDriver:
    def __init__(self, pathway: CompiledPathway):
        self.pathway = pathway
        self.run: PathwayRun = make_engine(pathway).start({"patient_id": 1, "patient_age": 58})
        self.evidenced: set[str] = set()
        self.recorded: dict[str, dict[str, Any]] = {}

    def ready(self) -> dict[str, tuple[str | None, int | None]]:
        return {t.name: (t.role, t.due_working_days) for t in self.run.ready_tasks()}

    def do(self, name: str, answers: dict[str, Any]) -> None:
        [task] = [t for t in self.run.ready_tasks() if t.name == name]
        data = {**example_answers(self.pathway.forms[task.form]), **answers}
        self.run.complete_task(task.id, data)
        self.evidenced.update(task.standards)
        self.recorded[name] = data

    def step(self, step: Step) -> None:
        kind, *args = step
        if kind == "ready":
            assert self.ready() == args[0]
        elif kind == "do":
            self.do(*args)
        elif kind == "event":
            self.run.send_message(*args)
        elif kind == "close":
            self.run.cancel()
        elif kind == "timer":
            assert self.run.pending_timers(), "a timer should be waiting"
        self.run = make_engine(self.pathway).restore(self.run.state())  # as if saved


@pytest.mark.parametrize("instant", INSTANTS.values(), ids=list(INSTANTS))
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_through_the_engine(
    real_pathway: CompiledPathway, name: str, instant: datetime
) -> None:
    with at(instant):
        driver = EngineDriver(real_pathway)
        for step in SCENARIOS[name]:
            driver.step(step)


def test_together_the_scenarios_evidence_every_standard(real_pathway: CompiledPathway) -> None:
    evidenced: set[str] = set()
    for steps in SCENARIOS.values():
        driver = EngineDriver(real_pathway)
        for step in steps:
            driver.step(step)
        evidenced |= driver.evidenced
    # Codes come from the diagrams' task properties, not from a list kept here.
    assert evidenced == set(STANDARDS)


def test_every_standard_is_carried_by_some_task(real_pathway: CompiledPathway) -> None:
    carried = {code for info in real_pathway.user_tasks.values() for code in info.standards}
    assert carried == set(STANDARDS)
