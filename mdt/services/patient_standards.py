"""One patient's standards: every case of every measure, by episode, with its status today.

Read from the same cases, with the same status, as the manager's report: the record page's
scorecard, the API and the FHIR export all come from here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from mdt import clock
from mdt.extensions import db
from mdt.models import EpisodeModel, HumanTaskModel, PathwayInstanceModel, ReportCaseModel
from mdt.services.case_status import CaseView, Status, status_expression
from mdt.services.measures import Measure
from mdt.services.pathways import measures_for
from mdt.services.report_cases import is_current, london_date, rederive_cases


@dataclass(frozen=True)
class ScorecardRow:
    view: CaseView
    measure: Measure
    open_task_name: str | None = None  # the task it waits on, if any
    open_task: HumanTaskModel | None = None  # the same, for the access policy


@dataclass
class EpisodeCard:
    """The cases of one episode of care: the current one first on the page."""

    episode: EpisodeModel | None
    rows: list[ScorecardRow] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.episode.label if self.episode else "Whole pathway"

    @property
    def started_on(self) -> date | None:
        return self.episode.started_on if self.episode else None

    @property
    def summary(self) -> str:
        """How many cases are in each status, in the order of the vocabulary."""
        counts = Counter(row.view.label for row in self.rows)
        return ", ".join(f"{n} {label.lower()}" for label, n in counts.most_common())

    @property
    def recorded_on(self) -> date | None:
        """The day it was entered, when later than the clinical date it records."""
        if self.episode is None or self.episode.started_on is None:
            return None
        entered = london_date(self.episode.recorded_at)
        return entered if entered and entered > self.episode.started_on else None


def patient_cases(patient_id: int, instance_id: int | None = None) -> list[ScorecardRow]:
    """Every case of the patient (``instance_id``: on that pathway instance only), in the
    order of the measures, oldest episode first. Each case is read with the measures of its
    own pathway: two pathways may use the same measure key for different things."""
    query = select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == patient_id)
    if instance_id is not None:
        query = query.where(PathwayInstanceModel.id == instance_id)
    instances = list(db.session.scalars(query))
    if not is_current():  # an upgrade or new local periods: this patient's now, the rest later
        for instance in instances:
            rederive_cases(instance.id)
    measures: dict[tuple[int, str], Measure] = {}
    order: dict[tuple[int, str], int] = {}
    for instance in instances:
        for index, measure in enumerate(measures_for(instance.pathway_version)):
            measures[(instance.id, measure.key)] = measure
            order[(instance.id, measure.key)] = index
    rows = db.session.execute(
        select(ReportCaseModel, status_expression(clock.today())).where(
            ReportCaseModel.patient_id == patient_id,
            ReportCaseModel.instance_id.in_([i.id for i in instances]),
        )
    ).all()
    waiting_on = {
        task.id: task
        for task in db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.id.in_({row.open_task_id for row, _ in rows if row.open_task_id})
            )
        )
    }
    cases = [
        ScorecardRow(
            CaseView(row, Status(status)),
            measures[(row.instance_id, row.measure)],
            waiting_on[row.open_task_id].name if row.open_task_id in waiting_on else None,
            waiting_on.get(row.open_task_id) if row.open_task_id else None,
        )
        for row, status in rows
        if (row.instance_id, row.measure) in measures
    ]
    return sorted(
        cases,
        key=lambda c: (
            c.view.row.start_on,
            order[(c.view.row.instance_id, c.measure.key)],
            c.view.row.id,
        ),
    )


def patient_scorecard(patient_id: int, instance_id: int | None = None) -> list[EpisodeCard]:
    """The patient's cases by episode (``instance_id``: of that pathway instance only), the
    latest episode first."""
    cards: dict[int | None, EpisodeCard] = {}
    episodes = {
        e.id: e
        for e in db.session.scalars(
            select(EpisodeModel).where(EpisodeModel.patient_id == patient_id)
        )
    }
    for case in patient_cases(patient_id, instance_id):
        episode_id = case.view.row.episode_id
        card = cards.setdefault(episode_id, EpisodeCard(episodes.get(episode_id or -1)))
        card.rows.append(case)
    return sorted(
        cards.values(),
        key=lambda c: (c.started_on or date.min, c.episode.id if c.episode else 0),
        reverse=True,
    )


def case_body(case: ScorecardRow) -> dict[str, Any]:
    """One case as the API gives it."""
    row = case.view.row
    return {
        "measure": case.measure.key,
        "code": case.measure.code,
        "title": case.measure.title,
        "episode_id": row.episode_id,
        "episode": row.cohort,
        "status": case.view.status.value,
        "status_label": case.view.label,
        "why": case.view.why,
        "clock_started": row.start_on,
        "deadline": row.deadline_on,
        "done": row.done_on,
        "closed": row.closed_on,
        "recorded_days_late": row.recorded_late_days,
        "task_id": row.task_id,
        "evidence_task_id": row.evidence_task_id,
        "open_task_id": row.open_task_id,
    }
