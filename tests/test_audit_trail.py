"""Every kind of action a person takes leaves an append-only audit row saying who (account
and roles), when, what, about which patient and from where."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, PatientModel
from mdt.services.actor import SYSTEM
from mdt.services.pathways import publish_files, read_pathway_directory

from .conftest import FIXTURES, Auth
from .helpers import NHS_NUMBERS, ready_task
from .scenarios import DIAGNOSIS
from .test_reliability import FORM


def test_every_kind_of_action_leaves_an_audit_row(
    pathway: Any, make_user: Any, auth: Auth, client: FlaskClient, clock: Any
) -> None:
    make_user("coordinator", "cns", username="nurse")
    assert auth.login("nurse", "not the password").status_code == 400
    auth.login("nurse")
    number = NHS_NUMBERS[0]
    auth.post(
        "/patients/new",
        {"nhs_number": number, "given_name": "Jo", "family_name": "Audit",
         "date_of_birth-day": "1", "date_of_birth-month": "1", "date_of_birth-year": "1960",
         "gp_practice": "Riverside"},
    )  # fmt: skip
    patient = db.session.scalar(select(PatientModel).where(PatientModel.nhs_number == number))
    assert patient is not None
    client.get(f"/patients/{patient.id}")
    client.get("/patients?q=Audit")
    task = ready_task(patient.id, "Register secondary diagnosis")
    client.get(f"/tasks/{task.id}")
    assert auth.post(f"/tasks/{task.id}", FORM).status_code == 302
    events = f"/patients/{patient.id}/events/new"
    progressed = auth.post(
        f"{events}?event=progression",
        {"event": "progression", "progression_date-day": "3", "progression_date-month": "11",
         "progression_date-year": "2026", "confirmed_by": "imaging", "receptors_retested": "no",
         "ecog": "1", "fast_track": "no", "mdt_question": "Next line?",
         "imaging_for_review": "no"},
        form_url=f"{events}?event=progression",
    )  # fmt: skip
    assert progressed.status_code == 302
    died = auth.post(
        f"{events}?event=death",
        {"event": "death", "date_of_death-day": "4", "date_of_death-month": "11",
         "date_of_death-year": "2026", "place_of_death": "home", "confirm": "yes"},
        form_url=f"{events}?event=death",
    )  # fmt: skip
    assert died.status_code == 302
    bpmn, forms = read_pathway_directory(FIXTURES / "tiny")
    publish_files(SYSTEM, "wound-care", "Wound care", bpmn, forms)

    rows = db.session.scalars(select(AuditEventModel).order_by(AuditEventModel.id)).all()
    by_action = {row.action: row for row in rows}
    about_the_patient = (
        "patient.registered", "pathway.started", "patient.viewed", "task.viewed",
        "task.completed", "pathway.event", "pathway.closed",
    )  # fmt: skip
    for action in about_the_patient:
        row = by_action.get(action)
        assert row is not None, f"no audit row for {action}; have {sorted(by_action)}"
        assert row.patient_id == patient.id, action
        assert row.actor_name == "nurse" and "cns" in row.actor_roles, action
        assert row.ip_address == "127.0.0.1" and row.at is not None, action
    for action in ("signin.failed", "signin.succeeded", "patient.searched"):
        assert by_action[action].ip_address == "127.0.0.1", action
    assert by_action["patient.searched"].detail["query"] == "Audit"
    assert by_action["pathway.published"].actor_name == SYSTEM.username

    # An MDT outcome, confirmed by a coordinator at a meeting, from their address.
    from mdt.services.actor import actor_for
    from mdt.services.meetings import (
        add_listing,
        candidates,
        confirm_outcome,
        create_series,
        schedule_next,
    )
    from mdt.services.users import find_user

    from .helpers import complete_with_examples, new_patient
    from .test_meetings import OUTCOME

    coordinator = actor_for(find_user("nurse"), "10.0.0.7")
    second = new_patient(coordinator, 1)
    complete_with_examples(coordinator, ready_task(second.id, "Register secondary diagnosis"),
                           **DIAGNOSIS)  # fmt: skip
    complete_with_examples(coordinator, ready_task(second.id, "Allocate a CNS key worker"))
    complete_with_examples(coordinator, ready_task(second.id, "List for MDT review"))
    meeting = schedule_next(coordinator, create_series(coordinator, "MDT", 3, "13:00", "").id)
    listing = add_listing(coordinator, meeting.id, candidates(meeting).tasks[0].id,
                          "discussion", None, None)  # fmt: skip
    clock.move_to(meeting.starts_at)
    held = {**OUTCOME, "meeting_date": meeting.starts_at.date().isoformat()}
    confirm_outcome(coordinator, listing.id, held, "Audit test", None)
    outcome = db.session.scalars(
        select(AuditEventModel).where(
            AuditEventModel.action == "task.completed", AuditEventModel.patient_id == second.id
        )
    ).all()[-1]
    assert outcome.detail["bpmn_id"] == "record_mdt_outcome"
    assert outcome.ip_address == "10.0.0.7" and "coordinator" in outcome.actor_roles
