"""The synthetic patients through the application: services, database, projections."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from sqlalchemy import func, select

from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import HumanTaskModel, PathwayInstanceModel, TaskStatus, TimerModel
from mdt.services.actor import Actor
from mdt.services.calendar import add_working_days
from mdt.services.demo import example_answers
from mdt.services.pathways import closures, engine_for, form_schema
from mdt.services.patient_events import record_patient_event
from mdt.services.scheduler import run_pass

from .helpers import complete, new_patient, ready_tasks, staff_named
from .scenarios import BIRTH_DATES, DEFAULT_BIRTH_DATE, SCENARIOS, Step, resolve
from .timing import INSTANTS, at

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend

ROLES = ("coordinator", "cns", "oncologist", "palliative", "manager")


class AppDriver:
    def __init__(self, actors: dict[str, Actor], patient_id: int, frozen: FrozenDateTimeFactory):
        self.actors, self.patient_id, self.frozen = actors, patient_id, frozen
        self.instance_id = ready_tasks(patient_id)[0].instance_id

    def check_ready(self, expected: dict[str, tuple[str, int]]) -> None:
        """Exactly these tasks wait, for these roles, each due the declared number of working
        days after it appeared (computed forward from the period, never read back from the
        due date: on a Saturday 0 and 1 working days are the same Monday)."""
        tasks = ready_tasks(self.patient_id)
        shown = sorted((t.name, t.role) for t in tasks)
        assert shown == sorted((name, role) for name, (role, _) in expected.items())
        for task in tasks:
            days = expected[task.name][1]
            declared = engine_for(task.instance.pathway_version).pathway.task_info(
                task.process_id, task.bpmn_id
            )
            assert declared is not None and declared.due_working_days == days, task.name
            assert task.due_at == add_working_days(task.created_at, days, closures()), task.name

    def do(self, name: str, answers: dict[str, Any]) -> None:
        matches = [t for t in ready_tasks(self.patient_id) if t.name == name]
        assert len(matches) == 1, f"{name}: {[t.name for t in ready_tasks(self.patient_id)]}"
        task = matches[0]
        schema = form_schema(task.instance.pathway_version, task.form) or {}
        staff_named(schema, resolve(answers))
        data = {**example_answers(schema), **resolve(answers)}
        data = {k: v for k, v in data.items() if v is not None}  # None: leave it unanswered
        complete(self.actors[task.role], task, data)  # an MDT outcome: outside a meeting
        db.session.expire_all()
        stored = db.session.get(HumanTaskModel, task.id)
        assert stored.status == TaskStatus.COMPLETED
        assert stored.completed_by_id == self.actors[task.role].user_id
        # What was kept is what was answered, less the questions the answers hid.
        assert set(stored.data) <= set(data)

    def event(self, name: str, answers: dict[str, Any]) -> None:
        instance = db.session.get(PathwayInstanceModel, self.instance_id)
        pathway = engine_for(instance.pathway_version).pathway
        schema = pathway.forms[pathway.events[name].form]
        data = {**example_answers(schema), **resolve(answers)}
        record_patient_event(self.actors["cns"], self.patient_id, name, data)
        db.session.expire_all()
        declared = pathway.events[name]
        if declared.closes and declared.date_field:
            # Recorded today for an earlier day (a death on Friday recorded on Monday): care
            # ends as of the day it happened, not the day it was typed.
            closed = db.session.get(PathwayInstanceModel, self.instance_id).closed_at
            assert closed is not None
            assert closed.astimezone(LONDON).date().isoformat() == data[declared.date_field]

    def step(self, step: Step) -> None:
        kind, *args = step
        if kind == "ready":
            self.check_ready(args[0])
        elif kind == "do":
            self.do(*args)
        elif kind == "event":
            self.event(*args)
        elif kind == "wait":
            self.frozen.tick(timedelta(days=args[0]))
            run_pass()
            db.session.expire_all()
        elif kind == "timers":
            count = db.session.scalar(
                select(func.count())
                .select_from(TimerModel)
                .where(TimerModel.instance_id == self.instance_id)
            )
            assert count == args[0]


def drive(name: str, instant: datetime, make_user: Any, actor: Any) -> int:
    with at(instant) as frozen:
        actors = {role: actor(make_user(role)) for role in ROLES}
        born = date.fromisoformat(BIRTH_DATES.get(name, DEFAULT_BIRTH_DATE))
        patient = new_patient(actors["coordinator"], born=born)
        driver = AppDriver(actors, patient.id, frozen)
        for step in SCENARIOS[name]:
            driver.step(step)
    return patient.id


@pytest.mark.parametrize("instant", INSTANTS.values(), ids=list(INSTANTS))
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_through_the_app(name: str, instant: datetime, pathway, make_user, actor) -> None:
    drive(name, instant, make_user, actor)


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_scenario_patient_exports_a_valid_fhir_bundle(
    name: str, pathway, make_user, actor
) -> None:
    """The patient's care plan as FHIR R4, at the end of each scenario, validated with the
    fhir.resources models: Patient (NHS number), Condition per site (ICD-10 and SNOMED),
    CarePlan with a Task per human task, CareTeam once a key worker is named."""
    from fhir.resources.R4B.bundle import Bundle

    from mdt.models import PatientModel
    from mdt.services.fhir_export import ICD10, NHS_NUMBER_SYSTEM, SNOMED, patient_bundle

    patient_id = drive(name, INSTANTS["Tuesday 09:30"], make_user, actor)
    patient = db.session.get(PatientModel, patient_id)
    manager = actor(make_user("manager"))
    bundle = patient_bundle(manager, patient_id)
    Bundle.model_validate(bundle)
    resources: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        resources.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    [fhir_patient] = resources["Patient"]
    assert fhir_patient["identifier"] == [
        {"system": NHS_NUMBER_SYSTEM, "value": patient.nhs_number}
    ]
    assert resources["Condition"], "every scenario records metastatic sites at registration"
    for condition in resources["Condition"]:
        assert {c["system"] for c in condition["code"]["coding"]} == {ICD10, SNOMED}
    tasks = db.session.scalars(
        select(HumanTaskModel).where(HumanTaskModel.patient_id == patient_id)
    ).all()
    assert len(resources["Task"]) == len(tasks)
    plan = next(p for p in resources["CarePlan"] if p["intent"] == "plan")
    assert len(plan["activity"]) == len(tasks)
    if patient.key_worker_name:
        assert (
            resources["CareTeam"][0]["participant"][0]["member"]["display"]
            == patient.key_worker_name
        )


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_scenario_patients_standards_read_one_source(
    name: str, pathway, make_user, actor, client
) -> None:
    """The record's scorecard, the API, the FHIR export and the managers' drill-downs give the
    same cases with the same status for every scenario patient."""
    from mdt.services.actor import SYSTEM
    from mdt.services.api_tokens import create_token
    from mdt.services.fhir_export import MEASURE_BASE, patient_bundle
    from mdt.services.patient_standards import patient_scorecard
    from mdt.services.standards_report import ReportQuery, catalogue, measure_cases

    patient_id = drive(name, INSTANTS["Tuesday 09:30"], make_user, actor)
    with at(INSTANTS["Tuesday 09:30"] + timedelta(days=60)):
        cards = patient_scorecard(patient_id)
        scorecard = sorted(
            (c.measure.key, c.view.row.episode_id, str(c.view.row.start_on), c.view.status.value)
            for card in cards
            for c in card.rows
        )
        assert scorecard, "every scenario registers a diagnosis, so has cases"
        user = make_user("cns")
        _, secret = create_token(SYSTEM, user.id, "tests")
        body = client.get(
            f"/api/v1/patients/{patient_id}/standards",
            headers={"Authorization": f"Bearer {secret}"},
        ).get_json()
        assert (
            sorted((c["measure"], c["episode_id"], c["clock_started"], c["status"]) for c in body)
            == scorecard
        )
        manager = actor(make_user("manager"))
        reports = [
            e["resource"]
            for e in patient_bundle(manager, patient_id)["entry"]
            if e["resource"]["resourceType"] == "MeasureReport"
        ]
        assert sorted(
            (
                r["measure"].removeprefix(MEASURE_BASE),
                r["period"]["start"],
                r["group"][0]["code"]["coding"][0]["code"],
            )
            for r in reports
        ) == sorted((key, start, status) for key, _, start, status in scorecard)
        query = ReportQuery(date(2025, 1, 1), date(2027, 12, 31))
        drilled = sorted(
            (m.key, row.view.row.episode_id, str(row.view.row.start_on), row.view.status.value)
            for m in catalogue()
            for row in measure_cases(manager, m.key, query)[1]
            if row.patient_id == patient_id
        )
        assert drilled == scorecard
