"""Demo data for `make run`: the pathway, a user for every role, patients at several stages.

Idempotent: running it again adds nothing that is already there. Patients have NHS
numbers from the never-issued 999 range; task answers are made from each form's schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask import has_app_context
from sqlalchemy import select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import HumanTaskModel, MeetingModel, MeetingStatus, PatientModel, TaskStatus
from mdt.services.actor import SYSTEM, Actor, actor_for
from mdt.services.demo_history import Story, replay
from mdt.services.form_validation import USER_ROLE, role_holder_names
from mdt.services.instances import complete_task
from mdt.services.meetings import (
    add_listing,
    candidates,
    create_series,
    list_series,
    schedule_next,
)
from mdt.services.nhs_number import check_digit_ok
from mdt.services.pas import handle_hl7
from mdt.services.pathway_choice import other_pathways, start_another_pathway
from mdt.services.pathway_migration import move_running_to
from mdt.services.pathways import (
    DEFAULT_PATHWAY_KEY,
    form_schema,
    publish_files,
    read_pathway_directory,
)
from mdt.services.patient_contact import ContactDetails
from mdt.services.patients import Identity, register_patient
from mdt.services.users import create_user, find_user

DEMO_USERS = [
    ("coordinator", "Morgan Reed", ["coordinator"], "MDT coordination"),
    ("cns", "Alex Patel", ["cns"], "breast CNS"),
    ("oncologist", "Dr Sam Okafor", ["oncologist"], "oncology"),
    ("palliative", "Dr Jamie Lewis", ["palliative"], "palliative care"),
    ("radiologist", "Dr Priya Shah", ["mdt_member"], "radiology"),
    ("manager", "Chris Taylor", ["manager"], None),
    ("admin", "Robin Hughes", ["admin"], None),
]

# (first name, last name, born, stop when this task is ready, answers that differ from the
# example ones, by form). None as the task: registered only. Patients end up spread over the
# pathway so that every clinical role has work waiting.
HIGH_NEEDS = {
    "holistic-needs-assessment.schema.json": {
        "offer": "01",
        "physical": 6,
        "practical": 5,
        "emotional": 7,
        "family": 6,
        "spiritual": 2,
        "distress": 8,
        "information": 5,
        "uncontrolled_symptoms": True,
        "wants_family_support": True,
    },
}
# (first name, last name, born, stop when this task is ready, answers that differ from the
# example ones by form, registered this many days ago). Their histories are played at the
# days they happened (demo_history), so the scorecards and the standards report have one.
DEMO_PATIENTS: list[tuple[str, str, date, str | None, dict[str, dict[str, Any]], int]] = [
    ("Ada", "Lovelace", date(1961, 12, 10), "Register secondary diagnosis", {}, 0),
    ("Grace", "Hopper", date(1956, 12, 9), "Allocate a CNS key worker", {}, 12),
    ("Mary", "Seacole", date(1970, 11, 23), "Holistic needs assessment", {}, 20),
    (
        "Rosalind",
        "Franklin",
        date(1972, 7, 25),
        "Refer for psychological and peer support",
        HIGH_NEEDS,
        30,
    ),
    ("Dorothy", "Hodgkin", date(1949, 5, 12), "Treatment planning consultation", {}, 50),
    ("Elsie", "Inglis", date(1981, 8, 16), "Specialist palliative care assessment", HIGH_NEEDS, 70),
]

# Their GP practices (ODS codes from the Z99 range, which no practice has) and homes: one
# each, in the order above, and whether they asked for copies of letters.
DEMO_PRACTICES = [
    ("Riverside Surgery", "Z99001", ("12 Riverside Road", "Leeds", "LS2 7HY")),
    (
        "Park Lane Practice",
        "Z99002",
        ("Park Lane Health Centre", "40 Park Lane", "Leeds", "LS3 1EP"),
    ),
]
# Responsible consultants (the demo's oncologists), in turn.
DEMO_CONSULTANTS = ("Dr Amara Okafor", "Dr Tom Whitfield")
DEMO_HOMES: list[tuple[tuple[str, ...], str, bool | None]] = [
    (("14 Ashgrove Terrace", "Headingley", "Leeds"), "LS6 3BP", True),
    (("Flat 3, Victoria Court", "2 Cardigan Road", "Leeds"), "LS6 1LF", None),
    (("27 Church Lane", "Meanwood", "Leeds"), "LS6 4NP", False),
    (("8 Mill Green", "Horsforth", "Leeds"), "LS18 5JS", True),
    (("The Old Forge", "Main Street", "Bramham", "Wetherby"), "LS23 6QA", None),
    (("51 Harehills Avenue", "Leeds"), "LS8 4EX", True),
]


# Realistic free text for the demo, by field name (any form that has the field uses it).
DEMO_TEXT = {
    "key_worker_name": "Alex Patel",
    "key_worker_phone": "0113 496 0123",
    "summary": "Bone pain for 6 weeks; CT shows liver and bone metastases. Primary treated 2019.",
    "clinical_question": "First-line treatment: suitable for a CDK4/6 inhibitor with letrozole?",
    "imaging_for_review": True,  # so the demo radiologist has patients to prepare
    "recommendation": "CDK4/6 inhibitor with letrozole; denosumab for bone; review scans in 12 weeks.",
    "informs_patient": "Dr Sam Okafor at clinic on Thursday",
    "checked_by": "Dr Sam Okafor",
    "next_steps": "Start treatment next week. Blood tests every 2 weeks for the first 2 months. "
    "Alex will phone after the first cycle.",
    "what_matters": "Being at home with family, walking the dog, and being well enough for a "
    "granddaughter's wedding in June.",
    "symptom_plan": "Regular paracetamol and ibuprofen; morphine for breakthrough pain.",
    "out_of_hours_details": "Acute oncology 24-hour line 0113 496 0999",
    "people_involved": "The patient, her daughter and Dr Jamie Lewis",
    "action": "Key worker allocated from the cover rota.",
    "symptoms": "Bone pain in the lower back, controlled with regular painkillers.",
    "care_plan_actions": "Refer for counselling; benefits advice; follow up in 2 weeks.",
    "new_concerns": "Tired in the afternoons; no new symptoms.",
    "psychosocial_notes": "Lives alone; daughter nearby. Worried about work.",
    "notes": "",
    "trial_id": "",
}


# Answers the demo's staff give where the form's first option would not be what happens.
DEMO_CHOICES = {
    "palliative_information_given": True,
    "out_of_hours_recorded": True,
    "shared_with_patient": True,
}


def demo_answers(
    schema: dict[str, Any], overrides: dict[str, Any], on: date | None = None
) -> dict[str, Any]:
    """Example answers with realistic text; dates of what happened (not planned ones) ``on``
    that day."""
    answers = example_answers(schema)
    for name, prop in schema.get("properties", {}).items():
        if name in DEMO_TEXT and name in answers:
            answers[name] = DEMO_TEXT[name]
        if on and prop.get("format") == "date" and prop.get("x-date", "past") == "past":
            answers[name] = on.isoformat()
    answers = {k: v for k, v in answers.items() if v != ""}
    return {**answers, **{k: v for k, v in DEMO_CHOICES.items() if k in answers}, **overrides}


@dataclass
class DemoResult:
    new_passwords: dict[str, str]
    patients_added: int
    pathway_version: int


def demo_nhs_numbers() -> list[str]:
    numbers: list[str] = []
    candidate = 9990000000
    while len(numbers) < 100:
        candidate += 1
        if check_digit_ok(str(candidate)):
            numbers.append(str(candidate))
    return numbers


def _someone_holding(role: str) -> str:
    # Without a database (the engine's own tests drive forms in memory) any name will do:
    # only the application checks that the named person holds the role.
    holders = role_holder_names(role) if has_app_context() else []
    return next(iter(holders), "Demo entry")


def example_answers(schema: dict[str, Any]) -> dict[str, Any]:
    """Plausible answers for every field of a form (first option, lowest value)."""
    answers: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if prop.get("examples"):
            answers[name] = prop["examples"][0]
        elif prop.get(USER_ROLE):  # the first active account holding the role
            answers[name] = _someone_holding(str(prop[USER_ROLE]))
        elif "oneOf" in prop:
            answers[name] = prop["oneOf"][0]["const"]
        elif "enum" in prop:
            answers[name] = prop["enum"][0]
        elif prop.get("type") == "boolean":
            answers[name] = False
        elif prop.get("type") in ("integer", "number"):
            answers[name] = prop.get("minimum", 0)
        elif prop.get("type") == "array":
            items = prop.get("items", {})
            options = [o["const"] for o in items.get("oneOf", [])] or items.get("enum", [])
            answers[name] = options[: max(1, prop.get("minItems", 1))]
        elif prop.get("format") == "date":
            answers[name] = clock.today().isoformat()
        else:
            answers[name] = "Demo entry"
    return answers


def _morning(day: date) -> datetime:
    return datetime.combine(day, time(9, 30), tzinfo=LONDON)


def _register_diagnosis(patient: PatientModel, coordinator: Actor, registered: date) -> None:
    """The diagnosis, confirmed the day before it was registered."""
    task = db.session.scalar(
        select(HumanTaskModel).where(
            HumanTaskModel.patient_id == patient.id, HumanTaskModel.status == TaskStatus.READY
        )
    )
    assert task is not None
    schema = form_schema(task.instance.pathway_version, task.form) or {}
    diagnosed = registered - timedelta(days=1)
    answers = demo_answers(schema, {"in_work": "no"}, diagnosed)
    complete_task(coordinator, task.id, answers)


def _list_the_waiting(coordinator: Actor, meeting: MeetingModel) -> None:
    """Those waiting for MDT review go on the next list while it is open, so every member of
    the team has a list to prepare (after the cut-off the coordinator adds them, late)."""
    if clock.now() > meeting.cut_off_at or meeting.status != MeetingStatus.PLANNED:
        return
    for task in candidates(meeting).tasks:
        add_listing(coordinator, meeting.id, task.id, "discussion", None, None)


def _pas_sends_someone_new(number: str) -> None:
    """The hospital's PAS tells us about a woman not registered yet (an A28, as a referral
    brings), so staff can try registering from the PAS with hospital number DEMO09999."""
    when = clock.now().astimezone(LONDON).strftime("%Y%m%d%H%M%S")
    handle_hl7(
        "\r".join(
            [
                f"MSH|^~\\&|PAS|RIVERSIDE|MDT|RIVERSIDE|{when}||ADT^A28^ADT_A05|DEMO-A28-1|P|2.4",
                f"EVN|A28|{when}",
                f"PID|1||{number}^^^NHS^NH~DEMO09999^^^RIV^MR||Anning^Mary||19520521|F|||"
                "3 Cliff Cottages^^Lyme Regis^^DT7 3QA",
                "PD1|||RIVERSIDE SURGERY^^Z99001",
            ]
        )
    )


# The example pathways shipped beside the main one (bpmn/examples/<key>/, files only), with
# the title each is published under: the demo shows more than one pathway.
EXAMPLE_PATHWAYS = {"lymphoedema": ("lymphoedema-clinic", "Lymphoedema clinic")}


def _publish_examples(examples: Path) -> None:
    for folder, (key, title) in EXAMPLE_PATHWAYS.items():
        if (examples / folder).is_dir():
            publish_files(SYSTEM, key, title, *read_pathway_directory(examples / folder))


def _also_on_an_example(stories: list[Story], coordinator: Actor) -> None:
    """The first demo patient is also on the lymphoedema clinic: a patient on two pathways."""
    key = EXAMPLE_PATHWAYS["lymphoedema"][0]
    if stories and any(choice.key == key for choice in other_pathways(stories[0].patient_id)):
        start_another_pathway(coordinator, stories[0].patient_id, key)


def seed_demo(bpmn_dir: Path, password: str | None = None) -> DemoResult:
    bpmn, forms = read_pathway_directory(bpmn_dir)
    version = publish_files(
        SYSTEM, DEFAULT_PATHWAY_KEY, "Secondary breast cancer care pathway", bpmn, forms
    )
    _publish_examples(bpmn_dir / "examples")
    new_passwords = {}
    for username, name, roles, discipline in DEMO_USERS:
        if find_user(username) is None:
            _, new_passwords[username] = create_user(
                SYSTEM, username, name, roles, password, discipline
            )
    actors = {role: actor_for(find_user(u)) for u, _, roles, _ in DEMO_USERS for role in roles}
    # Patients already running on an older version (an install upgraded) move when they can.
    move_running_to(actors["manager"], version)
    series = next(iter(list_series()), None) or create_series(
        actors["coordinator"], "Secondary breast MDT", 3, "13:00", "Seminar room 2 and Teams"
    )
    numbers = iter(demo_nhs_numbers())
    stories = []
    for index, (given, family, born, stop_at, overrides, days_ago) in enumerate(DEMO_PATIENTS):
        number = next(numbers)
        practice, practice_code, practice_address = DEMO_PRACTICES[index % len(DEMO_PRACTICES)]
        home, postcode, copies = DEMO_HOMES[index % len(DEMO_HOMES)]
        if db.session.scalar(select(PatientModel).where(PatientModel.nhs_number == number)):
            continue
        registered = clock.today() - timedelta(days=days_ago)
        with clock.replaying_at(min(clock.now(), _morning(registered))):
            patient = register_patient(
                actors["coordinator"],
                number,
                given,
                family,
                born,
                practice,
                contact=ContactDetails(home, postcode, practice_code, practice_address, copies),
                identity=Identity(
                    sex="female",
                    mrn=f"DEMO{index + 1:05d}",
                    consultant_name=DEMO_CONSULTANTS[index % len(DEMO_CONSULTANTS)],
                ),
            )
            if stop_at != "Register secondary diagnosis":
                _register_diagnosis(patient, actors["coordinator"], registered)
        stories.append(Story(patient.id, registered, stop_at, overrides))
    replay(stories, series, actors, demo_answers)
    _also_on_an_example(stories, actors["coordinator"])
    _list_the_waiting(actors["coordinator"], schedule_next(actors["coordinator"], series.id))
    _pas_sends_someone_new(next(numbers))
    added = len(stories)
    return DemoResult(new_passwords, added, version.version)
