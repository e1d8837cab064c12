"""MDT outcomes are decided at a meeting. A task the pathway marks as the MDT's decision
(``mdtStep`` "outcome") is completed by confirming it at a meeting; completed anywhere else
it must be declared as decided outside a meeting, with why and the clinicians who decided,
and it is kept, reported and exported as such.

``complete_task`` asks ``declaration_problems`` before it completes any task and
``record_outside_decision`` after; reports and exports read every outcome through
``mdt_outcomes``: at a meeting (its confirmed listing) or outside one (its declaration).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import selectinload

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    OutsideMeetingDecisionModel,
    TaskStatus,
)
from mdt.services.actor import Actor
from mdt.services.audit import record_task_event

# The mdtStep of a task whose answer is the MDT's decision.
DECIDED_BY_MDT = "outcome"
# The rule for a decision outside a meeting: still a team's decision, not one person's.
MIN_CLINICIANS = 2
MIN_DISCIPLINES = 2
RULE = (
    "Name at least two clinicians who took the decision, from at least two disciplines, "
    "each with their discipline."
)
REASON_MAX, NAME_MAX, DISCIPLINE_MAX = 2000, 200, 80
# The declaration's fields, as the API names them and errors are keyed.
FIELD = "outside_meeting"
REASON = f"{FIELD}.reason"
CLINICIANS = f"{FIELD}.clinicians"


@dataclass(frozen=True)
class DecidingClinician:
    name: str
    discipline: str


@dataclass(frozen=True)
class OutsideMeeting:
    """The declaration: this outcome was decided outside a meeting, why, and by whom."""

    reason: str
    clinicians: tuple[DecidingClinician, ...]

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any]) -> OutsideMeeting:
        return cls(
            str(value.get("reason") or ""),
            tuple(
                DecidingClinician(str(c.get("name") or ""), str(c.get("discipline") or ""))
                for c in value.get("clinicians") or ()
                if isinstance(c, Mapping)
            ),
        )


def decided_by_mdt(task: HumanTaskModel) -> bool:
    return task.mdt_step == DECIDED_BY_MDT


def being_confirmed_at_meeting(task: HumanTaskModel) -> bool:
    """A listing of this task is confirmed (by ``confirm_outcome``, in this transaction or
    before). Read without flushing: the listing's version check belongs to the save."""
    with db.session.no_autoflush:
        listings = db.session.scalars(
            select(ListingModel).where(ListingModel.task_id == task.id)
        ).all()
    return any(item.status == ListingStatus.CONFIRMED for item in listings)


def needs_declaration(task: HumanTaskModel) -> bool:
    """Completing this task now is an MDT decision taken outside a meeting."""
    return (
        decided_by_mdt(task)
        and task.status == TaskStatus.READY
        and not being_confirmed_at_meeting(task)
    )


def declaration_problems(
    task: HumanTaskModel, declaration: OutsideMeeting | None
) -> dict[str, str]:
    """What stops this task being completed with (or without) this declaration."""
    if not needs_declaration(task):
        if declaration is None:
            return {}
        return {
            FIELD: "Only an MDT outcome recorded away from a meeting is declared as decided "
            "outside a meeting."
        }
    if declaration is None:
        return {
            FIELD: "MDT outcomes are recorded at a meeting. To record this one here, confirm it "
            "was decided outside a meeting and give the reason and the deciding clinicians."
        }
    errors: dict[str, str] = {}
    reason = declaration.reason.strip()
    if not reason:
        errors[REASON] = "Give the reason it was decided outside a meeting"
    elif len(reason) > REASON_MAX:
        errors[REASON] = f"The reason must be {REASON_MAX:,} characters or fewer"
    for index, person in enumerate(declaration.clinicians):
        name, discipline = person.name.strip(), person.discipline.strip()
        key, number = f"{CLINICIANS}.{index}", index + 1
        if discipline and not name:
            errors[f"{key}.name"] = f"Give the name of clinician {number}"
        elif len(name) > NAME_MAX:
            errors[f"{key}.name"] = (
                f"Clinician {number}'s name must be {NAME_MAX} characters or fewer"
            )
        if name and not discipline:
            errors[f"{key}.discipline"] = f"Give the discipline of clinician {number} ({name})"
        elif len(discipline) > DISCIPLINE_MAX:
            errors[f"{key}.discipline"] = (
                f"Clinician {number}'s discipline must be {DISCIPLINE_MAX} characters or fewer"
            )
    named = _named(declaration)
    names = [p.name.casefold() for p in named]
    if len(named) < MIN_CLINICIANS:
        errors[CLINICIANS] = RULE
    elif len({p.discipline.casefold() for p in named}) < MIN_DISCIPLINES:
        errors[CLINICIANS] = "The deciding clinicians must come from at least two disciplines"
    elif len(set(names)) < len(names):
        errors[CLINICIANS] = "Name each deciding clinician once"
    return errors


def _named(declaration: OutsideMeeting) -> list[DecidingClinician]:
    people = (
        DecidingClinician(p.name.strip(), p.discipline.strip()) for p in declaration.clinicians
    )
    return [p for p in people if p.name and p.discipline]


def record_outside_decision(
    actor: Actor,
    task: HumanTaskModel,
    declaration: OutsideMeeting,
    schema: Mapping[str, Any],
    data: Mapping[str, Any],
) -> OutsideMeetingDecisionModel:
    """Keep the declaration with the completed task (audited); the caller commits."""
    decision = OutsideMeetingDecisionModel(
        task_id=task.id,
        patient_id=task.patient_id,
        reason=declaration.reason.strip(),
        clinicians=[{"name": p.name, "discipline": p.discipline} for p in _named(declaration)],
        decided_on=_decided_on(schema, data),
        recorded_at=clock.now(),
        recorded_by_id=actor.user_id,
    )
    db.session.add(decision)
    record_task_event(
        actor,
        "outcome.decided_outside_meeting",
        task,
        {
            "reason": decision.reason,
            "clinicians": decision.clinicians,
            "decided_on": decision.decided_on.isoformat(),
        },
    )
    return decision


def _decided_on(schema: Mapping[str, Any], data: Mapping[str, Any]) -> date:
    """The date the form gives where a meeting would have dated it, else today."""
    # Imported here: the meetings package completes outcomes through complete_task, which
    # asks this module first.
    from mdt.services.meetings import meeting_date_fields

    for key in meeting_date_fields(dict(schema)):
        try:
            return date.fromisoformat(str(data.get(key)))
        except ValueError:
            continue
    return clock.today()


# -- every outcome, at a meeting or outside one ------------------------------------------


@dataclass(frozen=True)
class MdtOutcome:
    """One completed MDT outcome: confirmed at a meeting (``listing``) or decided outside one
    (``decision``; None for one completed before declarations were asked for)."""

    task: HumanTaskModel
    listing: ListingModel | None
    decision: OutsideMeetingDecisionModel | None

    @property
    def at_meeting(self) -> bool:
        return self.listing is not None

    @property
    def decided_on(self) -> date:
        if self.listing is not None:
            return self.listing.meeting.starts_at.astimezone(LONDON).date()
        if self.decision is not None:
            return self.decision.decided_on
        assert self.task.completed_at is not None
        return self.task.completed_at.astimezone(LONDON).date()

    @property
    def reason(self) -> str:
        return self.decision.reason if self.decision else "Not recorded"

    @property
    def clinicians(self) -> list[dict[str, str]]:
        return list(self.decision.clinicians) if self.decision else []

    @property
    def clinicians_text(self) -> str:
        return "; ".join(f"{c['name']} ({c['discipline']})" for c in self.clinicians)


def _outcomes(columns: Any, *conditions: ColumnElement[bool]) -> Any:
    """Completed MDT outcome tasks with their confirmed listing and declaration, if any."""
    confirmed = and_(
        ListingModel.task_id == HumanTaskModel.id, ListingModel.status == ListingStatus.CONFIRMED
    )
    return (
        select(*columns)
        .select_from(HumanTaskModel)
        .outerjoin(ListingModel, confirmed)
        .outerjoin(
            OutsideMeetingDecisionModel, OutsideMeetingDecisionModel.task_id == HumanTaskModel.id
        )
        .where(
            HumanTaskModel.mdt_step == DECIDED_BY_MDT,
            HumanTaskModel.status == TaskStatus.COMPLETED,
            *conditions,
        )
    )


def mdt_outcomes(*conditions: ColumnElement[bool], limit: int | None = None) -> list[MdtOutcome]:
    """Every completed MDT outcome task matching ``conditions`` (on the task, the confirmed
    listing or the declaration), oldest first; the first ``limit`` if given."""
    rows = db.session.execute(
        _outcomes((HumanTaskModel, ListingModel, OutsideMeetingDecisionModel), *conditions)
        .options(selectinload(HumanTaskModel.patient))
        .order_by(HumanTaskModel.completed_at, HumanTaskModel.id)
        .limit(limit)
    ).all()
    return [MdtOutcome(task, listing, decision) for task, listing, decision in rows]


def outcome_of(task: HumanTaskModel) -> MdtOutcome | None:
    """Where a completed MDT outcome was decided; None for any other task."""
    if not decided_by_mdt(task) or task.status != TaskStatus.COMPLETED:
        return None
    return next(iter(mdt_outcomes(HumanTaskModel.id == task.id)), None)


def patient_outcomes(patient_id: int) -> list[MdtOutcome]:
    return mdt_outcomes(HumanTaskModel.patient_id == patient_id)


def _outside_between(since: date, until: date) -> tuple[ColumnElement[bool], ...]:
    """Decided outside a meeting between two dates (inclusive): by the date of the decision,
    or for one completed before declarations were asked for, the day it was recorded."""
    start = datetime.combine(since, time(), tzinfo=LONDON)
    end = datetime.combine(until + timedelta(days=1), time(), tzinfo=LONDON)
    return (
        ListingModel.id.is_(None),
        or_(
            OutsideMeetingDecisionModel.decided_on.between(since, until),
            and_(
                OutsideMeetingDecisionModel.id.is_(None),
                HumanTaskModel.completed_at >= start,
                HumanTaskModel.completed_at < end,
            ),
        ),
    )


def outcomes_outside_meetings(
    since: date, until: date, limit: int | None = None
) -> list[MdtOutcome]:
    return mdt_outcomes(*_outside_between(since, until), limit=limit)


def count_outside_meetings(since: date, until: date) -> int:
    found = _outcomes((func.count(HumanTaskModel.id),), *_outside_between(since, until))
    return int(db.session.scalar(found) or 0)
