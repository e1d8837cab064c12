"""A meeting's figures: circulation, late additions, quoracy, outcomes and GP letters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from mdt.models import (
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    MeetingModel,
)
from mdt.services.calendar import add_working_days
from mdt.services.meetings.attendance import missing_disciplines
from mdt.services.meetings.outcomes import gp_letter_task
from mdt.services.pathways import closures
from mdt.services.profiles import profile_for


@dataclass(frozen=True)
class MeetingKpis:
    circulated_24h_before: bool | None
    late_additions: int
    quorate: bool
    missing: list[str]
    outcomes_confirmed: int
    outcomes_confirmed_in_meeting: int
    gp_letters_on_time: int
    gp_letters_due: int
    patients_informed: int


def meeting_kpis(
    meeting: MeetingModel,
    letter_for: Callable[[ListingModel], HumanTaskModel | None] | None = None,
) -> MeetingKpis:
    """The meeting's figures; ``letter_for`` finds each outcome's GP letter task (reports
    over many meetings pass one that looks them up in memory)."""
    letter_for = letter_for or gp_letter_task
    listings = [item for item in meeting.listings if item.status != ListingStatus.REMOVED]
    confirmed = [item for item in listings if item.confirmed_at is not None]
    end = meeting.starts_at + timedelta(minutes=meeting.duration_minutes)
    in_meeting = [
        item
        for item in confirmed
        if item.confirmed_at
        and meeting.starts_at - timedelta(hours=1) <= item.confirmed_at <= end + timedelta(hours=2)
    ]
    on_time = informed = 0
    for item in confirmed:
        letter = letter_for(item)
        if letter is None or letter.completed_at is None or item.confirmed_at is None:
            continue
        if letter.completed_at <= add_working_days(item.confirmed_at, 1, closures()):
            on_time += 1
        informed_field = profile_for(letter.instance.pathway_version).informed_field
        if informed_field and (letter.data or {}).get(informed_field):
            informed += 1
    missing = missing_disciplines(meeting)
    circulated = (
        meeting.circulated_at <= meeting.starts_at - timedelta(hours=24)
        if meeting.circulated_at
        else None
    )
    return MeetingKpis(
        circulated,
        sum(1 for item in listings if item.late),
        not missing,
        missing,
        len(confirmed),
        len(in_meeting),
        on_time,
        len(confirmed),
        informed,
    )
