"""Due dates in working days, escalation timers, concurrent schedulers, notifications, e-mail."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from freezegun import freeze_time
from sqlalchemy import func, select

from mdt.extensions import db
from mdt.models import HumanTaskModel, NotificationModel, TimerModel, UserModel
from mdt.services.calendar import add_working_days
from mdt.services.notifications import email_pass, notify_pass, tell_role
from mdt.services.scheduler import fire_due, run_pass

from .helpers import complete_with_examples, new_patient, ready_task
from .scenarios import DIAGNOSIS

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend

LONDON = ZoneInfo("Europe/London")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (london(2026, 12, 24, 10), 1, date(2026, 12, 29)),  # Christmas, weekend, Boxing Day (Mon)
        (london(2026, 12, 24, 10), 0, date(2026, 12, 24)),
        (london(2027, 3, 25, 16), 1, date(2027, 3, 30)),  # Good Friday and Easter Monday
        (london(2026, 11, 27, 9), 2, date(2026, 12, 1)),  # an ordinary weekend
        (london(2026, 11, 28, 9), 0, date(2026, 11, 30)),  # Saturday: next working day
    ],
)
def test_working_days_skip_weekends_and_bank_holidays(start, days, due) -> None:
    assert add_working_days(start, days) == datetime.combine(
        due, datetime.min.time().replace(hour=23, minute=59), tzinfo=LONDON
    )


def test_local_closures_count_as_non_working() -> None:
    closed = [date(2026, 12, 29), date(2026, 12, 30)]
    assert add_working_days(london(2026, 12, 24, 10), 1, closed).date() == date(2026, 12, 31)


def test_task_due_date_across_the_christmas_bank_holidays(pathway, make_user, actor) -> None:
    coordinator = actor(make_user("coordinator"))
    with freeze_time(london(2026, 12, 23, 11)):  # Wednesday
        patient = new_patient(coordinator)
        complete_with_examples(
            coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
        )
    allocate = ready_task(patient.id, "Allocate a CNS key worker")
    # 2 working days after Wed 23 Dec: Thu 24, then (Christmas, weekend, Boxing Day) Tue 29.
    assert allocate.due_at.astimezone(LONDON) == london(2026, 12, 29, 23, 59)
    timer = db.session.scalars(
        select(TimerModel).where(TimerModel.event_name == "Not allocated in 2 working days")
    ).one()
    assert timer.due_at.astimezone(LONDON) == london(2026, 12, 29, 23, 59)


def _escalations(patient_id: int, name: str) -> int:
    return (
        db.session.scalar(
            select(func.count(HumanTaskModel.id)).where(
                HumanTaskModel.patient_id == patient_id, HumanTaskModel.name == name
            )
        )
        or 0
    )


def test_each_escalation_fires_once(pathway, make_user, actor) -> None:
    coordinator = actor(make_user("coordinator"))
    nurse = actor(make_user("cns"))
    oncologist = actor(make_user("oncologist"))
    start = london(2026, 11, 23, 9)  # Monday
    with freeze_time(start) as clock:
        patient = new_patient(coordinator)
        complete_with_examples(
            coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
        )
        clock.move_to(london(2026, 11, 25, 23, 58))
        assert fire_due(datetime.now(UTC)) == 0  # not yet: due at 23:59 on Wednesday
        clock.move_to(london(2026, 11, 26, 0, 1))
        assert fire_due(datetime.now(UTC)) == 1
        assert fire_due(datetime.now(UTC)) == 0
        assert _escalations(patient.id, "Escalation: no key worker allocated") == 1
        assert ready_task(patient.id, "Escalation: no key worker allocated").role == "manager"

        for name, who in [
            ("Allocate a CNS key worker", coordinator),
            ("First contact with key worker", nurse),
            ("Holistic needs assessment", nurse),
            ("List for MDT review", coordinator),
            ("Record MDT outcome", coordinator),
            ("Send the MDT outcome to the GP", coordinator),
            ("Treatment planning consultation", oncologist),
            ("Agree personalised care plan", nurse),
        ]:
            complete_with_examples(who, ready_task(patient.id, name))
        assert ready_task(patient.id, "Inform GP of the plan")  # Thursday 26th
        clock.move_to(london(2026, 11, 27, 23, 0))  # due end of Friday: nothing yet
        assert fire_due(datetime.now(UTC)) == 0
        clock.move_to(london(2026, 11, 28, 0, 30))
        assert fire_due(datetime.now(UTC)) == 1
        assert fire_due(datetime.now(UTC)) == 0
    assert _escalations(patient.id, "Escalation: GP not yet informed") == 1
    assert ready_task(patient.id, "Escalation: GP not yet informed").role == "coordinator"
    assert ready_task(patient.id, "Inform GP of the plan")  # non-interrupting: still to do


def test_concurrent_schedulers_fire_each_timer_once(app: Flask, pathway, make_user, actor) -> None:
    schedulers = 4 if db.engine.dialect.name == "postgresql" else 2
    coordinator = actor(make_user("coordinator"))
    patients = []
    with freeze_time(london(2026, 11, 23, 9)):
        for index in range(12):
            patient = new_patient(coordinator, index)
            complete_with_examples(
                coordinator, ready_task(patient.id, "Register secondary diagnosis")
            )
            patients.append(patient.id)
    db.session.remove()
    later = datetime(2026, 12, 2, tzinfo=UTC)
    barrier = threading.Barrier(schedulers)
    results: list[int] = []

    def scheduler() -> None:
        with app.app_context():
            barrier.wait()
            results.append(fire_due(later))
            db.session.remove()

    threads = [threading.Thread(target=scheduler) for _ in range(schedulers)]
    with freeze_time(later, tick=True):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert sum(results) == len(patients)
    for patient_id in patients:
        assert _escalations(patient_id, "Escalation: no key worker allocated") == 1
    # Only each patient's next 4-weekly review is left waiting.
    left = db.session.scalars(select(TimerModel.event_name)).all()
    assert left == ["Next review due (4 weeks)"] * len(patients)


def test_notifications_new_due_soon_and_overdue_once_each(
    pathway, make_user, actor, auth, client
) -> None:
    make_user("coordinator", username="coord")
    # A colleague registers the patient: nobody is told about their own actions.
    colleague = actor(make_user("coordinator", username="colleague"))
    with freeze_time(london(2026, 11, 23, 9)):
        patient = new_patient(colleague)
        # New, and already due soon: due by the end of Tuesday, within MDT_DUE_SOON_DAYS (2).
        # coord: new and due soon; the colleague who registered: due soon only.
        assert notify_pass(datetime.now(UTC)) == 3
        assert notify_pass(datetime.now(UTC)) == 0
    with freeze_time(london(2026, 11, 25, 9)):
        assert notify_pass(datetime.now(UTC)) == 2  # overdue, to both
        assert notify_pass(datetime.now(UTC)) == 0
    kinds = sorted(
        db.session.scalars(
            select(NotificationModel.kind).join(UserModel).where(UserModel.username == "coord")
        )
    )
    assert kinds == ["due_soon", "new", "overdue"]
    auth.login("coord")
    page = client.get("/tasks").get_data(as_text=True)
    assert '<span class="app-count">3</span>' in page
    listing = client.get("/notifications").get_data(as_text=True)
    assert "Overdue" in listing and patient.display_name in listing
    auth.post("/notifications/read", form_url="/notifications")
    assert '<span class="app-count">' not in client.get("/tasks").get_data(as_text=True)


def test_run_pass_reports_all_three_steps(pathway, make_user, actor, clock) -> None:
    make_user("coordinator")
    new_patient(actor(make_user("coordinator")))  # its new task is no news to the registrar
    result = run_pass()
    # new to the other coordinator, and due soon to both
    assert (result.advanced, result.notified, result.emailed) == (0, 3, 0)


@pytest.fixture
def smtp_server(app: Flask):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Keep(Message):
        def handle_message(self, message) -> None:
            received.append(message)

    import socket

    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MDT_SMTP_HOST="127.0.0.1", MDT_SMTP_PORT=port)
    yield received
    app.config.update(MDT_SMTP_HOST="")
    controller.stop()


def test_email_is_really_sent_once_without_patient_details(
    pathway, make_user, actor, smtp_server, clock
) -> None:
    user = make_user("coordinator", username="coord")
    user.email = "coord@example.nhs.uk"
    db.session.commit()
    patient = new_patient(actor(user))
    notify_pass(datetime.now(UTC))
    assert email_pass(datetime.now(UTC)) == 1
    assert email_pass(datetime.now(UTC)) == 0  # already sent
    [message] = smtp_server
    body = message.get_payload()
    assert message["To"] == "coord@example.nhs.uk"
    assert "Register secondary diagnosis" in body and "/tasks/" in body
    assert patient.family_name not in body and patient.nhs_number not in body


def test_an_event_is_emailed_with_its_link_and_no_patient_details(
    pathway, make_user, actor, smtp_server, clock
) -> None:
    """A pathway paused: the managers' e-mail says so and links to where they can act."""
    manager = make_user("manager", username="boss")
    manager.email = "boss@example.nhs.uk"
    db.session.commit()
    patient = new_patient(actor(make_user("coordinator")))
    tell_role(
        "manager",
        "paused",
        "Wound care (version 2) stopped: ZeroDivisionError (at Prepare the record)",
        patient_id=patient.id,
        subject=("pathway_version", 7),
        now=datetime.now(UTC),
    )
    db.session.commit()
    assert email_pass(datetime.now(UTC)) == 1
    [message] = smtp_server
    body = message.get_payload()
    assert "Pathway paused: " in body and "/pathways/7/operations" in body
    assert patient.family_name not in body and patient.nhs_number not in body
