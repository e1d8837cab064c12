"""The rules of the standards' cases, one at a time, on hand-made facts: what counts as
evidence, when the clock starts, what a death or a patient's choice does. The shipped
measures (bpmn/measures.json) are applied to tasks written here, and each case's status is
read through the same SQL rule every view uses."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from mdt.extensions import db
from mdt.models import (
    EpisodeModel,
    InstanceStatus,
    PathwayInstanceModel,
    PatientModel,
    ReportCaseModel,
    TaskStatus,
)
from mdt.services.case_status import CaseView, Status, status_expression
from mdt.services.measures import parse_measures
from mdt.services.report_cases import Facts, Settings, TaskFact, derive
from workflows import upstream_tasks

from .helpers import NHS_NUMBERS

pytestmark = pytest.mark.clock  # statuses are read on a given day

ROOT = Path(__file__).resolve().parent.parent
MEASURES = parse_measures((ROOT / "bpmn" / "measures.json").read_bytes())
FORMS = {p.name: json.loads(p.read_text()) for p in (ROOT / "bpmn" / "forms").glob("*.json")}
UPSTREAM = upstream_tasks({p.name: p.read_bytes() for p in (ROOT / "bpmn").glob("*.bpmn")})
FORM_OF = {
    "holistic_needs_assessment_task": "holistic-needs-assessment.schema.json",
    "offer_financial_advice": "financial-advice.schema.json",
    "offer_family_support": "family-support.schema.json",
    "acp_conversation": "advance-care-planning.schema.json",
    "refer_palliative": "palliative-referral.schema.json",
    "care_plan": "care-plan.schema.json",
}


class Patient:
    """One patient on the pathway, with episodes and tasks written by the test."""

    def __init__(self, pathway: Any, born: date = date(1950, 1, 1)):
        patient = PatientModel(
            nhs_number=NHS_NUMBERS[0], given_name="Rule", family_name="Test", date_of_birth=born
        )
        db.session.add(patient)
        db.session.flush()
        self.instance = PathwayInstanceModel(
            patient_id=patient.id,
            pathway_version_id=pathway.id,
            state="",
            status=InstanceStatus.RUNNING,
        )
        db.session.add(self.instance)
        db.session.flush()
        self.born, self.episodes, self.tasks = born, [], []  # type: ignore[var-annotated]

    def episode(self, kind: str, started: str) -> EpisodeModel:
        episode = EpisodeModel(
            instance_id=self.instance.id,
            patient_id=self.instance.patient_id,
            kind=kind,
            label=kind,
            started_on=date.fromisoformat(started),
        )
        db.session.add(episode)
        db.session.flush()
        self.episodes.append(episode)
        return episode

    def task(
        self, bpmn_id: str, episode: EpisodeModel, done: str | None = None, **data: Any
    ) -> None:
        """Done on ``done`` (entered that day at noon), or still open."""
        entered = datetime.fromisoformat(f"{done}T12:00").replace(tzinfo=UTC) if done else None
        self.tasks.append(
            TaskFact(
                id=len(self.tasks) + 1,
                bpmn_id=bpmn_id,
                status=TaskStatus.COMPLETED if done else TaskStatus.READY,
                episode_id=episode.id,
                data=data,
                context=data.pop("context", {}) if "context" in data else {},
                form=FORM_OF.get(bpmn_id),
                created_on=date.fromisoformat(done) if done else date(2026, 1, 1),
                completed_at=entered,
            )
        )

    def died(self, on: str) -> None:
        self.instance.status = InstanceStatus.CLOSED
        self.instance.close_reason = "death"
        self.instance.closed_at = datetime.fromisoformat(f"{on}T12:00").replace(tzinfo=UTC)

    def cases(self, measure: str, today: str) -> list[CaseView]:
        """The measure's cases for this patient, with their status on ``today``."""
        facts = Facts(
            self.instance,
            self.born,
            self.episodes,
            self.tasks,
            {},
            MEASURES,
            FORMS,
            Settings(days={}, pathway={"pension_age": 66}, recorded_late=2),
            UPSTREAM,
        )
        rows = [r for r in derive(facts) if r["measure"] == measure]
        for row in rows:  # the tasks were written here, not stored
            row.update(task_id=None, evidence_task_id=None, open_task_id=None)
        db.session.execute(delete(ReportCaseModel).where(ReportCaseModel.measure == measure))
        db.session.execute(insert(ReportCaseModel.__table__), rows)
        found = db.session.execute(
            select(ReportCaseModel, status_expression(date.fromisoformat(today)))
            .where(ReportCaseModel.measure == measure)
            .order_by(ReportCaseModel.start_on)
        ).all()
        return [CaseView(row, Status(status)) for row, status in found]


@pytest.fixture
def patient(pathway: Any) -> Patient:
    return Patient(pathway)


def test_could_not_be_offered_is_not_the_patients_choice(patient: Patient) -> None:
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    patient.task(
        "acp_conversation", diagnosis, "2026-01-20", outcome="unable",
        offered_on="2026-01-20", unable_reason="No interpreter",
    )  # fmt: skip
    [before] = patient.cases("pc3_acp", "2026-02-01")
    assert before.status == Status.PENDING  # still time to offer it
    [after] = patient.cases("pc3_acp", "2026-04-01")
    assert after.status == Status.MISSED
    assert after.why == "Could not be offered or completed; nothing that counts by 30 March 2026"


def test_a_needs_assessment_offered_but_not_completed_is_not_evidence(patient: Patient) -> None:
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    patient.task(
        "holistic_needs_assessment_task", diagnosis, "2026-01-10", offer="05",
        assessment_date="2026-01-10", unable_reason="Too unwell",
    )  # fmt: skip
    [case] = patient.cases("is3_hna", "2026-03-01")
    assert case.status == Status.MISSED and case.why.startswith("Offered but unable to complete")


def test_declined_in_time_then_accepted_says_both(patient: Patient) -> None:
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    patient.task("offer_family_support", diagnosis, "2026-01-10", outcome="declined",
                 offered_on="2026-01-10")  # fmt: skip
    patient.task("offer_family_support", diagnosis, "2026-04-02", outcome="accepted",
                 offered_on="2026-04-02")  # fmt: skip
    [case] = patient.cases("pc2_family", "2026-05-01")
    assert case.status == Status.DECLINED  # the offer in time counts for the standard
    assert case.why.endswith("then accepted on 2 April 2026")


def test_an_offer_declined_after_the_deadline_was_offered_late(patient: Patient) -> None:
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    patient.task("offer_family_support", diagnosis, "2026-03-20", outcome="declined",
                 offered_on="2026-03-20")  # fmt: skip
    [case] = patient.cases("pc2_family", "2026-05-01")
    assert (case.status, case.label) == (Status.MET_LATE, "Offered late")


def test_an_offer_in_a_progressions_time_counts_whichever_task_recorded_it(
    patient: Patient,
) -> None:
    """The diagnosis' advance care planning task was still open at the progression (so the
    progression brought no new one): done in the progression's time, it counts for both."""
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    progression = patient.episode("progression", "2026-05-01")
    patient.task("acp_conversation", diagnosis, "2026-05-10", outcome="accepted",
                 offered_on="2026-05-10", preferred_place_of_care="home")  # fmt: skip
    first, second = patient.cases("pc3_acp", "2026-06-01")
    assert (first.row.episode_id, first.status) == (diagnosis.id, Status.MET_LATE)
    assert (second.row.episode_id, second.status) == (progression.id, Status.MET)


def test_an_offer_still_open_from_the_episode_before_keeps_the_case_open(
    patient: Patient,
) -> None:
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    patient.episode("progression", "2026-03-01")
    patient.task("acp_conversation", diagnosis)  # open since the diagnosis
    _, progression = patient.cases("pc3_acp", "2026-06-30")
    assert progression.status == Status.OVERDUE  # not missed: the offer is there to make


def test_a_money_worry_starts_the_financial_clock_at_the_assessment(pathway: Any) -> None:
    """75 and retired: counted only because her assessment found a practical concern of 7,
    from the date of that assessment."""
    patient = Patient(pathway, born=date(1950, 6, 1))
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    patient.task(
        "holistic_needs_assessment_task", diagnosis, "2026-03-16", offer="01",
        assessment_date="2026-03-16", practical=7,
    )  # fmt: skip
    patient.task("offer_financial_advice", diagnosis, "2026-03-18", outcome="accepted",
                 offered_on="2026-03-18")  # fmt: skip
    [case] = patient.cases("is5_financial", "2026-06-30")
    assert (case.row.start_on, case.status) == (date(2026, 3, 16), Status.MET)


def test_no_money_worry_and_over_pension_age_is_not_counted(pathway: Any) -> None:
    patient = Patient(pathway, born=date(1950, 6, 1))
    patient.episode("diagnosis", "2026-01-05")
    [case] = patient.cases("is5_financial", "2026-06-30")
    assert (case.status, case.why) == (Status.NOT_APPLICABLE, "Not eligible")


def test_a_preferred_place_not_yet_decided_is_the_patients_choice(patient: Patient) -> None:
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    patient.task("acp_conversation", diagnosis, "2026-02-01", outcome="accepted",
                 offered_on="2026-02-01", preferred_place_of_care="undecided")  # fmt: skip
    [case] = patient.cases("pc3_place", "2026-06-30")
    assert (case.status, case.label) == (Status.DECLINED, "Patient undecided")


def test_a_care_plan_not_shared_with_the_patient_is_not_evidence(patient: Patient) -> None:
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    patient.task("care_plan", diagnosis, "2026-01-20", agreed_on="2026-01-20",
                 shared_with_patient=False)  # fmt: skip
    [case] = patient.cases("tc1_care_plan", "2026-03-01")
    assert case.status == Status.MISSED
    assert case.why.startswith("Not shared with the patient")


def test_a_death_excuses_an_mdt_not_yet_due_but_not_end_of_life_care(patient: Patient) -> None:
    patient.episode("diagnosis", "2026-03-02")
    patient.died("2026-03-10")
    [acp] = patient.cases("pc3_acp", "2026-03-11")
    assert (acp.status, acp.why) == (Status.MISSED, "Died on 10 March 2026 before it was done")
    [mdt] = patient.cases("tc2_mdt", "2026-03-11")
    assert (mdt.status, mdt.why) == (
        Status.NOT_APPLICABLE,
        "Died on 10 March 2026, before it was due",
    )


def test_a_need_and_its_offer_pair_by_the_dates_recorded_not_typed(patient: Patient) -> None:
    """An assessment on 2 March found a family concern but was typed in on the 6th; family
    support was offered on the 3rd (typed in on the 4th): it answers the concern."""
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    patient.task(
        "holistic_needs_assessment_task", diagnosis, "2026-03-06", offer="01",
        assessment_date="2026-03-02", family=6,
    )  # fmt: skip
    patient.task("offer_family_support", diagnosis, "2026-03-04", outcome="accepted",
                 offered_on="2026-03-03")  # fmt: skip
    [case] = patient.cases("pc2_family_concern", "2026-06-30")
    assert (case.row.start_on, case.status) == (date(2026, 3, 2), Status.MET)


def test_a_palliative_referral_is_timed_from_the_triggers_clinical_date(patient: Patient) -> None:
    diagnosis = patient.episode("diagnosis", "2026-01-05")
    patient.task(
        "refer_palliative", diagnosis, "2026-03-13", outcome="accepted", offered_on="2026-03-13",
        context={"palliative_trigger": {"date": "2026-03-01", "triggers": ["surprise_question"]}},
    )  # fmt: skip
    [case] = patient.cases("pc1_palliative", "2026-06-30")
    assert (case.row.start_on, case.row.deadline_on) == (date(2026, 3, 1), date(2026, 3, 8))
    assert case.status == Status.MET_LATE
