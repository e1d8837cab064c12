"""Pathway profiles: checked on upload (JSON Schema, then what they name in the pathway), read
by the record summary, the care plan, the MDT list and the key worker; a pathway without one
gets generic defaults; running patients move onto the version that adds one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mdt.extensions import db
from mdt.models import PathwayFileModel, PathwayInstanceModel, PatientModel
from mdt.services.actor import SYSTEM
from mdt.services.care_plan import patient_care_plan
from mdt.services.errors import PathwayRejectedError
from mdt.services.instances import complete_task
from mdt.services.pathway_migration import MigrationResult, move_running_to, plan_migration
from mdt.services.pathways import compile_files, publish_files, read_pathway_directory
from mdt.services.patients import view_patient
from mdt.services.profiles import PROFILE_FILE, profile_for, service_profile
from workflows import PathwayInvalidError

from .conftest import FIXTURES
from .helpers import complete_with_examples, new_patient, ready_task, start_on

ROOT = Path(__file__).resolve().parent.parent
WOUND_PROFILE: dict[str, Any] = {
    "title": "Wound care clinic",
    "short_name": "Wound care",
    "summary": [
        {"label": "Wound size", "fields": ["size_cm"]},
        {"label": "Plan", "fields": ["plan"]},
    ],
    "key_worker": {
        "role": "cns",
        "task": "assess",
        "name_field": "notes",
        "title": "Tissue viability nurse",
    },
    "care_plan": {
        "agreed_field": "plan",
        "sections": [
            {
                "heading": "Infection",
                "field": "infected",
                "wording": {"True": "Your wound shows signs of infection: we will treat it."},
            },
            {"heading": "Your plan", "field": "plan"},
        ],
    },
}


def _wound(profile: dict[str, Any] | None) -> tuple[dict[str, bytes], dict[str, bytes]]:
    bpmn, forms = read_pathway_directory(FIXTURES / "tiny")
    if profile is not None:
        forms[PROFILE_FILE] = json.dumps(profile).encode()
    return bpmn, forms


def _problems(profile: dict[str, Any]) -> list[str]:
    with pytest.raises(PathwayInvalidError) as raised:
        compile_files(*_wound(profile))
    assert all(p.file == PROFILE_FILE for p in raised.value.problems)
    return [p.message for p in raised.value.problems]


def test_the_shipped_profile_is_valid_and_stored_as_its_own_kind(pathway: Any) -> None:
    kinds = {f.name: f.kind for f in pathway.files}
    assert kinds[PROFILE_FILE] == "profile" and kinds["measures.json"] == "measures"
    profile = profile_for(pathway)
    assert profile.title == "Secondary breast cancer pathway" and profile.declared
    assert profile.needs is not None and profile.needs.decision_task == "decide_concerns"
    assert service_profile(pathway.key).short_name == "Secondary breast"


def test_a_profile_that_breaks_its_schema_is_refused_with_the_place(app: Any) -> None:
    assert _problems({"title": "Wound care"}) == ["(the file): 'short_name' is a required property"]
    broken = {**WOUND_PROFILE, "summary": [{"label": "Size", "fields": "size_cm"}]}
    assert _problems(broken) == ["summary/0/fields: 'size_cm' is not of type 'array'"]


def test_a_profile_naming_what_the_pathway_lacks_is_refused(app: Any) -> None:
    wrong = json.loads(json.dumps(WOUND_PROFILE))
    wrong["summary"][0]["fields"] = ["depth_cm"]
    wrong["key_worker"].update(role="surgeon", task="dress")
    wrong["care_plan"]["sections"][1]["field"] = "plan_of_care"
    wrong["measures"] = "measures.json"
    wrong["index_date"] = {"task": "review", "field": "plan", "wording": "the review"}
    assert _problems(wrong) == [
        "measures: the pathway has no file 'measures.json'.",
        "summary/0/fields: no form of this pathway has a field 'depth_cm'.",
        "index_date/field: 'plan' is not a date field.",
        "index_date: the task 'review' must date its episode by 'plan' (its "
        "episodeDateField property).",
        "key_worker/role: no role 'surgeon'.",
        "key_worker/task: no user task 'dress' in the diagrams.",
        "care_plan/sections/1/field: no form of this pathway has a field 'plan_of_care'.",
    ]


def test_a_change_of_profile_alone_is_a_new_version(app: Any) -> None:
    first = publish_files(SYSTEM, "wound-care", "Wound care", *_wound(WOUND_PROFILE))
    renamed = {**WOUND_PROFILE, "title": "Wound clinic"}
    second = publish_files(SYSTEM, "wound-care", "Wound care", *_wound(renamed))
    assert second.version == first.version + 1
    assert profile_for(second).title == "Wound clinic"


def test_without_a_profile_the_record_summarises_each_form_and_the_plan_is_generic(
    tiny_pathway: Any, make_user: Any, actor: Any
) -> None:
    nurse = actor(make_user("cns"))
    patient = new_patient(nurse, start=False)
    start_on(nurse, patient, "wound-care")
    complete_task(nurse, ready_task(patient.id, "Assess the wound").id,
                  {"size_cm": 8, "infected": False})  # fmt: skip
    record = view_patient(nurse, patient.id)
    assert [(r.label, r.value) for r in record.summary] == [
        ("Wound assessment", "Wound size (cm): 8\nSigns of infection?: No")
    ]
    plan = patient_care_plan(nurse, patient.id)
    assert plan.sections == [] and plan.agreed  # nothing this pathway asks to agree
    assert (
        profile_for(tiny_pathway).title == "Wound care" and not profile_for(tiny_pathway).declared
    )


def test_a_profile_makes_the_summary_care_plan_and_key_worker(make_user: Any, actor: Any) -> None:
    publish_files(SYSTEM, "wound-care", "Wound care", *_wound(WOUND_PROFILE))
    nurse_user = make_user("cns", username="tvn")
    nurse, doctor = actor(nurse_user), actor(make_user("oncologist"))
    patient = new_patient(nurse, start=False)
    start_on(nurse, patient, "wound-care")
    complete_task(nurse, ready_task(patient.id, "Assess the wound").id,
                  {"size_cm": 9, "infected": True, "notes": nurse_user.display_name})  # fmt: skip
    plan = patient_care_plan(nurse, patient.id)
    assert not plan.agreed
    assert [(s.heading, s.text) for s in plan.sections] == [
        ("Infection", "Your wound shows signs of infection: we will treat it.")
    ]
    assert db.session.get_one(PatientModel, patient.id).key_worker_id == nurse_user.id
    complete_task(doctor, ready_task(patient.id, "Review severe wound").id,
                  {"plan": "Antibiotics"})  # fmt: skip
    record = view_patient(nurse, patient.id)
    assert [(r.label, r.value) for r in record.summary] == [
        ("Wound size", "9"),
        ("Plan", "Antibiotics"),
    ]
    plan = patient_care_plan(nurse, patient.id)
    assert plan.agreed and plan.sections[-1].heading == "Your plan"


def test_running_patients_move_to_the_version_with_the_profile_and_their_summary_shows(
    make_user: Any, actor: Any
) -> None:
    """An install that ran the pathway before profiles: its patients are on a version with no
    profile.json; publishing the one with it and moving them (the safe policy, as the demo
    does on every start) gives their record the pathway's summary again. The patient waits
    on a timer with a pathway helper (working_days_from_now), which the move re-arms."""
    bpmn, forms = read_pathway_directory(ROOT / "bpmn")
    without = {name: content for name, content in forms.items() if name != PROFILE_FILE}
    old = publish_files(SYSTEM, "secondary-breast-cancer", "Secondary breast cancer", bpmn, without)
    coordinator, manager = actor(make_user("coordinator")), actor(make_user("manager"))
    patient = new_patient(coordinator)
    complete_with_examples(
        coordinator, ready_task(patient.id, "Register secondary diagnosis"), er_status="positive"
    )
    before = [r.label for r in view_patient(coordinator, patient.id).summary]
    assert "Secondary diagnosis confirmed" not in before  # the generic summary

    new = publish_files(SYSTEM, "secondary-breast-cancer", "Secondary breast cancer", bpmn, forms)
    assert PROFILE_FILE in {f.name for f in new.files if isinstance(f, PathwayFileModel)}
    assert [p.movable for p in plan_migration(manager, old.id, new.id).patients] == [True]
    assert move_running_to(manager, new) == MigrationResult(moved=1, stayed=0)
    db.session.expire_all()
    instance = db.session.scalar(
        db.select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == patient.id)
    )
    assert instance.pathway_version_id == new.id
    rows = {r.label: r.value for r in view_patient(coordinator, patient.id).summary}
    assert "Secondary diagnosis confirmed" in rows and rows["ER"] == "Positive"


def test_patients_who_stay_on_a_version_from_before_profiles_keep_their_record(
    make_user: Any, actor: Any
) -> None:
    """Patients the safe policy keeps on their version (they passed a task the new version
    changed) borrow the pathway's newest profile: their summary, and the key worker named
    when one is allocated, are what they were before profiles existed."""
    bpmn, forms = read_pathway_directory(ROOT / "bpmn")
    without = {name: content for name, content in forms.items() if name != PROFILE_FILE}
    old = publish_files(SYSTEM, "secondary-breast-cancer", "Secondary breast cancer", bpmn, without)
    coordinator = actor(make_user("coordinator"))
    patient = new_patient(coordinator)
    complete_with_examples(
        coordinator, ready_task(patient.id, "Register secondary diagnosis"), er_status="positive"
    )
    publish_files(SYSTEM, "secondary-breast-cancer", "Secondary breast cancer", bpmn, forms)
    instance = db.session.scalar(
        db.select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == patient.id)
    )
    assert instance.pathway_version_id == old.id  # not moved
    assert profile_for(old).declared
    rows = {r.label: r.value for r in view_patient(coordinator, patient.id).summary}
    assert "Secondary diagnosis confirmed" in rows and rows["ER"] == "Positive"


def test_the_demo_moves_patients_of_an_install_from_before_profiles(
    app: Any, tmp_path: Path
) -> None:
    """`make run` seeds the demo on every start: on an install whose patients run on the
    version without profile.json, it publishes the one with it and moves who can."""
    import shutil

    from mdt.services.demo import seed_demo
    from mdt.services.pathways import current_version

    before = tmp_path / "bpmn"
    shutil.copytree(ROOT / "bpmn", before)
    (before / PROFILE_FILE).unlink()
    seed_demo(before)
    old = current_version()
    assert old is not None and not profile_for(old).declared

    seed_demo(ROOT / "bpmn")
    new = current_version()
    assert new is not None and new.version == old.version + 1 and profile_for(new).declared
    running = db.session.scalars(
        db.select(PathwayInstanceModel).where(
            PathwayInstanceModel.status == "running",
            PathwayInstanceModel.pathway_version_id.in_([old.id, new.id]),
        )
    ).all()
    assert running and all(i.pathway_version_id == new.id for i in running)


def test_a_profile_uploaded_with_a_draft_is_published_with_it(make_user: Any, actor: Any) -> None:
    from mdt.services.pathway_drafts import publish_version, save_draft

    manager = actor(make_user("manager"))
    bpmn, forms = _wound(WOUND_PROFILE)
    draft = save_draft(manager, "wound-care", "Wound care", {**bpmn, **forms})
    version = publish_version(manager, draft.id)
    assert {f.name: f.kind for f in version.files}[PROFILE_FILE] == "profile"
    assert profile_for(version).title == "Wound care clinic"
    wrong = {**WOUND_PROFILE, "summary": [{"label": "Depth", "fields": ["depth_cm"]}]}
    bpmn, forms = _wound(wrong)
    draft = save_draft(manager, "wound-care", "Wound care", {**bpmn, **forms})
    with pytest.raises(PathwayRejectedError) as refused:
        publish_version(manager, draft.id)
    assert [(p["file"], p["message"]) for p in refused.value.problems] == [
        (PROFILE_FILE, "summary/0/fields: no form of this pathway has a field 'depth_cm'.")
    ]


def test_the_service_s_prefix_heads_its_e_mails(
    make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default pathway's profile may give e-mails a prefix; the shipped one gives none."""
    from mdt.services import notifications

    sent: list[Any] = []

    class _Smtp:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def __enter__(self) -> _Smtp:
            return self

        def __exit__(self, *args: Any) -> None:
            pass

        def send_message(self, message: Any) -> None:
            sent.append(message)

    monkeypatch.setattr(notifications.smtplib, "SMTP", _Smtp)
    user = make_user("cns")
    user.email = "cns@example.nhs.uk"
    bpmn, forms = read_pathway_directory(ROOT / "bpmn")
    publish_files(SYSTEM, "secondary-breast-cancer", "Secondary breast cancer", bpmn, forms)
    notifications._send(user, [])
    profile = {**json.loads(forms[PROFILE_FILE]), "email_subject_prefix": "Breast MDT"}
    forms[PROFILE_FILE] = json.dumps(profile).encode()
    publish_files(SYSTEM, "secondary-breast-cancer", "Secondary breast cancer", bpmn, forms)
    notifications._send(user, [])
    assert [m["Subject"] for m in sent] == [
        "0 update(s) from the care pathway",
        "[Breast MDT] 0 update(s) from the care pathway",
    ]
