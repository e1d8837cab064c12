"""Notifications of new, due-soon and overdue tasks: in the app, and by e-mail when set up.

The scheduler calls notify_pass(); inserts are ON CONFLICT DO NOTHING on (user, task, kind),
so any number of schedulers can run it at once without notifying anyone twice.
"""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import func, select, text, update

from mdt.extensions import db
from mdt.models import NotificationModel, UserModel, UserRoleModel
from mdt.models.types import UTCDateTime
from mdt.services.actor import Actor
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
}

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
_CONDITIONS = {
    "new": "t.created_at >= :since",
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
    added = 0
    for kind, condition in _CONDITIONS.items():
        result = db.session.execute(
            text(_INSERT.format(condition=condition)), {**params, "kind": kind}
        )
        added += result.rowcount or 0  # type: ignore[attr-defined]
    db.session.commit()
    return added


def tell_role(
    role: str,
    kind: str,
    message: str,
    *,
    patient_id: int | None,
    subject: tuple[str, int],
    now: datetime,
) -> int:
    """Tell everyone active in ``role`` that something happened (not a task): written by the
    use case it happened in, so it is told once, with it. Flushes; the caller commits."""
    users = db.session.scalars(
        select(UserModel.id)
        .join(UserRoleModel, UserRoleModel.user_id == UserModel.id)
        .where(UserRoleModel.role == role, UserModel.active.is_(True))
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


def unread_count(user_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count(NotificationModel.id)).where(
                NotificationModel.user_id == user_id, NotificationModel.read_at.is_(None)
            )
        )
        or 0
    )


def my_notifications(actor: Actor, limit: int = 100) -> list[NotificationModel]:
    return list(
        db.session.scalars(
            select(NotificationModel)
            .where(NotificationModel.user_id == actor.user_id)
            .order_by(NotificationModel.read_at.is_not(None), NotificationModel.created_at.desc())
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


def email_pass(now: datetime) -> int:
    """Send each person one e-mail listing their unsent notifications. Off unless
    MDT_SMTP_HOST is set; a failed send is left for the next pass."""
    host = setting("MDT_SMTP_HOST")
    if not host:
        return 0
    pending = db.session.execute(
        select(NotificationModel, UserModel)
        .join(UserModel, UserModel.id == NotificationModel.user_id)
        .where(
            NotificationModel.emailed_at.is_(None),
            UserModel.email.is_not(None),
            UserModel.active.is_(True),
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
        db.session.commit()
        sent += 1
    return sent


def _send(user: UserModel, notes: list[NotificationModel]) -> None:
    message = EmailMessage()
    message["From"] = str(setting("MDT_SMTP_FROM"))
    message["To"] = str(user.email)
    message["Subject"] = f"{len(notes)} update(s) from the care pathway"
    # No patient-identifiable details in e-mail: the task and a link, nothing more.
    lines = [f"Hello {user.display_name},", "", "These tasks need your attention:", ""]
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
