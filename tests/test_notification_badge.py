"""The header's count of unread notifications: counted up to 100 and shown as "99+" beyond,
so a team's backlog of thousands costs every page no more than a hundred."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from mdt import clock
from mdt.extensions import db
from mdt.models import NotificationModel
from mdt.services.notifications import UNREAD_SHOWN, unread_count

from .conftest import Auth


def _notes(user_id: int, count: int) -> None:
    for number in range(count):
        db.session.add(
            NotificationModel(
                user_id=user_id,
                kind="pathway_paused",
                patient_id=None,
                subject="instance",
                subject_id=number,
                message=f"Note {number}",
                created_at=clock.now(),
            )
        )
    db.session.commit()


def test_the_header_counts_to_99_then_says_99_plus(
    make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    nurse = make_user("cns", username="nurse")
    _notes(nurse.id, 7)
    auth.login("nurse")
    assert '<span class="app-count">7</span>' in client.get("/tasks").get_data(as_text=True)
    _notes(nurse.id, 150)
    assert unread_count(nurse.id) == UNREAD_SHOWN + 1  # stops counting past what is shown
    assert '<span class="app-count">99+</span>' in client.get("/tasks").get_data(as_text=True)
