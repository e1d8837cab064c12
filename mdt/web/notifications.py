from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from mdt import clock
from mdt.services.notifications import KIND_WORDS, is_unread, mark_all_read, my_notifications
from mdt.web.access import any_signed_in, current_actor

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

# What an event's notification opens: (endpoint, its argument, the link's words).
SUBJECT_LINKS = {
    "pathway_version": ("pathways.operations_view", "version_id", "See paused pathways"),
    "meeting": ("meetings.show", "meeting_id", "Open the meeting"),
    "death_notification": ("pas.confirm", "notification_id", "Confirm or reject"),
}


def _link(subject: str | None, subject_id: int | None) -> tuple[str, str] | None:
    if subject not in SUBJECT_LINKS or subject_id is None:
        return None
    endpoint, argument, words = SUBJECT_LINKS[subject]
    values: dict[str, Any] = {argument: subject_id}
    return url_for(endpoint, **values), words


@bp.get("")
@any_signed_in
def index() -> str:
    return render_template(
        "notifications.html",
        notifications=my_notifications(current_actor()),
        kind_words=KIND_WORDS,
        link=_link,
        unread=is_unread,
    )


@bp.post("/read")
@any_signed_in
def read_all() -> Response:
    mark_all_read(current_actor(), clock.now())
    return redirect(url_for("notifications.index"))
