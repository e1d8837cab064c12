"""Managers' operational reports beside the standards: MDT meeting metrics and workload.

Both read the meeting and task tables directly (grouped SQL for workload); no workflow is
loaded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import selectinload

from mdt import clock
from mdt.extensions import db
from mdt.models import HumanTaskModel, MeetingModel, TaskStatus, UserModel
from mdt.models.meeting import ListingModel, ListingStatus, MeetingStatus
from mdt.models.roles import ROLE_LABELS
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.meetings import MeetingKpis, meeting_kpis, members
from mdt.services.outside_meetings import (
    MdtOutcome,
    count_outside_meetings,
    outcomes_outside_meetings,
)
from mdt.services.sql_dates import at, week_of
from mdt.services.standards_report import ReportQuery, require_report_role

ATTENDANCE_RULE = 2 / 3  # the old peer-review rule: each core member at 2/3 of meetings
OUTSIDE_LIST_LIMIT = 500  # outcomes decided outside a meeting listed on the page


@dataclass(frozen=True)
class MeetingRow:
    meeting: MeetingModel
    listed: int
    kpis: MeetingKpis
    outcomes: tuple[MdtOutcome, ...] = ()  # every outcome confirmed at it


@dataclass(frozen=True)
class MemberAttendance:
    name: str
    discipline: str
    attended: int
    held: int

    @property
    def meets_rule(self) -> bool:
        return self.held > 0 and self.attended >= ATTENDANCE_RULE * self.held


@dataclass(frozen=True)
class MeetingReport:
    rows: list[MeetingRow]
    members: list[MemberAttendance]
    held: int
    # MDT outcomes decided outside a meeting in the period: their own count, never a meeting's
    # (``outside`` lists the first ``OUTSIDE_LIST_LIMIT`` of them on the page, all in the CSV).
    outside_count: int = 0
    outside: list[MdtOutcome] = field(default_factory=list)

    @property
    def outcomes(self) -> list[MdtOutcome]:
        """Every MDT outcome of the period, at its meeting or outside one, by date decided."""
        found = [o for row in self.rows for o in row.outcomes] + self.outside
        return sorted(found, key=lambda o: (o.decided_on, o.task.completed_at, o.task.id))


def meeting_report(
    actor: Actor, query: ReportQuery, outside_limit: int | None = OUTSIDE_LIST_LIMIT
) -> MeetingReport:
    """Each meeting of the period with its figures and every outcome confirmed at it, and the
    outcomes decided outside a meeting (audited: it names patients)."""
    require_report_role(actor)
    # Audited before anything is read: committing afterwards would expire every row loaded.
    record_event(
        actor,
        "report.meetings_viewed",
        object_type="report",
        object_id="meetings",
        detail=query.args(),
    )
    db.session.commit()
    since, until = query.bounds()
    meetings = db.session.scalars(
        select(MeetingModel)
        .where(MeetingModel.starts_at >= since, MeetingModel.starts_at < until)
        .options(
            selectinload(MeetingModel.listings).selectinload(ListingModel.task),
            selectinload(MeetingModel.listings).selectinload(ListingModel.patient),
            selectinload(MeetingModel.attendance),
        )
        .order_by(MeetingModel.starts_at)
    ).all()
    letter_for = _gp_letters([item for m in meetings for item in m.listings])
    rows = [
        MeetingRow(
            m,
            sum(1 for item in m.listings if item.status != "removed"),
            meeting_kpis(m, letter_for),
            tuple(  # in the list's order
                MdtOutcome(item.task, item, None)
                for item in m.listings
                if item.status == ListingStatus.CONFIRMED
            ),
        )
        for m in meetings
    ]
    held = [m for m in meetings if m.status == MeetingStatus.CLOSED]
    return MeetingReport(
        rows,
        _attendance(held),
        len(held),
        count_outside_meetings(query.since, query.until),
        outcomes_outside_meetings(query.since, query.until, outside_limit),
    )


def _gp_letters(listings: list[ListingModel]) -> Callable[[ListingModel], HumanTaskModel | None]:
    """Every GP letter task of the listed patients' instances in one query; each listing's
    letter is the first one created after its MDT outcome (as `gp_letter_task` finds it)."""
    instances = {item.task.instance_id for item in listings}
    letters: dict[int, list[HumanTaskModel]] = defaultdict(list)
    for chunk in _chunks(sorted(instances), 500):
        for task in db.session.scalars(
            select(HumanTaskModel)
            .where(HumanTaskModel.instance_id.in_(chunk), HumanTaskModel.mdt_step == "gp-letter")
            .order_by(HumanTaskModel.id)
        ):
            letters[task.instance_id].append(task)

    def letter_for(item: ListingModel) -> HumanTaskModel | None:
        done = item.task.completed_at
        if done is None:
            return None
        return next((t for t in letters[item.task.instance_id] if t.created_at >= done), None)

    return letter_for


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _attendance(held: list[MeetingModel]) -> list[MemberAttendance]:
    result = []
    for member in members():
        attended = sum(
            1
            for m in held
            if any(
                a.present
                and a.removed_at is None
                and (a.user_id == member.id or a.name == member.display_name)
                for a in m.attendance
            )
        )
        result.append(
            MemberAttendance(member.display_name, member.discipline or "", attended, len(held))
        )
    return result


@dataclass(frozen=True)
class WorkloadRow:
    label: str
    open: int
    overdue: int
    completed: int
    weekly: dict[str, int]  # week starting (YYYY-MM-DD) -> completed


@dataclass(frozen=True)
class WorkloadReport:
    weeks: list[str]
    by_role: list[WorkloadRow]
    by_person: list[WorkloadRow]


def workload_report(actor: Actor, query: ReportQuery) -> WorkloadReport:
    require_report_role(actor)
    since, until = query.bounds()
    now = at(clock.now())
    task = HumanTaskModel
    is_open = task.status == TaskStatus.READY
    counts = {
        "open": func.sum(case((is_open, 1), else_=0)),
        "overdue": func.sum(case((and_(is_open, task.due_at < now), 1), else_=0)),
    }
    roles = {
        role: (open_, overdue)
        for role, open_, overdue in db.session.execute(
            select(task.role, counts["open"], counts["overdue"]).where(is_open).group_by(task.role)
        )
    }
    people = {
        user_id: (open_, overdue)
        for user_id, open_, overdue in db.session.execute(
            select(task.assigned_to_id, counts["open"], counts["overdue"])
            .where(is_open, task.assigned_to_id.is_not(None))
            .group_by(task.assigned_to_id)
        )
    }
    week = week_of(task.completed_at)
    done = (
        task.status == TaskStatus.COMPLETED,
        task.completed_at >= since,
        task.completed_at < until,
    )
    role_weeks: dict[str | None, dict[str, int]] = defaultdict(dict)
    for role, wk, n in db.session.execute(
        select(task.role, week, func.count()).where(*done).group_by(task.role, week)
    ):
        role_weeks[role][wk] = n
    person_weeks: dict[int | None, dict[str, int]] = defaultdict(dict)
    for user_id, wk, n in db.session.execute(
        select(task.completed_by_id, week, func.count())
        .where(*done)
        .group_by(task.completed_by_id, week)
    ):
        person_weeks[user_id][wk] = n
    names = {
        uid: name for uid, name in db.session.execute(select(UserModel.id, UserModel.display_name))
    }
    by_role = [
        _row(ROLE_LABELS.get(role, role or "No role"), roles.get(role), role_weeks.get(role, {}))  # type: ignore[call-overload]
        for role in sorted({*roles, *role_weeks}, key=lambda r: r or "")
    ]
    by_person = [
        _row(names.get(uid, "Unknown"), people.get(uid), person_weeks.get(uid, {}))
        for uid in sorted({*people, *person_weeks} - {None}, key=lambda u: names.get(u, ""))
    ]
    weeks = sorted({wk for w in (*role_weeks.values(), *person_weeks.values()) for wk in w})
    return WorkloadReport(weeks, by_role, by_person)


def _row(label: str, open_overdue: tuple[int, int] | None, weekly: dict[str, int]) -> WorkloadRow:
    open_, overdue = open_overdue or (0, 0)
    return WorkloadRow(label, open_, overdue, sum(weekly.values()), dict(weekly))
