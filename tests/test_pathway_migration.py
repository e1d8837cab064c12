"""Managers move running patients to a new version: dry run first, then every patient who
can move does, each audited; open tasks keep their clocks and assignees."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, HumanTaskModel, PathwayInstanceModel
from mdt.services.assignments import claim_task
from mdt.services.errors import InvalidInputError, PermissionDeniedError
from mdt.services.instances import complete_task
from mdt.services.pathway_drafts import publish_version, save_draft
from mdt.services.pathway_migration import migrate_all, plan_migration

from .conftest import FIXTURES
from .engine.test_migration import TINY, with_photo_task
from .helpers import new_patient, ready_task, start_on


def _publish(actor: Any, xml: str) -> Any:
    forms = {p.name: p.read_bytes() for p in (FIXTURES / "tiny" / "forms").glob("*.json")}
    draft = save_draft(
        actor, "wound-care", "Wound care", {"wound_care.bpmn": xml.encode(), **forms}
    )
    return publish_version(actor, draft.id)


@pytest.fixture
def ward(tiny_pathway: Any, make_user: Any, actor: Any) -> dict[str, Any]:
    """Two patients on wound care version 1: one waiting to be assessed, one assessed and
    waiting for the oncologist's review (claimed by the doctor)."""
    nurse, doctor = actor(make_user("cns")), actor(make_user("oncologist"))
    manager = actor(make_user("manager", username="boss"))
    waiting, assessed = (new_patient(nurse, i, start=False) for i in range(2))
    for patient in (waiting, assessed):
        start_on(nurse, patient, "wound-care")
    complete_task(nurse, ready_task(assessed.id, "Assess the wound").id,
                  {"size_cm": 8, "infected": False})  # fmt: skip
    review = ready_task(assessed.id, "Review severe wound")
    claim_task(doctor, review.id)
    return {"v1": tiny_pathway, "nurse": nurse, "doctor": doctor, "manager": manager,
            "waiting": waiting, "assessed": assessed, "review": review}  # fmt: skip


def test_dry_run_then_move_everyone_who_can(ward: dict[str, Any]) -> None:
    manager, review = ward["manager"], ward["review"]
    v2 = _publish(manager, with_photo_task())
    plan = plan_migration(manager, ward["v1"].id, v2.id)
    assert [(c.element_id, c.change) for c in plan.changes] == [("photo", "added")]
    assert [(p.patient.id, p.movable, p.waiting_at) for p in plan.patients] == [
        (ward["waiting"].id, True, ["Assess the wound"]),
        (ward["assessed"].id, True, ["Review severe wound"]),
    ]
    # A dry run changes nothing.
    assert (
        db.session.get(PathwayInstanceModel, review.instance_id).pathway_version_id == ward["v1"].id
    )

    result = migrate_all(manager, ward["v1"].id, v2.id)
    assert (result.moved, result.stayed) == (2, 0)
    db.session.expire_all()
    kept = db.session.get(HumanTaskModel, review.id)  # the same row: clock and assignee kept
    assert kept.status == "ready" and kept.created_at == review.created_at
    assert kept.assigned_to_id == ward["doctor"].user_id
    assert kept.instance.pathway_version_id == v2.id
    complete_task(ward["doctor"], kept.id, {"plan": "Dressings"})
    assert ready_task(ward["assessed"].id, "Photograph the wound")  # the new task appears
    moves = db.session.scalars(
        select(AuditEventModel).where(AuditEventModel.action == "pathway.migrated")
    ).all()
    assert sorted(r.patient_id for r in moves) == sorted([ward["waiting"].id, ward["assessed"].id])
    assert all(r.actor_name == "boss" and r.detail == {"key": "wound-care", "from": 1, "to": 2}
               for r in moves)  # fmt: skip


def test_who_cannot_move_stays_and_is_told_why(ward: dict[str, Any]) -> None:
    manager = ward["manager"]
    renamed = _publish(
        manager, TINY.replace('name="Assess the wound"', 'name="Assess and measure"')
    )
    plan = plan_migration(manager, ward["v1"].id, renamed.id)
    by_patient = {p.patient.id: p for p in plan.patients}
    assert by_patient[ward["waiting"].id].movable
    [reason] = by_patient[ward["assessed"].id].reasons
    assert "'Assess the wound' (assess) was already done and is changed" in reason
    result = migrate_all(manager, ward["v1"].id, renamed.id)
    assert (result.moved, result.stayed) == (1, 1)
    stayed = db.session.get(PathwayInstanceModel, ward["review"].instance_id)
    assert stayed.pathway_version_id == ward["v1"].id  # carries on as before
    complete_task(ward["doctor"], ward["review"].id, {"plan": "Dressings"})


def test_only_managers_and_only_to_a_published_version(ward: dict[str, Any]) -> None:
    with pytest.raises(PermissionDeniedError):
        plan_migration(ward["nurse"], ward["v1"].id, ward["v1"].id)
    with pytest.raises(InvalidInputError):
        plan_migration(ward["manager"], ward["v1"].id, ward["v1"].id)


def test_the_manager_moves_patients_from_the_library(
    ward: dict[str, Any], auth: Any, client: Any
) -> None:
    v2 = _publish(ward["manager"], with_photo_task())
    auth.login("boss")
    library = client.get("/pathways").get_data(as_text=True)
    move_url = f"/pathways/{ward['v1'].id}/move"
    assert move_url in library  # version 1 has running patients and is not current
    page = client.get(move_url).get_data(as_text=True)
    assert "Photograph the wound" in page and "Added" in page
    assert "Timers start again" in page and "Move 2 patients to version 2" in page
    moved = auth.post(move_url, {"to": v2.id}, form_url=move_url)
    assert moved.status_code == 302
    assert "Moved 2 patients." in client.get("/pathways").get_data(as_text=True)
    assert move_url not in client.get("/pathways").get_data(as_text=True)  # nobody left on it
