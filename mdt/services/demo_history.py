"""The demo's patients lived through the weeks before today: each step at the moment it
happened (`clock.replaying_at`), so tasks, timers, letters and entries are dated as they
would have been, and the scorecards and standards report have a real history to show.

Day by day from the first diagnosis to today: due timers fire each morning; each patient's
next task is done every other working day; outcomes the pathway waits for are listed for the
next weekly MDT meeting, whose list is circulated at its cut-off and whose outcomes are
confirmed at the meeting, then it is closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    MeetingModel,
    MeetingSeriesModel,
    MeetingStatus,
    TaskStatus,
)
from mdt.services.actor import Actor
from mdt.services.instances import complete_task
from mdt.services.meetings import (
    add_listing,
    circulate,
    close_meeting,
    confirm_outcome,
    record_attendance,
    schedule_next,
)
from mdt.services.pathways import form_schema
from mdt.services.scheduler import run_pass

WORK_STARTS, MEETING_ENDS = time(10), time(15)
# The MDT's members who are not demo users (the demo users attend as themselves).
VISITORS = (
    ("Dr Priya Shah", "radiology"),
    ("Dr Tom Evans", "pathology"),
    ("Ms Ruth Cole", "surgery"),
    ("Alex Patel", "breast CNS"),
    ("Dr Sam Okafor", "oncology"),
    ("Dr Jamie Lewis", "palliative care"),
)

# (form schema, answers that differ from the examples, the day) -> the answers
Answer = Callable[[dict[str, Any], dict[str, Any], date], dict[str, Any]]


@dataclass
class Story:
    """One patient's history: registered ``days_ago``, then tasks until ``stop_at`` waits."""

    patient_id: int
    registered: date
    stop_at: str | None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: int = 0
    waiting_for_meeting: set[int] = field(default_factory=set)

    def due_today(self, day: date) -> bool:
        """Every other working day after registration, a task is done."""
        if day <= self.registered or day.weekday() >= 5:
            return False
        return (day - self.registered).days % 2 == 0


def replay(
    stories: list[Story], series: MeetingSeriesModel, actors: dict[str, Actor], answer: Answer
) -> None:
    """Play every story from its registration day to today."""
    if not stories:
        return
    today = clock.today()
    day = min(s.registered for s in stories)
    while day <= today:
        with clock.replaying_at(_at(day, WORK_STARTS)):
            run_pass()
            for story in stories:
                if story.due_today(day):
                    _next_step(story, series, actors, answer, day)
        if day.weekday() == series.weekday:
            _hold_meeting(series, actors, answer, day)
        day += timedelta(days=1)
    run_pass()  # anything due since this morning, at the real now


def _at(day: date, moment: time) -> datetime:
    at = datetime.combine(day, moment, tzinfo=LONDON)
    return min(at, clock.now())


def _next_step(
    story: Story,
    series: MeetingSeriesModel,
    actors: dict[str, Actor],
    answer: Answer,
    day: date,
) -> None:
    ready = [
        t
        for t in db.session.scalars(
            select(HumanTaskModel)
            .where(
                HumanTaskModel.patient_id == story.patient_id,
                HumanTaskModel.status == TaskStatus.READY,
            )
            .order_by(HumanTaskModel.id)
        )
        if t.id not in story.waiting_for_meeting and t.role in actors
    ]
    if not ready or any(t.name == story.stop_at for t in ready) or story.stop_at is None:
        return
    task = ready[0]
    if task.mdt_step == "outcome":
        _list(task, series, actors["coordinator"])
        story.waiting_for_meeting.add(task.id)
        return
    schema = form_schema(task.instance.pathway_version, task.form) or {}
    answers = answer(schema, story.overrides.get(task.form or "", {}), day)
    complete_task(actors[str(task.role)], task.id, answers)
    story.done += 1


def _list(task: HumanTaskModel, series: MeetingSeriesModel, coordinator: Actor) -> None:
    """On the next meeting whose list is still open."""
    meeting = schedule_next(coordinator, series.id, clock.now())
    while meeting.cut_off_at <= clock.now() or meeting.status != MeetingStatus.PLANNED:
        meeting = schedule_next(coordinator, series.id, meeting.starts_at)
    add_listing(coordinator, meeting.id, task.id, "discussion", None, None)


def _hold_meeting(
    series: MeetingSeriesModel, actors: dict[str, Actor], answer: Answer, day: date
) -> None:
    coordinator = actors["coordinator"]
    meeting = db.session.scalar(
        select(MeetingModel).where(
            MeetingModel.series_id == series.id,
            MeetingModel.starts_at
            == datetime.combine(day, time.fromisoformat(series.start_time), LONDON),
        )
    )
    if meeting is None or meeting.starts_at > clock.now() or meeting.status == MeetingStatus.CLOSED:
        return
    with clock.replaying_at(meeting.cut_off_at):
        circulate(coordinator, meeting.id, None)
    with clock.replaying_at(meeting.starts_at):
        for name, discipline in VISITORS:
            record_attendance(coordinator, meeting.id, name, discipline, True, None)
    listings = db.session.scalars(
        select(ListingModel)
        .where(ListingModel.meeting_id == meeting.id, ListingModel.status == ListingStatus.LISTED)
        .order_by(ListingModel.position)
    ).all()
    for position, listing in enumerate(listings):
        with clock.replaying_at(meeting.starts_at + timedelta(minutes=10 * (position + 1))):
            task = db.session.get(HumanTaskModel, listing.task_id)
            if task is None or task.status != TaskStatus.READY:
                continue
            schema = form_schema(task.instance.pathway_version, task.form) or {}
            # Trial eligibility considered, as the standard asks.
            data = answer(schema, {"trial_considered": "not_eligible"}, day)
            confirm_outcome(coordinator, listing.id, data, None, None)
    with clock.replaying_at(_at(day, MEETING_ENDS)):
        close_meeting(coordinator, meeting.id, None)
