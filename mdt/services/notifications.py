"""Notifications of new, due-soon and overdue tasks: in the app, and by e-mail when set up.

The scheduler calls notify_pass(); inserts are ON CONFLICT DO NOTHING on (user, task, kind),
so any number of schedulers can run it at once without notifying anyone twice.

Nobody is told about their own actions: a task that appeared when someone acted on the
patient is not "new" to them, and an event is not told to the person who caused it. A task's
notifications are cleared once anyone has done it (or it was cancelled): they stop counting
as unread at once, and the next pass marks them read. Each person chooses e-mails as things
happen or one summary a day at an hour of their choice (``UserModel.digest_hour``).
"""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from datetime import datetime, time, timedelta
from email.message import EmailMessage

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, text, true, update

from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    AuditEventModel,
    HumanTaskModel,
    NotificationModel,
    TaskStatus,
    UserModel,
    UserRoleModel,
)
from mdt.models.types import UTCDateTime
from mdt.services.actor import SYSTEM, Actor
from mdt.services.audit import record_event
from mdt.services.errors import InvalidInputError
from mdt.services.pathways import DEFAULT_PATHWAY_KEY
from mdt.services.profiles import service_profile
from mdt.services.settings import setting

log = logging.getLogger(__name__)
NEW_WINDOW = timedelta(days=2)  # a task older than this when first seen is not "new"
KIND_WORDS = {
    "new": "New task",
    "due_soon": "Due soon",
    "overdue": "Overdue",
    "paused": "Pathway paused",
    "off_list": "Taken off an MDT list",
    "meeting_moved": "MDT meeting moved",
    "pas_death": "Death reported by the PAS",
    "pas_merge": "Records merged by the PAS",
    "nhs_clash": "NHS number on two records",  # migration 0022's repair found a duplicate
}

DIGEST_HOURS = tuple(range(6, 21))  # the hours (London) a daily summary can be asked for
DIGEST_SENT = "notification.digest_sent"

# Who hears about a task: whoever it is assigned to, or else everyone active in its role.
_INSERT = """
INSERT INTO notification (user_id, task_id, kind, created_at)
SELECT u.id, t.id, :kind, :now
FROM human_task t
JOIN user_role r ON r.role = t.role
JOIN user_account u ON u.id = r.user_id AND u.active
WHERE t.status = 'ready' AND (t.assigned_to_id IS NULL OR t.assigned_to_id = u.id)
  AND {condition}
ON CONFLICT (user_id, task_id, kind) DO NOTHING
"""
# A task is not new to whoever made it appear: the person who changed this patient's record
# (anything audited but a view) in the minute from the task's creation. The service stamps
# the new task before the engine runs and audits the change after it, in one transaction.
_NOT_THEIR_OWN = """NOT EXISTS (
    SELECT 1 FROM audit_event a
    WHERE a.patient_id = t.patient_id AND a.actor_id = u.id
      AND a.action NOT LIKE '%.viewed' AND {within_a_minute})"""
_WITHIN_A_MINUTE = {
    "postgresql": "a.at >= t.created_at AND a.at < t.created_at + interval '1 minute'",
    "sqlite": "julianday(a.at) - julianday(t.created_at) BETWEEN 0 AND 1.0 / 1440",
}
_CONDITIONS = {
    "new": "t.created_at >= :since AND " + _NOT_THEIR_OWN,
    "due_soon": "t.due_at >= :now AND t.due_at < :soon",
    "overdue": "t.due_at < :now",
}


def notify_pass(now: datetime) -> int:
    """Record notifications for every task that needs one; returns how many were added."""
    params = {
        "now": _db_time(now),
        "since": _db_time(now - NEW_WINDOW),
        "soon": _db_time(now + timedelta(days=int(setting("MDT_DUE_SOON_DAYS")))),  # type: ignore[call-overload]
    }
    clear_done(now)
    within = _WITHIN_A_MINUTE[db.engine.dialect.name]
    added = 0
    for kind, condition in _CONDITIONS.items():
        sql = _INSERT.format(condition=condition.format(within_a_minute=within))
        result = db.session.execute(text(sql), {**params, "kind": kind})
        added += result.rowcount or 0  # type: ignore[attr-defined]
    db.session.commit()
    return added


def _task_done() -> ColumnElement[bool]:
    # Correlated (one primary-key probe per notification), not IN (every task done): the
    # task table grows with every patient, a person's notifications do not.
    return exists(
        select(HumanTaskModel.id).where(
            HumanTaskModel.id == NotificationModel.task_id,
            HumanTaskModel.status != TaskStatus.READY,
        )
    )


def clear_done(now: datetime) -> int:
    """Inner operation: mark read the notifications about tasks someone has done (or that
    were cancelled); one not e-mailed yet will not be (it is settled). Flushes."""
    unread = db.session.execute(
        update(NotificationModel)
        .where(NotificationModel.read_at.is_(None), _task_done())
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(NotificationModel)
        .where(NotificationModel.emailed_at.is_(None), _task_done())
        .values(emailed_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(unread.rowcount or 0)  # type: ignore[attr-defined]


def tell_role(
    role: str,
    kind: str,
    message: str,
    *,
    patient_id: int | None,
    subject: tuple[str, int],
    now: datetime,
    actor: Actor | None = None,
) -> int:
    """Tell everyone active in ``role`` that something happened (not a task): written by the
    use case it happened in, so it is told once, with it; never to ``actor``, who caused it.
    Flushes; the caller commits."""
    users = db.session.scalars(
        select(UserModel.id)
        .join(UserRoleModel, UserRoleModel.user_id == UserModel.id)
        .where(UserRoleModel.role == role, UserModel.active.is_(True))
        .where(UserModel.id != actor.user_id if actor and actor.user_id else true())
    ).all()
    for user_id in users:
        db.session.add(
            NotificationModel(
                user_id=user_id,
                kind=kind,
                patient_id=patient_id,
                subject=subject[0],
                subject_id=subject[1],
                message=message[:400],
                created_at=now,
            )
        )
    db.session.flush()
    return len(users)


def _db_time(moment: datetime) -> datetime | None:
    # Raw SQL bypasses UTCDateTime: SQLite stores naive UTC, PostgreSQL aware timestamps.
    return UTCDateTime().process_bind_param(moment, db.engine.dialect)


def _unread() -> ColumnElement[bool]:
    # Cleared at once when the task is done, before the next pass marks it read.
    return and_(
        NotificationModel.read_at.is_(None),
        or_(
            NotificationModel.task_id.is_(None),
            exists(
                select(HumanTaskModel.id).where(
                    HumanTaskModel.id == NotificationModel.task_id,
                    HumanTaskModel.status == TaskStatus.READY,
                )
            ),
        ),
    )


UNREAD_SHOWN = 99  # the header shows "99+" beyond this


def unread_count(user_id: int) -> int:
    """Unread notifications, counted up to one past ``UNREAD_SHOWN``: the header reads it on
    every page, and counting thousands (a team's backlog) to print "99+" is waste."""
    first = (
        select(NotificationModel.id)
        .where(NotificationModel.user_id == user_id, _unread())
        .limit(UNREAD_SHOWN + 1)
        .subquery()
    )
    return db.session.scalar(select(func.count()).select_from(first)) or 0


def is_unread(note: NotificationModel) -> bool:
    """For the page: unread, and (for a task) the task still waiting to be done."""
    return note.read_at is None and (note.task is None or note.task.status == TaskStatus.READY)


def my_notifications(actor: Actor, limit: int = 100) -> list[NotificationModel]:
    return list(
        db.session.scalars(
            select(NotificationModel)
            .where(NotificationModel.user_id == actor.user_id)
            .order_by(case((_unread(), 0), else_=1), NotificationModel.created_at.desc())
            .limit(limit)
        )
    )


def mark_all_read(actor: Actor, now: datetime) -> None:
    db.session.execute(
        update(NotificationModel)
        .where(NotificationModel.user_id == actor.user_id, NotificationModel.read_at.is_(None))
        .values(read_at=now)
    )
    db.session.commit()


def set_digest(actor: Actor, hour: int | None) -> None:
    """Choose notification e-mails as things happen (None) or one summary a day at ``hour``
    (London time)."""
    if hour is not None and hour not in DIGEST_HOURS:
        raise InvalidInputError({"digest_hour": "Choose when your summary e-mail is sent"})
    user = db.session.get(UserModel, actor.user_id) if actor.user_id else None
    if user is None:
        raise InvalidInputError({"digest_hour": "Only a person's account has e-mail settings"})
    user.digest_hour = hour
    record_event(
        actor,
        "account.digest_set",
        object_type="user_account",
        object_id=user.id,
        detail={"digest_hour": hour},
    )
    db.session.commit()


def _digests_due(now: datetime) -> list[int]:
    """The people with a daily summary whose hour has come today and who have not had
    today's summary yet (each summary sent is audited: that is the record)."""
    local = now.astimezone(LONDON)
    chosen = db.session.execute(
        select(UserModel.id).where(
            UserModel.digest_hour.is_not(None),
            UserModel.digest_hour <= local.hour,
            UserModel.active.is_(True),
        )
    ).scalars()
    midnight = datetime.combine(local.date(), time(), LONDON)
    sent = set(
        db.session.scalars(
            select(AuditEventModel.object_id).where(
                AuditEventModel.action == DIGEST_SENT, AuditEventModel.at >= midnight
            )
        )
    )
    return [user_id for user_id in chosen if str(user_id) not in sent]


def email_pass(now: datetime) -> int:
    """Send each person one e-mail listing their unsent notifications, or for those who
    chose it one summary a day at their hour. Off unless MDT_SMTP_HOST is set; a failed send
    is left for the next pass."""
    host = setting("MDT_SMTP_HOST")
    if not host:
        return 0
    clear_done(now)  # a task done since is no longer news
    db.session.commit()
    pending = db.session.execute(
        select(NotificationModel, UserModel)
        .join(UserModel, UserModel.id == NotificationModel.user_id)
        .where(
            NotificationModel.emailed_at.is_(None),
            UserModel.email.is_not(None),
            UserModel.active.is_(True),
            or_(UserModel.digest_hour.is_(None), UserModel.id.in_(_digests_due(now))),
        )
        .order_by(NotificationModel.user_id, NotificationModel.id)
        .limit(2000)
    ).all()
    by_user: dict[int, list[NotificationModel]] = defaultdict(list)
    users: dict[int, UserModel] = {}
    for notification, user in pending:
        by_user[user.id].append(notification)
        users[user.id] = user
    sent = 0
    for user_id, notes in by_user.items():
        try:
            _send(users[user_id], notes)
        except (OSError, smtplib.SMTPException):
            log.exception("E-mail to user %s failed; will retry", user_id)
            continue
        for note in notes:
            note.emailed_at = now
        if users[user_id].digest_hour is not None:
            record_event(
                SYSTEM,
                DIGEST_SENT,
                object_type="user_account",
                object_id=user_id,
                detail={"notifications": len(notes)},
            )
        db.session.commit()
        sent += 1
    return sent


def _send(user: UserModel, notes: list[NotificationModel]) -> None:
    message = EmailMessage()
    message["From"] = str(setting("MDT_SMTP_FROM"))
    message["To"] = str(user.email)
    digest = user.digest_hour is not None
    subject = (
        f"Your daily summary: {len(notes)} update(s) from the care pathway"
        if digest
        else f"{len(notes)} update(s) from the care pathway"
    )
    # The service's prefix, if its pathway's profile gives one: "[Lymphoedema] 2 update(s)...".
    prefix = service_profile(DEFAULT_PATHWAY_KEY).email_subject_prefix
    message["Subject"] = f"[{prefix}] {subject}" if prefix else subject
    # No patient-identifiable details in e-mail: the task and a link, nothing more.
    opening = "Since your last summary:" if digest else "These tasks need your attention:"
    lines = [f"Hello {user.display_name},", "", opening, ""]
    base = str(setting("MDT_BASE_URL")).rstrip("/")
    for note in notes:
        lines.append(f"- {KIND_WORDS.get(note.kind, note.kind)}: {_email_line(note, base)}")
    lines += ["", "Sign in to see the patient and what to do."]
    message.set_content("\n".join(lines))
    port = int(setting("MDT_SMTP_PORT"))  # type: ignore[call-overload]
    with smtplib.SMTP(str(setting("MDT_SMTP_HOST")), port, timeout=10) as smtp:
        if setting("MDT_SMTP_STARTTLS"):
            smtp.starttls()
        username = setting("MDT_SMTP_USERNAME")
        if username:
            smtp.login(str(username), str(setting("MDT_SMTP_PASSWORD")))
        smtp.send_message(message)


# Where an event's notification leads (the web layer's routes, as paths: e-mail has no app).
SUBJECT_PATHS = {
    "pathway_version": "/pathways/{id}/operations",
    "meeting": "/meetings/{id}",
    "death_notification": "/pas/deaths/{id}",
}


def _email_line(note: NotificationModel, base: str) -> str:
    # No patient-identifiable details in e-mail: what happened and a link, nothing more.
    if note.task is not None:
        return f"{note.task.name} {base}/tasks/{note.task_id}"
    path = SUBJECT_PATHS.get(note.subject or "", "/notifications").format(id=note.subject_id)
    return f"{base}{path}"
