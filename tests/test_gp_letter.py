"""The GP letter is a real letter (issue 20): letterhead and return address, the practice
with its ODS code and address, the patient's identity and address, the letter's date, the
diagnosis, the recommendation in the pathway's own sentences, actions with owners, who tells
the patient, who signs, and a copy to the patient when they asked for one. And the patient
details it needs: address, practice ODS code and address, copies, from the screen and the API.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from freezegun import freeze_time
from pypdf import PdfReader
from sqlalchemy import create_engine, inspect, select, text

from mdt import create_app
from mdt.extensions import db
from mdt.models import ListingModel, PatientModel
from mdt.services.gp_letters import letter_sentences
from mdt.services.meetings import (
    add_listing,
    candidates,
    confirm_outcome,
    create_series,
    schedule_next,
)
from mdt.services.patient_contact import ContactDetails, checked, normal_postcode
from mdt.services.patients import register_patient

from .conftest import ROOT, Auth
from .helpers import NHS_NUMBERS, complete_with_examples, ready_task
from .scenarios import DIAGNOSIS

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend

LONDON = ZoneInfo("Europe/London")
ARTIFACTS = ROOT / "artifacts" / "pdfs"
OUTCOME = {
    "meeting_date": "2026-12-03",
    "discussion": "discussed",
    "recommendation": "CDK4/6 inhibitor with letrozole",
    "treatment_intent": "disease_control",
    "planned_treatment": "cdk46",
    "trial_considered": "not_eligible",
    "performance_status": 1,
    "palliative_referral_recommended": True,
    "informs_patient": "Dr Okafor at clinic on Friday",
    "checked_by": "Dr Zoë <b>Łucja</b> & 王",
}
RIVERSIDE = ContactDetails(
    address_lines=("14 Ashgrove Terrace", "Headingley", "Leeds"),
    postcode="ls6 3bp",
    gp_practice_code="b86001",
    gp_practice_address_lines=("12 Riverside Road", "Leeds", "LS2 7HY"),
    wants_letter_copies=True,
)


@pytest.fixture
def letters(pathway, make_user, actor, app: Flask) -> Any:
    """Monday 30 November 2026: two patients listed for Thursday's MDT, one who wants copies
    of letters; their outcomes confirmed at the meeting. Letters are written on Friday."""
    app.config.update(
        MDT_ORGANISATION="Riverside NHS Trust",
        MDT_ORGANISATION_ADDRESS="St James's Hospital; Beckett Street; Leeds LS9 7TF",
    )
    with freeze_time(datetime(2026, 11, 30, 9, tzinfo=LONDON)) as frozen:
        coordinator = actor(make_user("coordinator", username="coord"))
        wanted = [RIVERSIDE, ContactDetails(("1 Low Road", "Leeds"), "LS10 1AA", "B86002")]
        patients = []
        for index, contact in enumerate(wanted):
            patient = register_patient(
                coordinator,
                NHS_NUMBERS[index],
                "Jo",
                f"Letter{index}",
                date(1960, 1, 1 + index),
                "Riverside Surgery",
                contact=contact,
            )
            complete_with_examples(
                coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
            )
            complete_with_examples(coordinator, ready_task(patient.id, "Allocate a CNS key worker"))
            complete_with_examples(
                coordinator,
                ready_task(patient.id, "List for MDT review"),
                clinical_question="First-line treatment?",
            )
            patients.append(patient.id)
        series = create_series(coordinator, "Secondary breast MDT", 3, "13:00", "Room 4")
        meeting = schedule_next(coordinator, series.id)
        for task in candidates(meeting).tasks:
            add_listing(coordinator, meeting.id, task.id, "discussion", None, None)
        frozen.move_to(datetime(2026, 12, 3, 13, 20, tzinfo=LONDON))  # at the meeting
        listings = []
        for patient_id in patients:
            listing = db.session.scalar(
                select(ListingModel).where(ListingModel.patient_id == patient_id)
            )
            confirm_outcome(coordinator, listing.id, OUTCOME, "Pathology on leave", None)
            listings.append(listing.id)
        frozen.move_to(datetime(2026, 12, 4, 10, tzinfo=LONDON))  # the letters go on Friday
        yield listings


def _letter(client, listing_id: int) -> str:
    response = client.get(f"/meetings/listings/{listing_id}/gp-letter.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # to open and look at
    (ARTIFACTS / f"GP-letter-{listing_id}.pdf").write_bytes(response.data)
    reader = PdfReader(io.BytesIO(response.data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_gp_letter_is_a_letter(letters, auth: Auth, client) -> None:
    auth.login("coord")
    letter = _letter(client, letters[0])
    flat = " ".join(letter.split())
    # Letterhead and return address from the settings; the practice with its code and address.
    assert "Riverside NHS Trust" in flat and "Beckett Street" in flat and "Leeds LS9 7TF" in flat
    assert "Return address: Riverside NHS Trust, St James's Hospital" in flat
    assert "Riverside Surgery" in flat and "ODS code B86001" in flat
    assert "12 Riverside Road" in flat and "LS2 7HY" in flat
    # The patient, the letter's date (Friday) and the meeting's (Thursday).
    assert "Jo Letter0" in flat and "1 January 1960" in flat
    assert "14 Ashgrove Terrace, Headingley, Leeds, LS6 3BP" in flat
    assert "4 December 2026" in flat and "3 December 2026" in flat
    # The diagnosis as it stood, the recommendation in the pathway's sentences.
    assert "Diagnosis and current sites" in flat and "Liver (C78.7)" in flat
    assert "The team recommends: CDK4/6 inhibitor with letrozole" in flat
    assert "The aim of treatment is disease control and life extension." in flat
    assert "The team recommends referral to specialist palliative care." in flat
    assert "Meeting date" not in flat  # x-letter: false
    assert "Was the patient discussed?" not in flat  # no question-and-answer table
    # Actions with owners; who tells the patient; the key worker; who signs, with role.
    assert "Treatment planning consultation Oncologist By " in flat
    assert "Send the MDT outcome to the GP" not in flat  # this letter is that action
    assert "The patient will be told of this outcome by Dr Okafor at clinic on Friday." in flat
    assert "Their key worker is" in flat
    assert "Yours sincerely, Coord MDT coordinator, for the Secondary breast MDT" in flat
    # The answer exactly as typed: escaped, not interpreted, every character kept.
    assert "The outcome was checked by Dr Zoë <b>Łucja</b> & 王." in flat
    assert "cc: the patient, Jo Letter0, 14 Ashgrove Terrace, Headingley, Leeds, LS6 3BP" in flat


def test_no_copy_to_a_patient_who_did_not_ask_for_one(letters, auth: Auth, client) -> None:
    auth.login("coord")
    flat = " ".join(_letter(client, letters[1]).split())
    assert "ODS code B86002" in flat and "1 Low Road, Leeds, LS10 1AA" in flat
    assert "cc:" not in flat and "cc " not in flat


def test_the_download_is_audited_and_needs_a_confirmed_outcome(letters, auth, client) -> None:
    from mdt.models import AuditEventModel

    auth.login("coord")
    client.get(f"/meetings/listings/{letters[0]}/gp-letter.pdf")
    assert db.session.scalar(
        select(AuditEventModel).where(AuditEventModel.action == "gpletter.downloaded")
    )
    listing = db.session.get(ListingModel, letters[0])
    listing.status = "listed"
    db.session.commit()
    assert client.get(f"/meetings/listings/{letters[0]}/gp-letter.pdf").status_code == 409


def test_sentences_come_from_the_form_and_fall_back_to_question_and_answer() -> None:
    schema = {
        "properties": {
            "when": {"type": "string", "format": "date", "title": "When", "x-letter": False},
            "plan": {"type": "string", "title": "Plan", "x-letter": "The team advises {value}."},
            "refer": {
                "type": "boolean",
                "title": "Refer?",
                "x-letter": {"true": "Please refer.", "false": "No referral is needed."},
            },
            "intent": {
                "type": "string",
                "title": "Intent",
                "oneOf": [{"const": "a", "title": "Cure"}, {"const": "b", "title": "Control"}],
                "x-letter": {"a": "The aim is cure."},
            },
            "who": {
                "type": "string",
                "title": "Who tells them",
                "x-letter": "{value} will tell them.",
                "x-letter-part": "informs-patient",
            },
            "note": {"type": "string", "title": "Note"},
        }
    }
    data = {"when": "2026-12-03", "plan": "rest", "refer": False, "intent": "b", "who": "Sam"}
    assert letter_sentences(schema, {**data, "note": "Seen"}) == {
        "recommendation": ["The team advises rest.", "No referral is needed.", "Intent: Control",
                           "Note: Seen"],
        "informs-patient": ["Sam will tell them."],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "tidy"),
    [("ls1 4ap", "LS1 4AP"), ("SW1A2AA", "SW1A 2AA"), (" m1  1ae ", "M1 1AE"), ("LS1", None),
     ("ZZ99 3VZ", "ZZ99 3VZ"), ("12345", None), ("LS1 4AP X", None)],
)  # fmt: skip
def test_postcodes(typed: str, tidy: str | None) -> None:
    assert normal_postcode(typed) == tidy


def test_contact_details_are_checked_all_at_once() -> None:
    tidy, errors = checked(RIVERSIDE)
    assert errors == {} and (tidy.postcode, tidy.gp_practice_code) == ("LS6 3BP", "B86001")
    _, errors = checked(
        ContactDetails(("1 High St",), "LS1", "AB1234", ("x",) * 6, wants_letter_copies=True)
    )
    assert errors == {
        "postcode": "Enter a real UK postcode, like LS1 4AP",
        "gp_practice_code": "GP practice ODS code must be a letter followed by 5 numbers, "
        "like A81001",
        "gp_practice_address_lines": "Enter the GP practice's address in 5 lines or fewer",
    }
    assert checked(ContactDetails(wants_letter_copies=True))[1] == {
        "address_lines": "Enter the patient's address, so that copies of letters reach them"
    }
    assert checked(ContactDetails(("1 High St",)))[1] == {
        "postcode": "Enter the patient's postcode"
    }


FORM = {
    "nhs_number": NHS_NUMBERS[3],
    "given_name": "Grace",
    "family_name": "Hopper",
    "date_of_birth-day": "9",
    "date_of_birth-month": "12",
    "date_of_birth-year": "1956",
    "address_lines": "Flat 3, Victoria Court\r\n2 Cardigan Road\r\n\r\nLeeds",
    "postcode": "ls6 1lf",
    "gp_practice": "Park Lane Practice",
    "gp_practice_code": "b86002",
    "gp_practice_address_lines": "40 Park Lane\nLeeds\nLS3 1EP",
    "wants_letter_copies": "yes",
}


def test_registration_refuses_a_bad_ods_code_or_postcode_and_keeps_what_was_typed(
    pathway, make_user, auth: Auth, clock
) -> None:
    make_user("coordinator", username="coord")
    auth.login("coord")
    refused = auth.post(
        "/patients/new", {**FORM, "gp_practice_code": "8600X", "postcode": "LS6 XX1"}
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "GP practice ODS code must be a letter followed by 5 numbers, like A81001" in page
    assert "Enter a real UK postcode, like LS1 4AP" in page
    assert 'href="#field-gp_practice_code"' in page and 'href="#field-postcode"' in page
    assert 'value="8600X"' in page and 'value="LS6 XX1"' in page  # kept as typed
    assert "Flat 3, Victoria Court" in page and "40 Park Lane" in page
    assert 'value="yes" checked' in page
    assert db.session.scalar(select(PatientModel)) is None

    assert auth.post("/patients/new", FORM).status_code == 302
    patient = db.session.scalar(select(PatientModel))
    assert patient.address_lines == ["Flat 3, Victoria Court", "2 Cardigan Road", "Leeds"]
    assert (patient.postcode, patient.gp_practice_code) == ("LS6 1LF", "B86002")
    assert patient.gp_practice == "Park Lane Practice" and patient.wants_letter_copies is True
    assert patient.gp_practice_address_lines == ["40 Park Lane", "Leeds", "LS3 1EP"]


def test_the_api_registers_and_returns_the_address_and_practice(
    pathway, make_user, client, clock
) -> None:
    from mdt.services.actor import SYSTEM
    from mdt.services.api_tokens import create_token

    user = make_user("coordinator", username="api-coord")
    headers = {"Authorization": f"Bearer {create_token(SYSTEM, user.id, 'tests')[1]}"}
    body = {
        "nhs_number": NHS_NUMBERS[4],
        "given_name": "Zoë Łucja",
        "family_name": "Nguyễn-王",
        "date_of_birth": "1961-02-03",
        "address_lines": ["14 Ashgrove Terrace", "Leeds"],
        "postcode": "ls6 3bp",
        "gp_practice": "Riverside Surgery",
        "gp_practice_code": "b86001",
        "gp_practice_address_lines": ["12 Riverside Road", "Leeds LS2 7HY"],
        "wants_letter_copies": True,
    }
    bad = client.post("/api/v1/patients", json={**body, "gp_practice_code": "B8600"},
                      headers=headers)  # fmt: skip
    assert bad.status_code == 422
    assert bad.json["error"]["details"] == {
        "gp_practice_code": "GP practice ODS code must be a letter followed by 5 numbers, "
        "like A81001"
    }
    made = client.post("/api/v1/patients", json=body, headers=headers)
    assert made.status_code == 201, made.json
    read = client.get(f"/api/v1/patients/{made.json['id']}", headers=headers).json
    assert read["address_lines"] == ["14 Ashgrove Terrace", "Leeds"]
    assert (read["postcode"], read["gp_practice_code"]) == ("LS6 3BP", "B86001")
    assert read["gp_practice_address_lines"] == ["12 Riverside Road", "Leeds LS2 7HY"]
    assert read["wants_letter_copies"] is True and read["family_name"] == "Nguyễn-王"

    bundle = client.get(f"/api/v1/patients/{made.json['id']}/fhir", headers=headers).json
    [fhir_patient] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert fhir_patient["address"] == [
        {"use": "home", "line": ["14 Ashgrove Terrace", "Leeds"], "postalCode": "LS6 3BP"}
    ]
    assert fhir_patient["generalPractitioner"] == [
        {
            "type": "Organization",
            "identifier": {
                "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                "value": "B86001",
            },
            "display": "Riverside Surgery",
        }
    ]


def test_migration_0014_adds_the_columns_and_keeps_every_patient(tmp_path) -> None:
    """Up from 0013 with a patient in the table, down again, up again (SQLite batch mode)."""
    url = f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
    fresh = create_app({"TESTING": True, "SECRET_KEY": "m" * 40, "SQLALCHEMY_DATABASE_URI": url})
    migrations = str(ROOT / "migrations")
    engine = create_engine(url)
    with fresh.app_context():
        upgrade(directory=migrations, revision="0013")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO patient (nhs_number, given_name, family_name, date_of_birth, "
                    "gp_practice, created_at) VALUES ('9990000018', 'Ada', 'Old', '1960-01-01', "
                    "'Riverside', '2026-01-01 09:00:00')"
                )
            )
        upgrade(directory=migrations, revision="0014")
        columns = {c["name"] for c in inspect(engine).get_columns("patient")}
        new = {"address", "postcode", "gp_practice_code", "gp_practice_address"}
        assert new | {"wants_letter_copies"} <= columns
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT gp_practice, postcode, wants_letter_copies FROM patient")
            ).one()
        assert tuple(row) == ("Riverside", None, None)
        downgrade(directory=migrations, revision="0013")
        assert not new & {c["name"] for c in inspect(engine).get_columns("patient")}
        upgrade(directory=migrations, revision="0014")
        db.session.remove()
        db.engine.dispose()
    engine.dispose()
