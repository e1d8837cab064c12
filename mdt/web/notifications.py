from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from mdt import clock
from mdt.services.notifications import KIND_WORDS, mark_all_read, my_notifications
from mdt.web.access import any_signed_in, current_actor

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("")
@any_signed_in
def index() -> str:
    return render_template(
        "notifications.html", notifications=my_notifications(current_actor()), kind_words=KIND_WORDS
    )


@bp.post("/read")
@any_signed_in
def read_all() -> Response:
    mark_all_read(current_actor(), clock.now())
    return redirect(url_for("notifications.index"))
