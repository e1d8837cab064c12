"""The synthetic patients through the bare engine (no Flask, no database)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory

from mdt.models.standards import STANDARDS
from mdt.services.demo import example_answers
from workflows import CompiledPathway, PathwayRun

from ..scenarios import BIRTH_DATES, DEFAULT_BIRTH_DATE, SCENARIOS, Step, resolve
from ..timing import INSTANTS, at
from .conftest import make_engine

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend


class EngineDriver:
    def __init__(self, pathway: CompiledPathway, clock: FrozenDateTimeFactory, born: str):
        self.pathway, self.clock = pathway, clock
        self.episodes = 1
        self.run: PathwayRun = make_engine(pathway).start(
            {
                "patient_id": 1,
                "patient_age": 60,
                "patient_birth_date": born,
                "episode": {"id": 1, "kind": "diagnosis"},
                "local_settings": {"pension_age": 66},
            }
        )
        self.evidenced: set[str] = set()

    @property
    def today(self) -> date:
        from mdt import clock

        return clock.today()

    def check_ready(self, expected: dict[str, tuple[str, int]]) -> None:
        shown = sorted((t.name, t.role, t.due_working_days) for t in self.run.ready_tasks())
        assert shown == sorted((name, role, days) for name, (role, days) in expected.items())

    def do(self, name: str, answers: dict[str, Any]) -> None:
        matches = [t for t in self.run.ready_tasks() if t.name == name]
        assert len(matches) == 1, f"{name}: {[t.name for t in self.run.ready_tasks()]}"
        task = matches[0]
        data = {**example_answers(self.pathway.forms[task.form]), **resolve(answers)}
        data = {k: v for k, v in data.items() if v is not None}  # None: leave it unanswered
        self.run.complete_task(task.id, data)
        self.evidenced.update(task.standards)

    def event(self, name: str, answers: dict[str, Any]) -> None:
        event = self.pathway.events[name]
        data = {**example_answers(self.pathway.forms[event.form]), **resolve(answers)}
        if event.episode:  # the application's episode row, as the engine sees it
            self.episodes += 1
            data = {**data, "id": self.episodes, "kind": event.episode}
        assert name in self.run.waiting_messages()
        self.run.send_message(name, data)

    def step(self, step: Step) -> None:
        kind, *args = step
        if kind == "ready":
            self.check_ready(args[0])
        elif kind == "do":
            self.do(*args)
        elif kind == "event":
            self.event(*args)
        elif kind == "wait":
            self.clock.tick(timedelta(days=args[0]))
            self.run.fire_due_timers()
        elif kind == "timers":
            assert len(self.run.pending_timers()) == args[0], self.run.pending_timers()
        self.run = make_engine(self.pathway).restore(self.run.state())  # as if saved


def drive(pathway: CompiledPathway, name: str, instant: datetime) -> EngineDriver:
    with at(instant) as clock:
        driver = EngineDriver(pathway, clock, BIRTH_DATES.get(name, DEFAULT_BIRTH_DATE))
        for step in SCENARIOS[name]:
            driver.step(step)
    return driver


@pytest.mark.parametrize("instant", INSTANTS.values(), ids=list(INSTANTS))
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_through_the_engine(
    real_pathway: CompiledPathway, name: str, instant: datetime
) -> None:
    drive(real_pathway, name, instant)


def test_together_the_scenarios_evidence_every_standard(real_pathway: CompiledPathway) -> None:
    evidenced: set[str] = set()
    for name in SCENARIOS:
        evidenced |= drive(real_pathway, name, INSTANTS["Tuesday 09:30"]).evidenced
    # Codes come from the diagrams' task properties, not from a list kept here.
    assert evidenced == set(STANDARDS)


def test_every_standard_is_carried_by_some_task(real_pathway: CompiledPathway) -> None:
    carried = {code for info in real_pathway.user_tasks.values() for code in info.standards}
    assert carried == set(STANDARDS)
