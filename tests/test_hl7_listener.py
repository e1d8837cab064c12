"""The PAS feed end to end: the real MLLP listener (``mdt.services.pas.listener.serve``) on a
loopback port, messages sent with python-hl7's own MLLP client, acknowledgements read back
with python-hl7, and the database checked after each (issue 23)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import hl7
import pytest
from flask import Flask
from freezegun import freeze_time
from hl7.client import MLLPClient
from sqlalchemy import func, select

from mdt.extensions import db
from mdt.models import (
    AuditEventModel,
    DeathNotificationModel,
    Hl7MessageModel,
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    PathwayInstanceModel,
    PatientModel,
)
from mdt.services.meetings import add_listing, candidates, create_series, schedule_next
from mdt.services.pas import find_registered
from mdt.services.pas.listener import serve

from .helpers import NHS_NUMBERS, complete_with_examples, new_patient, ready_task
from .scenarios import DIAGNOSIS
from .timing import LONDON

pytestmark = pytest.mark.clock

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=LONDON)


def adt(
    trigger: str,
    control_id: str,
    nhs: str | None,
    family: str = "",
    given: str = "",
    *,
    mrn: str | None = None,
    born: str = "",
    sex: str = "",
    address: str = "",
    died_on: str = "",
    died: str = "",
    practice: str | None = None,
    merge: tuple[str | None, str | None] | None = None,
) -> str:
    """An ADT message as a PAS writes it (segments separated by carriage returns)."""
    ids = []
    if nhs:
        ids.append(f"{nhs}^^^NHS^NH")
    if mrn:
        ids.append(f"{mrn}^^^RIV^MR")
    pid = [""] * 31
    pid[1], pid[3], pid[5], pid[7], pid[8], pid[11] = (
        "1",
        "~".join(ids),
        f"{family}^{given}" if family or given else "",
        born,
        sex,
        address,
    )
    pid[29], pid[30] = died_on, died
    segments = [
        f"MSH|^~\\&|PAS|RIVERSIDE|MDT|RIVERSIDE|20261130090000||ADT^{trigger}^ADT_A01|"
        f"{control_id}|P|2.4",
        f"EVN|{trigger}|20261130090000",
        "PID|" + "|".join(pid[1:]).rstrip("|"),
    ]
    if practice:
        segments.append(f"PD1|||RIVERSIDE SURGERY^^{practice}")
    if merge:
        old = [f"{merge[0]}^^^NHS^NH"] if merge[0] else []
        old += [f"{merge[1]}^^^RIV^MR"] if merge[1] else []
        segments.append("MRG|" + "~".join(old))
    return "\r".join(segments)


@pytest.fixture
def listener(app: Flask) -> Iterator[int]:
    """The real listener on a free loopback port, in its own thread (its own app context
    and database session, as in its own process)."""
    ready = threading.Event()
    stop = threading.Event()
    bound: list[int] = []

    def on_ready(port: int) -> None:
        bound.append(port)
        ready.set()

    thread = threading.Thread(
        target=serve,
        args=(app, "127.0.0.1", 0),
        kwargs={"stop": stop, "on_ready": on_ready},
        daemon=True,
    )
    thread.start()
    assert ready.wait(10), "the listener did not start"
    yield bound[0]
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def send(port: int, message: str) -> hl7.Message:
    """Send one message with python-hl7's MLLP client and parse the acknowledgement."""
    db.session.commit()  # the test's own writes are visible to the listener
    with MLLPClient("127.0.0.1", port) as client:
        reply = client.send_message(message)
    db.session.expire_all()
    return hl7.parse(reply.strip(b"\x0b\x1c\r").decode("utf-8"))


def ack_code(ack: hl7.Message) -> str:
    return str(ack["MSA.F1"])


@pytest.fixture
def ward(pathway: Any, make_user: Any, actor: Any) -> Iterator[dict[str, Any]]:
    """Monday morning: Edith registered and listed for Thursday's MDT."""
    with freeze_time(MONDAY):
        coordinator = actor(make_user("coordinator", username="coord"))
        edith = new_patient(coordinator, 0, given="Edith", family="Cavell")
        complete_with_examples(
            coordinator, ready_task(edith.id, "Register secondary diagnosis"), **DIAGNOSIS
        )
        complete_with_examples(
            coordinator,
            ready_task(edith.id, "List for MDT review"),
            clinical_question="First-line treatment?",
        )
        series = create_series(coordinator, "Secondary breast MDT", 3, "13:00", "Room 4")
        meeting = schedule_next(coordinator, series.id)
        for task in candidates(meeting).tasks:
            add_listing(coordinator, meeting.id, task.id, "discussion", None, None)
        yield {"coordinator": coordinator, "edith": edith.id, "meeting": meeting.id}


def _patient(patient_id: int) -> PatientModel:
    return db.session.get(PatientModel, patient_id)


def test_demographics_and_a_repeat_are_applied_once(ward, listener) -> None:
    nhs = NHS_NUMBERS[0]
    with freeze_time(MONDAY):
        ack = send(
            listener,
            adt(
                "A28",
                "MSG-1",
                nhs,
                "Cavell",
                "Edith",
                mrn="H100001",
                born="19600101",
                sex="F",
                address="14 Ashgrove Terrace^Headingley^Leeds^^ls6 3bp",
                practice="B86001",
            ),
        )
        assert ack_code(ack) == "AA" and str(ack["MSA.F2"]) == "MSG-1"
        assert str(ack["MSH.F9.R1.C1"]) == "ACK"
        edith = _patient(ward["edith"])
        assert edith.sex == "female" and edith.mrn == "H100001"
        assert edith.address == "14 Ashgrove Terrace\nHeadingley\nLeeds"
        assert edith.postcode == "LS6 3BP" and edith.gp_practice_code == "B86001"

        # A31: a change of name, written as the PAS writes it, found by the folded name.
        rename = adt("A31", "MSG-2", nhs, "Cavell-Smith", "Édith", mrn="H100001")
        assert ack_code(send(listener, rename)) == "AA"
        edith = _patient(ward["edith"])
        assert (edith.given_name, edith.family_name) == ("Édith", "Cavell-Smith")
        assert edith.search_name == "edith cavell-smith"
        updates = db.session.scalar(
            select(func.count())
            .select_from(AuditEventModel)
            .where(AuditEventModel.action == "pas.demographics_updated")
        )
        assert updates == 2

        # The same message again (the PAS did not see the ACK): the first answer, nothing
        # applied twice, stored once.
        first = db.session.scalar(
            select(Hl7MessageModel.ack).where(Hl7MessageModel.control_id == "MSG-2")
        )
        again = send(listener, rename)
        assert str(again) == first
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEventModel)
                .where(AuditEventModel.action == "pas.demographics_updated")
            )
            == 2
        )
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Hl7MessageModel)
                .where(Hl7MessageModel.control_id == "MSG-2")
            )
            == 1
        )

        # Someone the service does not care for: acknowledged, nothing updated, counted.
        stranger = adt("A31", "MSG-3", NHS_NUMBERS[9], "Nightingale", "Florence")
        assert ack_code(send(listener, stranger)) == "AA"
        row = db.session.scalar(
            select(Hl7MessageModel).where(Hl7MessageModel.control_id == "MSG-3")
        )
        assert row.outcome == "not_on_pathway" and row.patient_id is None
        assert find_registered(NHS_NUMBERS[9], None) is None
        processed = db.session.scalars(
            select(AuditEventModel).where(AuditEventModel.action == "pas.message_processed")
        ).all()
        assert len(processed) == 3 and {a.actor_name for a in processed} == {"pas-feed"}


def test_a_merge_moves_the_retired_record_to_the_survivor(ward, listener) -> None:
    coordinator = ward["coordinator"]
    with freeze_time(MONDAY):
        # The PAS had two records for one person; only the duplicate's pathway ran here.
        survivor = new_patient(coordinator, 3, start=False, given="Mary", family="Seacole")
        retired = new_patient(coordinator, 4, given="Mary", family="Seacole")
        old_nhs, new_nhs = NHS_NUMBERS[4], NHS_NUMBERS[3]
        tasks = db.session.scalar(
            select(func.count())
            .select_from(HumanTaskModel)
            .where(HumanTaskModel.patient_id == retired.id)
        )
        assert tasks > 0
        ids = (survivor.id, retired.id)
        message = adt(
            "A40", "MSG-40", new_nhs, "Seacole", "Mary", mrn="H200001", merge=(old_nhs, "H200009")
        )
        ack = send(listener, message)
        assert ack_code(ack) == "AA", str(ack)
        survivor, retired = _patient(ids[0]), _patient(ids[1])
        assert retired.merged_into_id == survivor.id
        instance = db.session.scalar(select(PathwayInstanceModel))
        moved_tasks = db.session.scalar(
            select(func.count())
            .select_from(HumanTaskModel)
            .where(HumanTaskModel.patient_id == survivor.id)
        )
        assert moved_tasks == tasks
        instances = db.session.scalars(
            select(PathwayInstanceModel.patient_id).where(PathwayInstanceModel.patient_id.in_(ids))
        ).all()
        assert instance is not None and set(instances) == {survivor.id}
        # The old NHS number and MRN find the survivor; nothing was deleted.
        assert find_registered(old_nhs, None).id == survivor.id
        assert find_registered(None, "H200009").id == survivor.id
        assert db.session.get(PatientModel, ids[1]) is not None
        # The audit trail stays as it happened.
        registered = db.session.scalar(
            select(AuditEventModel).where(
                AuditEventModel.action == "patient.registered",
                AuditEventModel.patient_id == ids[1],
            )
        )
        assert registered is not None
        merged = db.session.scalars(
            select(AuditEventModel).where(AuditEventModel.action == "pas.patients_merged")
        ).all()
        assert {a.patient_id for a in merged} == set(ids)


def test_a_death_takes_the_patient_off_the_list_and_asks_the_coordinator(ward, listener) -> None:
    with freeze_time(MONDAY):
        listing = db.session.scalar(
            select(ListingModel).where(ListingModel.patient_id == ward["edith"])
        )
        assert listing.status == ListingStatus.LISTED
        ack = send(listener, adt("A03", "MSG-DIED", NHS_NUMBERS[0], died_on="20261129", died="Y"))
        assert ack_code(ack) == "AA"
        listing = db.session.get(ListingModel, listing.id)
        assert listing.status == ListingStatus.REMOVED and listing.removed_reason == "died"
        notification = db.session.scalar(select(DeathNotificationModel))
        assert notification.patient_id == ward["edith"]
        assert notification.date_of_death == date(2026, 11, 29)
        assert notification.status == "pending"
        # Until a coordinator confirms, the pathway is not closed.
        assert _patient(ward["edith"]).date_of_death is None


def test_malformed_messages_get_ar_and_are_kept(ward, listener) -> None:
    with freeze_time(MONDAY):
        garbage = "this is not HL7 at all"
        assert ack_code(send(listener, garbage)) == "AR"
        no_pid = "MSH|^~\\&|PAS|RIV|MDT|RIV|20261130090000||ADT^A31|MSG-NOPID|P|2.4"
        assert ack_code(send(listener, no_pid)) == "AR"
        unsupported = adt("A02", "MSG-A02", NHS_NUMBERS[0], "Cavell", "Edith")
        assert ack_code(send(listener, unsupported)) == "AR"
        rows = db.session.scalars(
            select(Hl7MessageModel).where(Hl7MessageModel.outcome == "rejected")
        ).all()
        assert {row.raw for row in rows} == {garbage, no_pid, unsupported}
        assert all(row.ack_code == "AR" and row.error for row in rows)
        # Understood but cannot be applied (a name with a hidden right-to-left override): AE,
        # nothing changed, the message kept.
        hidden = adt("A31", "MSG-RTL", NHS_NUMBERS[0], "Cav\u202eell", "Edith")
        ack = send(listener, hidden)
        assert ack_code(ack) == "AE" and "hidden" in str(ack["MSA.F3"])
        assert _patient(ward["edith"]).family_name == "Cavell"
        row = db.session.scalar(
            select(Hl7MessageModel).where(Hl7MessageModel.control_id == "MSG-RTL")
        )
        assert row.outcome == "error" and row.raw == hidden


def test_the_listener_survives_a_client_dropping_mid_message(ward, listener) -> None:
    with freeze_time(MONDAY):
        half = ("\x0b" + adt("A31", "MSG-HALF", NHS_NUMBERS[0], "Half", "Sent"))[:40]
        with socket.create_connection(("127.0.0.1", listener), timeout=5) as raw:
            raw.sendall(half.encode())
        ack = send(listener, adt("A31", "MSG-AFTER", NHS_NUMBERS[0], "Cavell", "Edith", sex="F"))
        assert ack_code(ack) == "AA"
        assert _patient(ward["edith"]).sex == "female"
        assert (
            db.session.scalar(
                select(Hl7MessageModel).where(Hl7MessageModel.control_id == "MSG-HALF")
            )
            is None
        )
