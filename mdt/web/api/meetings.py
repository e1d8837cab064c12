"""/api/v1/meetings: MDT meetings with their lists, attendance and outcomes."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from mdt.services.meetings import active_listings, attendees, list_meetings, view_meeting
from mdt.services.policy import MEETING_READERS
from mdt.web.access import current_actor, roles_required
from mdt.web.api.schemas import MeetingDetailSchema, MeetingSchema

bp = Blueprint("api_meetings", __name__, url_prefix="/api/v1", description="MDT meetings")


@bp.route("/meetings", methods=["GET"])
@bp.response(200, MeetingSchema(many=True))
@roles_required(*MEETING_READERS)
def index() -> Any:
    return list_meetings()


@bp.route("/meetings/<int:meeting_id>", methods=["GET"])
@bp.response(200, MeetingDetailSchema)
@roles_required(*MEETING_READERS)
def show(meeting_id: int) -> Any:
    meeting = view_meeting(current_actor(), meeting_id)  # audited, as on the screen
    fields = {name: getattr(meeting, name) for name in MeetingSchema().fields}
    return {**fields, "listings": active_listings(meeting), "attendance": attendees(meeting)}
