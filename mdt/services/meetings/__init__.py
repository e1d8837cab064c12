"""MDT meetings, one use case per function, grouped by what the team does with a meeting:
``schedule`` (the diary), ``lists`` (who is discussed), ``attendance`` (who is there),
``outcomes`` (what was decided, GP letters, closing), ``kpis`` and ``views`` (what each member
sees). The names below are the package's public face; modules import each other's shared
pieces from ``base``, never private helpers.
"""

from mdt.services.meetings.attendance import (
    attendees,
    core_disciplines,
    members,
    missing_disciplines,
    opens_at,
    record_attendance,
    record_member_present,
    remove_attendee,
)
from mdt.services.meetings.base import OPEN_LISTING, active_listings, get_meeting
from mdt.services.meetings.kpis import MeetingKpis, meeting_kpis
from mdt.services.meetings.lists import (
    CANDIDATES_PER_PAGE,
    CandidatePage,
    add_listing,
    candidates,
    circulate,
    clinical_question,
    move_listing,
    remove_listing,
    withdraw_from_lists,
    withdrawn_listings,
)
from mdt.services.meetings.outcomes import (
    close_meeting,
    confirm_outcome,
    form_at_meeting,
    gp_letter_task,
    meeting_date_fields,
    record_gp_letter,
    save_outcome_draft,
    with_meeting_date,
)
from mdt.services.meetings.preparation import (
    Referral,
    mark_ready,
    referral_for,
    referrals,
    to_review,
)
from mdt.services.meetings.schedule import (
    cancel_meeting,
    create_meeting,
    create_series,
    cut_off_for,
    list_meetings,
    list_series,
    move_meeting,
    schedule_next,
    upcoming_open,
)
from mdt.services.meetings.views import ListingView, listing_for_view, view_meeting

__all__ = [
    "CANDIDATES_PER_PAGE",
    "OPEN_LISTING",
    "CandidatePage",
    "ListingView",
    "MeetingKpis",
    "Referral",
    "active_listings",
    "add_listing",
    "attendees",
    "cancel_meeting",
    "candidates",
    "circulate",
    "clinical_question",
    "close_meeting",
    "confirm_outcome",
    "core_disciplines",
    "create_meeting",
    "create_series",
    "cut_off_for",
    "form_at_meeting",
    "get_meeting",
    "gp_letter_task",
    "list_meetings",
    "list_series",
    "listing_for_view",
    "mark_ready",
    "meeting_date_fields",
    "meeting_kpis",
    "members",
    "missing_disciplines",
    "move_listing",
    "move_meeting",
    "opens_at",
    "record_attendance",
    "record_gp_letter",
    "record_member_present",
    "referral_for",
    "referrals",
    "remove_attendee",
    "remove_listing",
    "save_outcome_draft",
    "schedule_next",
    "to_review",
    "upcoming_open",
    "view_meeting",
    "with_meeting_date",
    "withdraw_from_lists",
    "withdrawn_listings",
]
