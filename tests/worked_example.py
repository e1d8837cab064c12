"""The worked example of docs/standards-report.md: eight patients through the pathway's services
over the first half of 2026, every date as the doc gives it.

Each step happens at a London time; between steps the clock moves on and the scheduler fires
whatever timers fell due (escalations, reviews), as it would in production. Answers not given
are the form's example answers (first option, lowest value, the day's date), overridden where
they matter. MDT meetings are on Thursdays at 13:00, listing closes at noon the working day
before; outcomes are confirmed at the meeting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from freezegun import freeze_time
from sqlalchemy import select

from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import HumanTaskModel, ListingModel, ListingStatus, PatientModel, TaskStatus
from mdt.services.actor import Actor
from mdt.services.demo import example_answers
from mdt.services.instances import complete_task
from mdt.services.meetings import add_listing, confirm_outcome, create_series, schedule_next
from mdt.services.pathways import form_schema
from mdt.services.patient_events import record_patient_event
from mdt.services.patients import register_patient
from mdt.services.scheduler import run_pass

from .helpers import NHS_NUMBERS, staff_named
from .scenarios import DECLINED, NO_CONCERNS

READ_AT = datetime(2026, 6, 30, 12, 0, tzinfo=LONDON)
PERIOD = (date(2026, 1, 1), date(2026, 6, 30))
ROLES = ("coordinator", "cns", "oncologist", "palliative", "manager")


@dataclass(frozen=True)
class Person:
    given: str
    born: date


PATIENTS = {
    "A": Person("Ada", date(1950, 4, 2)),
    "B": Person("Beth", date(1948, 7, 9)),
    "C": Person("Cath", date(1955, 1, 20)),
    "D": Person("Dora", date(1952, 11, 5)),
    "E": Person("Edith", date(1945, 6, 30)),
    "F": Person("Fay", date(1958, 9, 14)),
    "G": Person("Gwen", date(1940, 2, 28)),
    "H": Person("Hana", date(1984, 3, 1)),
}
FAMILY = "Worked"

ACCEPTED = {"outcome": "accepted", "reoffer_on": None}
QUIET_HNA = {**NO_CONCERNS, "palliative_information_given": True}  # raises no concern
OUTCOME = {
    "discussion": "discussed",
    "trial_considered": "not_eligible",
    "performance_status": 1,
    "palliative_referral_recommended": False,
}
PLANNING = {"surprise_question": "yes", "trial": "considered_not_suitable", "treatment_line": 1}


def registration(index_date: str, **answers: Any) -> dict[str, Any]:
    return {
        "index_date": index_date,
        "sites": ["C78.7"],
        "de_novo": False,
        "er_status": "positive",
        "pr_status": "positive",
        "her2_status": "negative",
        "ecog": 1,
        "in_work": "no",
        **answers,
    }


def contact(day: str, palliative_information: bool = True) -> dict[str, Any]:
    return {"contact_date": day, "palliative_information_given": palliative_information}


def allocated(day: str) -> dict[str, Any]:
    return {"key_worker_name": "Alex Patel", "allocated_on": day}


def progression(day: str) -> dict[str, Any]:
    return {"progression_date": day, "ecog": 1, "fast_track": False, "mdt_question": "Next line?"}


# (London time, patient, step, arguments). Steps:
#   register {answers}     the patient is registered and the diagnosis recorded
#   do task {answers}      the patient's one open task with this BPMN id is completed
#   list meeting-day       the waiting MDT outcome is listed for that Thursday's meeting
#   outcome {answers}      the listed outcome is confirmed at the meeting
#   event name {answers}   an event the pathway declares is recorded
# fmt: off
TIMELINE: list[tuple[str, str, str, tuple[Any, ...]]] = [
    # -- Dora: key worker allocated late after an escalation, first contact entered late,
    #    the GP letter a working day late, her needs assessment recorded "not offered";
    #    advance care planning and family support never done.
    ("2026-01-06 09:00", "D", "register", (registration("2026-01-05"),)),
    ("2026-01-06 09:30", "D", "do", ("mdt_referral", {})),
    ("2026-01-06 09:40", "D", "list", ("2026-01-08",)),
    ("2026-01-08 13:30", "D", "outcome", (OUTCOME,)),
    ("2026-01-09 10:00", "D", "do", ("escalate_key_worker", {"resolved": False})),
    ("2026-01-12 10:00", "D", "do", ("mdt_gp_letter", {"outcome": "sent", "sent_on": "2026-01-12"})),
    ("2026-01-13 10:00", "D", "do", ("treatment_planning", PLANNING)),
    ("2026-01-14 10:00", "D", "do", ("care_plan", {"agreed_on": "2026-01-14", "shared_with_patient": True})),
    ("2026-01-15 10:00", "D", "do", ("inform_gp", {"outcome": "sent", "sent_on": "2026-01-15"})),
    ("2026-01-20 10:00", "D", "do", ("allocate_key_worker", allocated("2026-01-20"))),
    ("2026-01-21 10:00", "D", "do", ("cns_first_contact", contact("2026-01-19"))),
    ("2026-01-22 10:00", "D", "do", ("holistic_needs_assessment_task", {"offer": "04", "assessment_date": "2026-01-22", "not_offered_reason": "Clinic overbooked", "reoffer_on": None, "palliative_information_given": False})),
    # -- Fay: everything on time at diagnosis and at a first progression; a second progression
    #    with its assessment late and its GP letter and care plan still open.
    ("2026-01-13 09:00", "F", "register", (registration("2026-01-12"),)),
    ("2026-01-13 09:10", "F", "do", ("allocate_key_worker", allocated("2026-01-13"))),
    ("2026-01-13 09:20", "F", "do", ("mdt_referral", {})),
    ("2026-01-13 09:30", "F", "list", ("2026-01-15",)),
    ("2026-01-14 10:00", "F", "do", ("cns_first_contact", contact("2026-01-14"))),
    ("2026-01-15 13:30", "F", "outcome", (OUTCOME,)),
    ("2026-01-16 10:00", "F", "do", ("mdt_gp_letter", {"outcome": "sent", "sent_on": "2026-01-16"})),
    ("2026-01-19 10:00", "F", "do", ("treatment_planning", PLANNING)),
    ("2026-01-20 10:00", "F", "do", ("care_plan", {"agreed_on": "2026-01-20", "shared_with_patient": True})),
    ("2026-01-21 10:00", "F", "do", ("inform_gp", {"outcome": "sent", "sent_on": "2026-01-21"})),
    ("2026-01-22 10:00", "F", "do", ("holistic_needs_assessment_task", {**QUIET_HNA, "assessment_date": "2026-01-22"})),
    ("2026-01-26 10:00", "F", "do", ("offer_family_support", {**ACCEPTED, "offered_on": "2026-01-26"})),
    ("2026-01-28 10:00", "F", "do", ("acp_conversation", {**ACCEPTED, "offered_on": "2026-01-28", "preferred_place_of_care": "home", "review_date": "2026-12-01"})),
    ("2026-03-02 09:00", "F", "event", ("progression", progression("2026-02-27"))),
    ("2026-03-02 09:30", "F", "list", ("2026-03-05",)),
    ("2026-03-03 10:00", "F", "do", ("holistic_needs_assessment_task", {**QUIET_HNA, "assessment_date": "2026-03-03"})),
    ("2026-03-05 13:30", "F", "outcome", (OUTCOME,)),
    ("2026-03-06 10:00", "F", "do", ("mdt_gp_letter", {"outcome": "sent", "sent_on": "2026-03-06"})),
    ("2026-03-09 10:00", "F", "do", ("treatment_planning", {**PLANNING, "treatment_line": 2})),
    ("2026-03-10 10:00", "F", "do", ("care_plan", {"agreed_on": "2026-03-10", "shared_with_patient": True})),
    ("2026-03-11 10:00", "F", "do", ("inform_gp", {"outcome": "sent", "sent_on": "2026-03-11"})),
    ("2026-03-12 10:00", "F", "do", ("acp_review", {"reviewed_on": "2026-03-12", "changed": False, "next_review_date": "2026-12-01"})),
    ("2026-03-12 10:30", "F", "do", ("offer_family_support", {**ACCEPTED, "offered_on": "2026-03-12"})),
    ("2026-05-18 09:00", "F", "event", ("progression", progression("2026-05-15"))),
    ("2026-05-18 09:30", "F", "list", ("2026-05-21",)),
    ("2026-05-21 13:30", "F", "outcome", ({**OUTCOME, "trial_considered": "eligible"},)),
    ("2026-05-26 10:00", "F", "do", ("treatment_planning", {**PLANNING, "treatment_line": 3})),
    ("2026-06-19 10:00", "F", "do", ("holistic_needs_assessment_task", {**QUIET_HNA, "assessment_date": "2026-06-19"})),
    # -- Ada: everything on time.
    ("2026-02-03 09:00", "A", "register", (registration("2026-02-02"),)),
    ("2026-02-03 09:10", "A", "do", ("allocate_key_worker", allocated("2026-02-03"))),
    ("2026-02-03 09:20", "A", "do", ("mdt_referral", {})),
    ("2026-02-03 09:30", "A", "list", ("2026-02-05",)),
    ("2026-02-04 10:00", "A", "do", ("cns_first_contact", contact("2026-02-04"))),
    ("2026-02-05 13:30", "A", "outcome", ({**OUTCOME, "trial_considered": "eligible"},)),
    ("2026-02-06 10:00", "A", "do", ("mdt_gp_letter", {"outcome": "sent", "sent_on": "2026-02-06"})),
    ("2026-02-09 10:00", "A", "do", ("treatment_planning", PLANNING)),
    ("2026-02-10 10:00", "A", "do", ("care_plan", {"agreed_on": "2026-02-10", "shared_with_patient": True})),
    ("2026-02-11 10:00", "A", "do", ("inform_gp", {"outcome": "sent", "sent_on": "2026-02-11"})),
    ("2026-02-12 10:00", "A", "do", ("holistic_needs_assessment_task", {**QUIET_HNA, "assessment_date": "2026-02-12"})),
    ("2026-02-16 10:00", "A", "do", ("offer_family_support", {**ACCEPTED, "offered_on": "2026-02-16"})),
    ("2026-02-20 10:00", "A", "do", ("acp_conversation", {**ACCEPTED, "offered_on": "2026-02-20", "preferred_place_of_care": "home", "review_date": "2026-12-01"})),
    # -- Gwen: de novo, ECOG 3 at diagnosis: referred to palliative care at once; her
    #    assessment finds distress and refers her for psychological support.
    ("2026-02-17 09:00", "G", "register", (registration("2026-02-16", de_novo=True, ecog=3),)),
    ("2026-02-17 09:10", "G", "do", ("allocate_key_worker", allocated("2026-02-17"))),
    ("2026-02-17 09:20", "G", "do", ("mdt_referral", {})),
    ("2026-02-17 09:30", "G", "list", ("2026-02-19",)),
    ("2026-02-17 11:00", "G", "do", ("refer_palliative", {**ACCEPTED, "offered_on": "2026-02-17"})),
    ("2026-02-18 10:00", "G", "do", ("cns_first_contact", contact("2026-02-18"))),
    ("2026-02-19 13:30", "G", "outcome", ({**OUTCOME, "performance_status": 3},)),
    ("2026-02-20 10:00", "G", "do", ("mdt_gp_letter", {"outcome": "sent", "sent_on": "2026-02-20"})),
    ("2026-02-20 11:00", "G", "do", ("palliative_assessment", {"assessment_date": "2026-02-20", "out_of_hours_recorded": True, "continue_care": "continue"})),
    ("2026-02-23 10:00", "G", "do", ("treatment_planning", PLANNING)),
    ("2026-02-24 10:00", "G", "do", ("care_plan", {"agreed_on": "2026-02-24", "shared_with_patient": True})),
    ("2026-02-25 10:00", "G", "do", ("inform_gp", {"outcome": "sent", "sent_on": "2026-02-25"})),
    ("2026-03-02 10:00", "G", "do", ("holistic_needs_assessment_task", {**QUIET_HNA, "assessment_date": "2026-03-02", "distress": 6})),
    ("2026-03-02 10:30", "G", "do", ("refer_psychological", {**ACCEPTED, "offered_on": "2026-03-02"})),
    ("2026-03-03 10:00", "G", "do", ("offer_family_support", {**ACCEPTED, "offered_on": "2026-03-03"})),
    ("2026-03-04 10:00", "G", "do", ("acp_conversation", {**ACCEPTED, "offered_on": "2026-03-04", "preferred_place_of_care": "hospice", "review_date": "2026-12-01"})),
    # -- Beth: dies on 10 March, before her MDT meeting of the 12th; recorded the next day.
    ("2026-03-03 09:00", "B", "register", (registration("2026-03-02"),)),
    ("2026-03-03 09:10", "B", "do", ("allocate_key_worker", allocated("2026-03-03"))),
    ("2026-03-04 10:00", "B", "do", ("cns_first_contact", contact("2026-03-04", False))),
    ("2026-03-05 14:00", "B", "do", ("mdt_referral", {})),
    ("2026-03-05 14:10", "B", "list", ("2026-03-12",)),
    ("2026-03-11 09:00", "B", "event", ("death", {"date_of_death": "2026-03-10", "place_of_death": "hospital"})),
    # -- Cath: transferred to another trust on 20 March, before her meeting of the 26th.
    ("2026-03-10 09:00", "C", "register", (registration("2026-03-09"),)),
    ("2026-03-10 09:10", "C", "do", ("allocate_key_worker", allocated("2026-03-10"))),
    ("2026-03-11 10:00", "C", "do", ("cns_first_contact", contact("2026-03-11"))),
    ("2026-03-19 15:00", "C", "do", ("mdt_referral", {})),
    ("2026-03-19 15:10", "C", "list", ("2026-03-26",)),
    ("2026-03-20 10:00", "C", "event", ("transfer", {"transfer_date": "2026-03-20", "receiving_organisation": "Northgate Hospitals NHS Trust"})),
    # -- Edith: declines the needs assessment, advance care planning and family support, and
    #    objects to her GP being sent letters; her trial eligibility was not considered.
    ("2026-04-14 09:00", "E", "register", (registration("2026-04-13"),)),
    ("2026-04-14 09:10", "E", "do", ("allocate_key_worker", allocated("2026-04-14"))),
    ("2026-04-14 09:20", "E", "do", ("mdt_referral", {})),
    ("2026-04-14 09:30", "E", "list", ("2026-04-16",)),
    ("2026-04-15 10:00", "E", "do", ("cns_first_contact", contact("2026-04-15"))),
    ("2026-04-16 10:00", "E", "do", ("holistic_needs_assessment_task", {"offer": "02", "assessment_date": "2026-04-16", "reoffer_on": None, "palliative_information_given": True})),
    ("2026-04-16 10:10", "E", "do", ("acp_conversation", {**DECLINED, "offered_on": "2026-04-16"})),
    ("2026-04-16 10:20", "E", "do", ("offer_family_support", {**DECLINED, "offered_on": "2026-04-16"})),
    ("2026-04-16 13:30", "E", "outcome", ({**OUTCOME, "trial_considered": "not_considered"},)),
    ("2026-04-17 10:00", "E", "do", ("mdt_gp_letter", {"outcome": "patient_objects", "objection_recorded_on": "2026-04-17"})),
    ("2026-04-20 10:00", "E", "do", ("treatment_planning", PLANNING)),
    ("2026-04-21 10:00", "E", "do", ("care_plan", {"agreed_on": "2026-04-21", "shared_with_patient": True})),
    ("2026-04-22 10:00", "E", "do", ("inform_gp", {"outcome": "patient_objects", "objection_recorded_on": "2026-04-22"})),
    # -- Hana: 42 and in work: offered financial advice; declines the needs assessment and
    #    family support; her care plan is not yet agreed.
    ("2026-05-12 09:00", "H", "register", (registration("2026-05-11", in_work="yes"),)),
    ("2026-05-12 09:10", "H", "do", ("allocate_key_worker", allocated("2026-05-12"))),
    ("2026-05-12 09:20", "H", "do", ("mdt_referral", {})),
    ("2026-05-12 09:30", "H", "list", ("2026-05-14",)),
    ("2026-05-13 10:00", "H", "do", ("cns_first_contact", contact("2026-05-13"))),
    ("2026-05-13 10:30", "H", "do", ("offer_financial_advice", {**ACCEPTED, "offered_on": "2026-05-13"})),
    ("2026-05-14 10:00", "H", "do", ("holistic_needs_assessment_task", {"offer": "02", "assessment_date": "2026-05-14", "reoffer_on": None, "palliative_information_given": True})),
    ("2026-05-14 10:10", "H", "do", ("offer_family_support", {**DECLINED, "offered_on": "2026-05-14"})),
    ("2026-05-14 13:30", "H", "outcome", (OUTCOME,)),
    ("2026-05-15 10:00", "H", "do", ("mdt_gp_letter", {"outcome": "sent", "sent_on": "2026-05-15"})),
    ("2026-05-18 10:00", "H", "do", ("treatment_planning", PLANNING)),
]
# fmt: on


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


class Driver:
    def __init__(self, actors: dict[str, Actor]):
        self.actors = actors
        self.patients: dict[str, int] = {}
        self.series = create_series(
            actors["coordinator"], "Secondary breast MDT", 3, "13:00", "Room 2"
        )

    def _task(self, letter: str, bpmn_id: str) -> HumanTaskModel:
        tasks = db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.patient_id == self.patients[letter],
                HumanTaskModel.bpmn_id == bpmn_id,
                HumanTaskModel.status == TaskStatus.READY,
            )
        ).all()
        assert len(tasks) == 1, f"{letter}: {bpmn_id} x{len(tasks)}"
        return tasks[0]

    def _answer(self, letter: str, task: HumanTaskModel, answers: dict[str, Any]) -> None:
        schema = form_schema(task.instance.pathway_version, task.form) or {}
        staff_named(schema, answers)
        data = {**example_answers(schema), **answers}
        complete_task(
            self.actors[task.role], task.id, {k: v for k, v in data.items() if v is not None}
        )

    def register(self, letter: str, answers: dict[str, Any]) -> None:
        person = PATIENTS[letter]
        index = list(PATIENTS).index(letter)
        patient = register_patient(
            self.actors["coordinator"],
            NHS_NUMBERS[index],
            person.given,
            FAMILY,
            person.born,
            "Riverside Surgery",
        )
        self.patients[letter] = patient.id
        self._answer(letter, self._task(letter, "register_diagnosis"), answers)

    def do(self, letter: str, bpmn_id: str, answers: dict[str, Any]) -> None:
        self._answer(letter, self._task(letter, bpmn_id), answers)

    def list(self, letter: str, meeting_day: str) -> None:
        day = date.fromisoformat(meeting_day)
        after = datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=LONDON)
        meeting = schedule_next(self.actors["coordinator"], self.series.id, after)
        assert meeting.starts_at.astimezone(LONDON).date() == day
        task = self._task(letter, "record_mdt_outcome")
        add_listing(self.actors["coordinator"], meeting.id, task.id, "discussion", None, None)

    def outcome(self, letter: str, answers: dict[str, Any]) -> None:
        listing = db.session.scalars(
            select(ListingModel).where(
                ListingModel.patient_id == self.patients[letter],
                ListingModel.status == ListingStatus.LISTED,
            )
        ).one()
        task = db.session.get(HumanTaskModel, listing.task_id)
        schema = form_schema(task.instance.pathway_version, task.form) or {}
        meeting_day = listing.meeting.starts_at.astimezone(LONDON).date().isoformat()
        data = {**example_answers(schema), "meeting_date": meeting_day, **answers}
        confirm_outcome(self.actors["coordinator"], listing.id, data, "Worked example", None)

    def event(self, letter: str, name: str, answers: dict[str, Any]) -> None:
        from mdt.models import PathwayInstanceModel
        from mdt.services.pathways import engine_for

        instance = db.session.scalars(
            select(PathwayInstanceModel).where(
                PathwayInstanceModel.patient_id == self.patients[letter]
            )
        ).first()
        pathway = engine_for(instance.pathway_version).pathway
        schema = pathway.forms[pathway.events[name].form]
        record_patient_event(
            self.actors["cns"], self.patients[letter], name, {**example_answers(schema), **answers}
        )


def drive(make_actor: Callable[[str], Actor]) -> dict[str, int]:
    """The whole cohort, step by step in time order, ending at READ_AT; returns each letter's
    patient id. Leaves the clock where it was."""
    steps = sorted(TIMELINE, key=lambda step: step[0])  # stable: same-minute steps keep order
    with freeze_time(_when(steps[0][0])) as frozen:
        actors = {role: make_actor(role) for role in ROLES}
        driver = Driver(actors)
        for when, letter, kind, args in steps:
            frozen.move_to(_when(when))
            run_pass()
            getattr(driver, kind)(letter, *args)
            db.session.expire_all()
        frozen.move_to(READ_AT)
        run_pass()
    return driver.patients


def patient_name(letter: str) -> str:
    person = PATIENTS[letter]
    return f"{FAMILY.upper()}, {person.given}"


def patient_ids() -> dict[str, int]:
    return {
        letter: db.session.scalar(
            select(PatientModel.id).where(PatientModel.nhs_number == NHS_NUMBERS[index])
        )
        for index, letter in enumerate(PATIENTS)
    }
