"""The PAS feed's use cases without the network: FHIR Patient updates through the API, the
coordinators' confirmation of deaths the PAS reports (confirm closes the pathway as of the
date of death; "not this patient" releases letters), two running pathways in a merge, and
the status command (issue 23)."""

# The ward fixture comes from test_hl7_listener; using it as an argument "redefines" it.
# ruff: noqa: F811

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from mdt.extensions import db
from mdt.models import (
    AuditEventModel,
    DeathNotificationModel,
    Hl7MessageModel,
    HumanTaskModel,
    InstanceStatus,
    ListingModel,
    ListingStatus,
    PathwayInstanceModel,
    PatientModel,
)
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.errors import ConflictError, PermissionDeniedError
from mdt.services.gp_letters import gp_letter
from mdt.services.meetings import confirm_outcome
from mdt.services.pas import (
    confirm_death,
    find_registered,
    handle_hl7,
    letters_held,
    pending_deaths,
    reject_death,
)

from .conftest import Auth
from .helpers import NHS_NUMBERS, new_patient
from .test_gp_letter import OUTCOME
from .test_hl7_listener import MONDAY, adt, ward  # noqa: F401
from .timing import LONDON

pytestmark = pytest.mark.clock

EDITH = NHS_NUMBERS[0]


def _token(make_user: Any, *roles: str) -> dict[str, str]:
    user = make_user(*roles)
    _, secret = create_token(SYSTEM, user.id, "PAS interface")
    return {"Authorization": f"Bearer {secret}"}


def _fhir(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": EDITH}],
        "name": [{"use": "official", "family": "Cavell", "given": ["Edith", "Louisa"]}],
        "gender": "female",
        "birthDate": "1960-01-01",
        "address": [{"line": ["14 Ashgrove Terrace"], "city": "Leeds", "postalCode": "ls63bp"}],
        "generalPractitioner": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "B86001",
                }
            }
        ],
        **extra,
    }


def test_fhir_patient_put_updates_a_registered_patient(ward, client, make_user) -> None:
    with freeze_time(MONDAY):
        headers = _token(make_user, "coordinator")
        url = f"/api/v1/fhir/Patient/{EDITH}"
        response = client.put(url, json=_fhir(), headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["outcome"] == "applied" and body["patient_id"] == ward["edith"]
        edith = db.session.get(PatientModel, ward["edith"])
        assert edith.given_name == "Edith Louisa" and edith.search_name == "edith louisa cavell"
        assert edith.address == "14 Ashgrove Terrace\nLeeds" and edith.postcode == "LS6 3BP"
        assert edith.gp_practice_code == "B86001" and edith.sex == "female"
        stored = db.session.scalar(select(Hl7MessageModel).where(Hl7MessageModel.source == "fhir"))
        assert stored.outcome == "applied" and '"Cavell"' in stored.raw
        # Again: nothing to change.
        assert client.put(url, json=_fhir(), headers=headers).get_json()["outcome"] == (
            "not_applicable"
        )
        # Not registered here: nothing updated, counted.
        other = NHS_NUMBERS[9]
        stranger = _fhir(
            identifier=[{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": other}]
        )
        reply = client.put(f"/api/v1/fhir/Patient/{other}", json=stranger, headers=headers)
        assert reply.status_code == 200 and reply.get_json()["outcome"] == "not_on_pathway"
        # Not a valid Patient (an impossible birth date), or a number that is not the
        # address's: 422, kept, nothing changed.
        bad = client.put(url, json=_fhir(birthDate="1960-02-31"), headers=headers)
        assert bad.status_code == 422
        wrong = client.put(f"/api/v1/fhir/Patient/{other}", json=_fhir(), headers=headers)
        assert wrong.status_code == 422
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Hl7MessageModel)
                .where(Hl7MessageModel.outcome == "rejected")
            )
            == 2
        )
        # A death through FHIR: off the list, waiting for a coordinator.
        died = client.put(
            url, json=_fhir(deceasedDateTime="2026-11-29T08:00:00+00:00"), headers=headers
        )
        assert died.get_json()["death_reported"] is True
        assert letters_held(ward["edith"])
        # Only those who register patients update them.
        refused = client.put(url, json=_fhir(), headers=_token(make_user, "oncologist"))
        assert refused.status_code == 403


def test_coordinator_confirms_a_reported_death(ward, auth: Auth, client) -> None:
    with freeze_time(MONDAY):
        handle_hl7(adt("A03", "MSG-D1", EDITH, died_on="20261129", died="Y"))
        notification = db.session.scalar(select(DeathNotificationModel))
        assert letters_held(ward["edith"])
        auth.login("coord")
        # The coordinators are told, with the way to the confirmation.
        notes = client.get("/notifications").get_data(as_text=True)
        assert "Death reported by the PAS" in notes
        assert f'href="/pas/deaths/{notification.id}"' in notes
        listing = client.get("/pas/deaths").get_data(as_text=True)
        assert "CAVELL, Edith" in listing and "29 November 2026" in listing
        page = client.get(f"/pas/deaths/{notification.id}").get_data(as_text=True)
        assert "PAS reports the death of CAVELL, Edith on 29 November 2026: confirm" in page
        assert "Place of death" in page and "field-date_of_death" not in page
        # Every required answer of the pathway's death form is asked for.
        missing = auth.post(f"/pas/deaths/{notification.id}", {})
        assert missing.status_code == 400 and "nhsuk-error-summary" in missing.get_data(
            as_text=True
        )
        done = auth.post(f"/pas/deaths/{notification.id}", {"place_of_death": "hospice"})
        assert done.status_code == 302
        db.session.expire_all()
        notification = db.session.get(DeathNotificationModel, notification.id)
        assert notification.status == "confirmed" and notification.decided_by.username == "coord"
        instance = db.session.scalar(
            select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == ward["edith"])
        )
        assert instance.close_reason == "death"
        assert db.session.get(PatientModel, ward["edith"]).date_of_death == date(2026, 11, 29)
        assert not letters_held(ward["edith"])
        actions = set(db.session.scalars(select(AuditEventModel.action)))
        assert {
            "pas.death_reported",
            "pas.deaths_listed",
            "pas.death_viewed",
            "pas.death_confirmed",
            "pathway.closed",
        } <= actions
        # Decided once.
        again = auth.post(f"/pas/deaths/{notification.id}/reject", {}, form_url="/pas/deaths")
        assert again.status_code == 409


def test_not_this_patient_releases_letters(ward, auth: Auth, client, make_user, actor) -> None:
    with freeze_time(MONDAY):
        handle_hl7(adt("A08", "MSG-D2", EDITH, died_on="20261129", died="Y"))
        notification = db.session.scalar(select(DeathNotificationModel))
        listing = db.session.scalar(
            select(ListingModel).where(ListingModel.patient_id == ward["edith"])
        )
        assert listing.status == ListingStatus.REMOVED
        auth.login("coord")
        done = auth.post(
            f"/pas/deaths/{notification.id}/reject", {}, form_url=f"/pas/deaths/{notification.id}"
        )
        assert done.status_code == 302
        db.session.expire_all()
        assert db.session.get(DeathNotificationModel, notification.id).status == "rejected"
        assert not letters_held(ward["edith"])
        instance = db.session.scalar(
            select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == ward["edith"])
        )
        assert instance.status == InstanceStatus.RUNNING and instance.close_reason is None
        assert db.session.get(PatientModel, ward["edith"]).date_of_death is None
        # Only coordinators decide.
        nurse = actor(make_user("cns"))
        with pytest.raises(PermissionDeniedError):
            pending_deaths(nurse)
        with pytest.raises(PermissionDeniedError):
            confirm_death(nurse, notification.id)
        auth.login(make_user("cns").username)
        assert client.get("/pas/deaths").status_code == 403


def test_two_running_pathways_are_not_merged_silently(ward) -> None:
    coordinator = ward["coordinator"]
    with freeze_time(MONDAY):
        first = new_patient(coordinator, 5, given="Mary", family="Seacole")
        second = new_patient(coordinator, 6, given="Mary", family="Seacole")
        ids = (first.id, second.id)
        tasks_before = {
            pid: db.session.scalar(
                select(func.count())
                .select_from(HumanTaskModel)
                .where(HumanTaskModel.patient_id == pid)
            )
            for pid in ids
        }
        ack = handle_hl7(
            adt("A40", "MSG-M2", NHS_NUMBERS[5], "Seacole", "Mary", merge=(NHS_NUMBERS[6], None))
        )
        assert "MSA|AA|MSG-M2|" in ack and "coordinator must decide" in ack
        db.session.expire_all()
        assert db.session.get(PatientModel, ids[1]).merged_into_id == ids[0]
        assert find_registered(NHS_NUMBERS[6], None).id == ids[0]
        for pid in ids:  # both pathways left where they were
            assert (
                db.session.scalar(
                    select(func.count())
                    .select_from(HumanTaskModel)
                    .where(HumanTaskModel.patient_id == pid)
                )
                == tasks_before[pid]
            )


def test_status_command_counts_messages(ward, app) -> None:
    with freeze_time(MONDAY):
        handle_hl7(adt("A31", "MSG-S1", NHS_NUMBERS[9], "Nightingale", "Florence"))
        handle_hl7(adt("A31", "MSG-S2", EDITH, "Cavell", "Edith", sex="F"))
        handle_hl7("not HL7")
        handle_hl7(adt("A03", "MSG-S3", EDITH, died_on="20261129", died="Y"))
        result = app.test_cli_runner().invoke(args=["mdt", "hl7-status"])
        assert result.exit_code == 0, result.output
        assert "not on a pathway: 1" in result.output
        assert "applied: 2" in result.output and "rejected (AR): 1" in result.output
        assert "deaths waiting for a coordinator to confirm: 1" in result.output


def test_two_listeners_never_apply_one_message_twice(ward, app) -> None:
    """The same message reaching two listeners at once: one applies it, the other answers
    with its acknowledgement (the control id is claimed by a unique insert)."""
    message = adt("A31", "MSG-TWICE", EDITH, "Cavell", "Edith", sex="F", mrn="H300003")
    db.session.commit()
    start = threading.Barrier(2)
    acks: list[str] = []

    def listener() -> None:
        with app.app_context(), freeze_time(MONDAY):
            start.wait()
            acks.append(handle_hl7(message))
            db.session.remove()

    threads = [threading.Thread(target=listener) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(acks) == 2 and acks[0] == acks[1] and "MSA|AA|MSG-TWICE" in acks[0]
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEventModel)
            .where(AuditEventModel.action == "pas.demographics_updated")
        )
        == 1
    )
    assert db.session.scalar(select(func.count()).select_from(Hl7MessageModel)) == 1


def test_numbers_the_pas_retired_elsewhere_still_find_the_patient(ward) -> None:
    with freeze_time(MONDAY):
        # The PAS merged a record that never came here into Edith's: its numbers find her.
        ack = handle_hl7(
            adt("A40", "MSG-M3", EDITH, "Cavell", "Edith", merge=(NHS_NUMBERS[7], "H999"))
        )
        assert "MSA|AA|MSG-M3" in ack
        assert find_registered(NHS_NUMBERS[7], None).id == ward["edith"]
        assert find_registered(None, "H999").id == ward["edith"]
        # Found by her MRN with an NHS number that is not one: understood, not applied (AE).
        handle_hl7(adt("A31", "MSG-MRN", EDITH, "Cavell", "Edith", mrn="H100001"))
        ack = handle_hl7(adt("A31", "MSG-BAD", "12345", "Cavell", "Edith", mrn="H100001"))
        assert "MSA|AE|MSG-BAD" in ack and "not an NHS number" in ack
        db.session.expire_all()
        assert db.session.get(PatientModel, ward["edith"]).nhs_number == EDITH


def test_gp_letters_are_held_while_a_reported_death_waits(ward) -> None:
    coordinator = ward["coordinator"]
    listing = db.session.scalar(
        select(ListingModel).where(ListingModel.patient_id == ward["edith"])
    )
    with freeze_time(datetime(2026, 12, 3, 13, 20, tzinfo=LONDON)):  # at the meeting
        confirm_outcome(coordinator, listing.id, OUTCOME, "Pathology on leave", None)
    with freeze_time(datetime(2026, 12, 4, 10, tzinfo=LONDON)):
        assert gp_letter(coordinator, listing.id).patient.id == ward["edith"]
        handle_hl7(adt("A03", "MSG-HOLD", EDITH, died_on="20261203", died="Y"))
        with pytest.raises(ConflictError, match="held"):
            gp_letter(coordinator, listing.id)
        notification = db.session.scalar(select(DeathNotificationModel))
        reject_death(coordinator, notification.id)
        assert gp_letter(coordinator, listing.id).patient.id == ward["edith"]


def test_someone_the_pas_sent_is_registered_without_retyping(
    ward, auth: Auth, client, make_user
) -> None:
    """An A28 for a person not on any pathway updates nothing; the registration page then
    fills itself from that message (audited), and registering needs no typing."""
    nurse = make_user("cns", username="pas-nurse")
    number = NHS_NUMBERS[3]
    with freeze_time(MONDAY):
        handle_hl7(
            adt("A28", "MSG-NEW1", number, "O'Brien", "Zoë", mrn="rxh777", born="19580412",
                sex="F", address="2 Mill Lane^^Leeds^^LS6 2AB", practice="B86001")
        )  # fmt: skip
        assert db.session.scalar(select(func.count(PatientModel.id))) == 1  # Edith only
        auth.login(nurse.username)
        page = client.get("/patients/new", query_string={"pas": "RXH777"}).get_data(as_text=True)
        assert "Filled in from the hospital system" in page
        for shown in (number, "RXH777", "O&#39;Brien", "Zoë", "LS6 2AB", "B86001", "1958"):
            assert f'value="{shown}"' in page, shown
        assert 'type="radio" value="female" checked' in page
        missing = client.get("/patients/new", query_string={"pas": "9990000000"})
        assert "has sent nothing about this NHS number" in missing.get_data(as_text=True)
        done = auth.post(
            "/patients/new",
            {"nhs_number": number, "mrn": "RXH777", "given_name": "Zoë",
             "family_name": "O'Brien", "date_of_birth-day": "12", "date_of_birth-month": "4",
             "date_of_birth-year": "1958", "sex": "female", "address_lines": "2 Mill Lane\nLeeds",
             "postcode": "LS6 2AB", "gp_practice_code": "B86001"},
            form_url="/patients/new",
        )  # fmt: skip
        assert done.status_code == 302
    zoe = db.session.scalar(select(PatientModel).where(PatientModel.nhs_number == number))
    assert (zoe.given_name, zoe.family_name, zoe.mrn, zoe.sex) == (
        "Zoë",
        "O'Brien",
        "RXH777",
        "female",
    )
    looked = db.session.scalars(
        select(AuditEventModel).where(AuditEventModel.action == "pas.looked_up")
    ).all()
    assert [row.detail["found"] for row in looked] == [True, False]
