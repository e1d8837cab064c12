"""Key workers and caseloads: the key worker is a CNS account, each nurse's "My patients",
cover and handover; notifications cleared when the task is done, never about your own
actions, and a daily digest."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdt.extensions import db
from mdt.models import AuditEventModel, HumanTaskModel, NotificationModel, PatientModel
from mdt.models.instance import PathwayInstanceModel
from mdt.services.assignments import claim_task
from mdt.services.caseloads import caseload, key_worker_by_name, move_caseload, set_key_worker
from mdt.services.errors import InvalidInputError, PermissionDeniedError
from mdt.services.notifications import email_pass, notify_pass, tell_role, unread_count
from mdt.services.worklist import WorklistQuery, worklist

from .conftest import Auth
from .helpers import complete_with_examples, new_patient, ready_task, ready_tasks
from .scenarios import DIAGNOSIS
from .timing import LONDON

pytestmark = pytest.mark.clock


@pytest.fixture
def team(clock, pathway, make_user, actor):
    """Two nurses, a coordinator, an oncologist; two patients with Nurse as key worker
    (allocated through the pathway's own form) and one with nobody yet."""
    users = {
        "coord": make_user("coordinator", username="coord"),
        "nurse": make_user("cns", username="nurse"),
        "nurse2": make_user("cns", username="nurse2"),
        "onc": make_user("oncologist", username="onc"),
    }
    coordinator = actor(users["coord"])
    patients = []
    for index, (given, family) in enumerate([("Ada", "Lovelace"), ("Edith", "Cavell")]):
        patient = new_patient(coordinator, index, given=given, family=family)
        complete_with_examples(
            coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
        )
        complete_with_examples(
            coordinator,
            ready_task(patient.id, "Allocate a CNS key worker"),
            key_worker_name="Nurse",
            key_worker_phone="0113 496 0001",
        )
        patients.append(patient)
    patients.append(new_patient(coordinator, 2, given="Mary", family="Seacole"))
    return users, patients


def test_the_allocation_form_names_a_cns_account(team) -> None:
    users, (ada, edith, mary) = team
    for patient in (ada, edith):
        db.session.refresh(patient)
        assert patient.key_worker_id == users["nurse"].id
        assert patient.key_worker_name == "Nurse" and patient.key_worker_phone == "0113 496 0001"
    assert mary.key_worker_id is None
    set_by = db.session.scalars(
        select(AuditEventModel.patient_id).where(AuditEventModel.action == "patient.key_worker_set")
    ).all()
    assert sorted(set_by) == sorted([ada.id, edith.id])


def test_only_an_active_account_of_the_key_worker_s_role_is_a_key_worker(team, make_user) -> None:
    users, _ = team
    make_user("oncologist", username="alex")  # display name "Alex", not a nurse
    assert key_worker_by_name("Alex", "cns") is None
    assert key_worker_by_name("Alex", "oncologist").username == "alex"  # the profile's role
    assert key_worker_by_name("Nurse", "cns").id == users["nurse"].id
    users["nurse"].active = False
    db.session.commit()
    assert key_worker_by_name("Nurse", "cns") is None


def test_the_key_worker_action_on_the_record(team, auth: Auth, client: FlaskClient) -> None:
    users, (_, _, mary) = team
    auth.login("coord")
    record = client.get(f"/patients/{mary.id}").get_data(as_text=True)
    assert f"/patients/{mary.id}/key-worker" in record
    url = f"/patients/{mary.id}/key-worker"
    page = client.get(url).get_data(as_text=True)
    assert "Nurse2" in page and ">Onc<" not in page  # nurses only
    wrong = auth.post(url, {"key_worker_id": users["onc"].id, "phone": "call me"})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and "There is a problem" in text
    assert "clinical nurse specialist with an active account" in text and "UK phone number" in text
    assert 'value="call me"' in text  # what was typed is kept
    done = auth.post(url, {"key_worker_id": users["nurse2"].id, "phone": ""})
    assert done.status_code == 302
    db.session.refresh(mary)
    assert (mary.key_worker_id, mary.key_worker_name, mary.key_worker_phone) == (
        users["nurse2"].id,
        "Nurse2",
        None,
    )
    auth.post(url, {"key_worker_id": users["nurse2"].id, "phone": "0113 496 0999"})
    assert "Nurse2, 0113 496 0999" in client.get(f"/patients/{mary.id}").get_data(as_text=True)
    audited = db.session.scalar(
        select(func.count())
        .select_from(AuditEventModel)
        .where(
            AuditEventModel.action == "patient.key_worker_set",
            AuditEventModel.patient_id == mary.id,
        )
    )
    assert audited == 2


def test_an_oncologist_cannot_name_a_key_worker(team, actor) -> None:
    users, (_, _, mary) = team
    with pytest.raises(PermissionDeniedError):
        set_key_worker(actor(users["onc"]), mary.id, users["nurse"].id, None)


def test_my_patients_lists_the_caseload_with_open_work(
    team, auth: Auth, client: FlaskClient, actor
) -> None:
    users, (ada, edith, _) = team
    entries = caseload(actor(users["nurse"]), users["nurse"].id)
    assert [entry.patient.id for entry in entries] == [edith.id, ada.id]  # by family name
    first_contact = ready_task(ada.id, "First contact with key worker")
    ada_entry = entries[1]
    assert first_contact.id in [task.id for task in ada_entry.open_tasks]
    assert ada_entry.next_due == min(t.due_at for t in ada_entry.open_tasks if t.due_at)
    auth.login("nurse")
    page = client.get("/caseload").get_data(as_text=True)
    assert "My patients" in page and "LOVELACE, Ada" in page and "CAVELL, Edith" in page
    assert "SEACOLE" not in page and "First contact with key worker" in page
    assert 'href="/caseload"' in client.get("/tasks").get_data(as_text=True)  # in the nav
    # Another nurse sees only their own.
    with pytest.raises(PermissionDeniedError):
        caseload(actor(users["nurse2"]), users["nurse"].id)


def test_the_caseload_leaves_out_those_who_died_or_left_care(team, actor) -> None:
    users, (ada, edith, _) = team
    ada.date_of_death = datetime(2026, 11, 20).date()
    instance = db.session.scalar(
        select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == edith.id)
    )
    instance.close_reason = "discharge"
    db.session.commit()
    assert caseload(actor(users["nurse"]), users["nurse"].id) == []


def test_the_caseload_is_a_few_queries(team, actor, app: Flask) -> None:
    from sqlalchemy import event

    users, _ = team
    statements: list[str] = []

    def count(*args, **kwargs) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        entries = caseload(actor(users["nurse"]), users["nurse"].id)
        for entry in entries:
            [task.name for task in entry.open_tasks]
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # the patients' ids, the patients, their open tasks (with who holds them) and those
    # people's roles: the same few whatever the size of the caseload
    assert len(selects) <= 5, selects


def test_handover_moves_all_or_chosen_patients_with_their_tasks(team, actor) -> None:
    users, (ada, edith, _) = team
    coordinator, nurse, nurse2 = actor(users["coord"]), users["nurse"], users["nurse2"]
    held = ready_task(ada.id, "First contact with key worker")
    claim_task(actor(nurse), held.id)
    mine = WorklistQuery(view="mine")
    assert worklist(actor(nurse2), mine, datetime.now(UTC), 2).counts["mine"] == 0
    with pytest.raises(PermissionDeniedError):
        move_caseload(actor(nurse), nurse.id, nurse2.id)
    with pytest.raises(InvalidInputError, match="clinical nurse specialist"):
        move_caseload(coordinator, nurse.id, users["onc"].id)
    with pytest.raises(InvalidInputError, match="no longer"):
        move_caseload(coordinator, nurse.id, nurse2.id, [ada.id, 999_999])
    db.session.refresh(ada)
    assert ada.key_worker_id == nurse.id  # nothing moved
    moved = move_caseload(coordinator, nurse.id, nurse2.id, [ada.id])
    assert [p.id for p in moved] == [ada.id]
    db.session.refresh(ada)
    db.session.refresh(edith)
    assert (ada.key_worker_id, edith.key_worker_id) == (nurse2.id, nurse.id)
    assert ada.key_worker_name == "Nurse2" and ada.key_worker_phone is None
    assert db.session.get(HumanTaskModel, held.id).assigned_to_id == nurse2.id
    # "Assigned to me" follows: the task the first nurse held is now the new nurse's.
    assert worklist(actor(nurse2), mine, datetime.now(UTC), 2).counts["mine"] == 1
    move_caseload(coordinator, nurse.id, nurse2.id)  # the rest
    assert caseload(coordinator, nurse.id) == []
    assert len(caseload(coordinator, nurse2.id)) == 2
    actions = db.session.scalars(
        select(AuditEventModel.action).where(AuditEventModel.action == "caseload.moved")
    ).all()
    assert len(actions) == 2


def test_handover_page(team, auth: Auth, client: FlaskClient) -> None:
    users, (_, edith, _) = team
    auth.login("coord")
    page = client.get(f"/caseload/handover?from_id={users['nurse'].id}").get_data(as_text=True)
    assert "LOVELACE, Ada" in page and "CAVELL, Edith" in page
    refused = auth.post(
        "/caseload/handover",
        {"from_id": users["nurse"].id, "to_id": users["nurse2"].id, "scope": "chosen"},
        form_url=f"/caseload/handover?from_id={users['nurse'].id}",
    )
    assert refused.status_code == 400 and "Select the patients to move" in refused.get_data(
        as_text=True
    )
    done = auth.post(
        "/caseload/handover",
        {
            "from_id": users["nurse"].id,
            "to_id": users["nurse2"].id,
            "scope": "chosen",
            "patient_ids": [edith.id],
        },
        form_url=f"/caseload/handover?from_id={users['nurse'].id}",
    )
    assert done.status_code == 302
    db.session.refresh(edith)
    assert edith.key_worker_id == users["nurse2"].id
    page = client.get(f"/caseload?nurse={users['nurse2'].id}").get_data(as_text=True)
    assert "Nurse2's patients" in page and "CAVELL, Edith" in page


# -- notifications -----------------------------------------------------------------


def test_notifications_are_cleared_when_anyone_does_the_task(
    team, actor, auth: Auth, client: FlaskClient
) -> None:
    users, (ada, _, _) = team
    notify_pass(datetime.now(UTC))
    task = ready_task(ada.id, "First contact with key worker")
    nurse2_notes = select(NotificationModel).where(
        NotificationModel.user_id == users["nurse2"].id, NotificationModel.task_id == task.id
    )
    assert db.session.scalars(nurse2_notes).all()
    before = unread_count(users["nurse2"].id)
    complete_with_examples(actor(users["nurse"]), task)  # the other nurse does it
    # At once: no longer unread for anyone ...
    assert unread_count(users["nurse2"].id) < before
    auth.login("nurse2")
    page = client.get("/notifications").get_data(as_text=True)
    assert re.search(
        r"First contact with key worker</a>\s*for [^<]*<strong[^>]*>Done</strong>", page
    )
    # ... and the next pass marks them read (and not to be e-mailed).
    notify_pass(datetime.now(UTC))
    for note in db.session.scalars(nurse2_notes):
        assert note.read_at is not None and note.emailed_at is not None


def test_nobody_is_told_about_their_own_actions(team, actor, make_user, clock) -> None:
    users, (_, _, mary) = team
    colleague = make_user("coordinator", username="coord2")
    before = {t.id for t in ready_tasks(mary.id)}
    complete_with_examples(
        actor(users["coord"]), ready_task(mary.id, "Register secondary diagnosis"), **DIAGNOSIS
    )
    notify_pass(datetime.now(UTC))
    new_tasks = [
        t.id for t in ready_tasks(mary.id) if t.id not in before and t.role == "coordinator"
    ]
    assert new_tasks, "registering the diagnosis opens new coordinator tasks"

    def told(user_id: int) -> int:
        return db.session.scalar(
            select(func.count())
            .select_from(NotificationModel)
            .where(
                NotificationModel.user_id == user_id,
                NotificationModel.kind == "new",
                NotificationModel.task_id.in_(new_tasks),
            )
        )

    assert told(users["coord"].id) == 0 and told(colleague.id) == len(new_tasks)
    # Events: the coordinator who took a patient off a list is not told; colleagues are.
    tell_role(
        "coordinator",
        "off_list",
        "taken off the list",
        patient_id=mary.id,
        subject=("meeting", 1),
        now=datetime.now(UTC),
        actor=actor(users["coord"]),
    )
    db.session.commit()
    off_list = select(NotificationModel.user_id).where(NotificationModel.kind == "off_list")
    assert db.session.scalars(off_list).all() == [colleague.id]


@pytest.fixture
def smtp_server(app: Flask):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Keep(Message):
        def handle_message(self, message) -> None:
            received.append(message)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MDT_SMTP_HOST="127.0.0.1", MDT_SMTP_PORT=port)
    yield received
    app.config.update(MDT_SMTP_HOST="")
    controller.stop()


def test_a_daily_digest_goes_once_a_day_at_its_hour(
    pathway, make_user, actor, smtp_server, clock, auth: Auth, client: FlaskClient
) -> None:
    clock.move_to(datetime(2026, 11, 24, 6, 0, tzinfo=LONDON))
    daily = make_user("coordinator", username="daily")
    prompt = make_user("coordinator", username="prompt")
    daily.email, prompt.email = "daily@example.nhs.uk", "prompt@example.nhs.uk"
    db.session.commit()
    auth.login("daily")
    refused = auth.post("/account/notifications", {"digest_hour": "3"}, form_url="/account")
    assert refused.status_code == 400
    auth.post("/account/notifications", {"digest_hour": "7"}, form_url="/account")
    db.session.refresh(daily)
    assert daily.digest_hour == 7
    assert "One summary a day at 07:00" in client.get("/account").get_data(as_text=True)

    registrar = actor(make_user("cns"))
    new_patient(registrar, 0)
    notify_pass(datetime.now(UTC))
    assert email_pass(datetime.now(UTC)) == 1  # only the one who wants e-mails at once
    assert [m["To"] for m in smtp_server] == ["prompt@example.nhs.uk"]
    clock.move_to(datetime(2026, 11, 24, 7, 0, 30, tzinfo=LONDON))
    assert email_pass(datetime.now(UTC)) == 1  # the summary, at its hour
    digest = smtp_server[-1]
    assert digest["To"] == "daily@example.nhs.uk" and "daily summary" in digest["Subject"]
    assert "Register secondary diagnosis" in digest.get_payload()
    clock.move_to(datetime(2026, 11, 24, 15, 0, tzinfo=LONDON))
    new_patient(registrar, 1)
    notify_pass(datetime.now(UTC))
    assert email_pass(datetime.now(UTC)) == 1  # the prompt one again; no second summary
    assert smtp_server[-1]["To"] == "prompt@example.nhs.uk"
    clock.move_to(datetime(2026, 11, 25, 7, 1, tzinfo=LONDON))
    assert email_pass(datetime.now(UTC)) == 1  # the next day's summary
    assert smtp_server[-1]["To"] == "daily@example.nhs.uk"
    assert len(smtp_server) == 4


def test_patient_model_reads_the_caseload_by_an_index() -> None:
    indexed = {tuple(c.name for c in index.columns) for index in PatientModel.__table__.indexes}
    assert ("key_worker_id",) in indexed
