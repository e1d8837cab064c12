"""The standards' cases: derived for each patient from their tasks, episodes and meetings with
the measures their pathway version declares, and kept in step with them.

`refresh_cases` runs at every save of an instance, and for every instance a transaction changed
and did not derive, before it commits (it writes only when a case changed);
`rebuild_cases` derives every case again after an upgrade or a change of local periods (on the
next report, or `flask mdt rebuild-reports`). Like the task projection, the table holds no fact
of its own: deleting and deriving again loses nothing.

What a case's status is today is not stored: `standards_status` works it out when the table
is read, from the dates here (so a deadline passing needs no write).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Update, delete, event, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    EpisodeModel,
    HumanTaskModel,
    ListingModel,
    ListingStatus,
    MeetingModel,
    PathwayInstanceModel,
    PathwayVersionModel,
    PatientModel,
    ReportCaseModel,
    ReportProjectionModel,
    TaskStatus,
)
from mdt.services.calendar import add_working_days
from mdt.services.form_labels import answer_label
from mdt.services.measures import Evidence, Measure, matches
from mdt.services.pathways import closures, engine_for, measures_for, upstream_for
from mdt.services.settings import setting

PROJECTION = "standards"
# Bump when the derivation below changes, so every database derives its cases again once.
DERIVATION_VERSION = 4
EPOCH = date(1970, 1, 1)
CLOSE_WORDS = {"death": "Died", "transfer": "Transferred", "discharge": "Discharged"}


def day_number(day: date | None) -> int | None:
    return (day - EPOCH).days if day is not None else None


def london_date(moment: datetime | None) -> date | None:
    return moment.astimezone(LONDON).date() if moment is not None else None


@dataclass(frozen=True)
class TaskFact:
    id: int
    bpmn_id: str
    status: str
    episode_id: int | None
    data: dict[str, Any]
    context: dict[str, Any]
    form: str | None
    created_on: date
    completed_at: datetime | None


@dataclass
class Facts:
    """Everything one instance's cases are derived from."""

    instance: PathwayInstanceModel
    born: date
    episodes: list[EpisodeModel]
    tasks: list[TaskFact]
    meetings: dict[int, date]  # task id -> the date of the meeting that confirmed it
    measures: tuple[Measure, ...]
    forms: dict[str, Any]
    settings: Settings
    upstream: dict[str, frozenset[str]] = field(default_factory=dict)  # task -> before it


@dataclass(frozen=True)
class Settings:
    days: dict[str, int]
    pathway: dict[str, int]
    recorded_late: int
    closures: tuple[date, ...] = ()


@dataclass
class _Case:
    measure: Measure
    episode: EpisodeModel | None
    start: date
    task: TaskFact | None = None
    candidates: list[TaskFact] = field(default_factory=list)
    na_reason: str | None = None


# -- deriving -----------------------------------------------------------------------------


def derive(facts: Facts) -> list[dict[str, Any]]:
    """The rows of every case of every measure for one instance."""
    rows: list[dict[str, Any]] = []
    for measure in facts.measures:
        cases = (
            _episode_cases(facts, measure)
            if measure.per == "episode"
            else _task_cases(facts, measure)
        )
        rows.extend(_row(facts, case) for case in cases)
    return rows


def _episode_cases(facts: Facts, measure: Measure) -> Iterable[_Case]:
    for episode in facts.episodes:
        if episode.kind not in measure.episodes or episode.started_on is None:
            continue
        case = _Case(measure, episode, episode.started_on)
        if measure.eligible:
            starts = [_eligible(facts, episode, rule) for rule in measure.eligible]
            found = [start for start in starts if start is not None]
            if not found:
                case.na_reason = "Not eligible"
            else:  # from when the patient first qualified (e.g. the assessment that found it)
                case.start = min(found)
        case.candidates = [
            t for t in facts.tasks if t.bpmn_id in measure.evidence_tasks and _in_time(t, case)
        ]
        yield case


def _in_time(task: TaskFact, case: _Case) -> bool:
    """Whether a task can evidence an episode's case: the episode's own, or (for offers made
    whichever episode's task recorded them) one done in the episode's time or still open."""
    assert case.episode is not None
    if task.episode_id == case.episode.id:
        return True
    if case.measure.evidence_from != "any_episode":
        return False
    if task.status == TaskStatus.READY:
        return True
    dated = _evidence_date(case.measure, task)
    return dated is not None and dated >= case.start


def _evidence_date(measure: Measure, task: TaskFact) -> date | None:
    for evidence in measure.evidence:
        if task.bpmn_id in evidence.tasks:
            return _first_date(task.data, evidence.dates) or london_date(task.completed_at)
    return None


def _eligible(facts: Facts, episode: EpisodeModel, rule: dict[str, Any]) -> date | None:
    """The date from which the episode's patient qualifies under the rule, or None. Most rules
    date from the episode; one with a "clock" dates from the answer that qualified them."""
    assert episode.started_on is not None
    if "age_under" in rule:
        limit = facts.settings.pathway.get(rule["age_under"])
        born, on = facts.born, episode.started_on
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        return episode.started_on if limit is not None and age < limit else None
    answer = rule["answer"]
    condition = {k: v for k, v in answer.items() if k != "tasks"}
    found = [
        t
        for t in facts.tasks
        if t.bpmn_id in answer["tasks"]
        and t.status == TaskStatus.COMPLETED
        and (rule.get("scope") == "patient" or t.episode_id == episode.id)
        and matches(condition, t.data, True)
    ]
    if not found:
        return None
    if "clock" not in rule:
        return episode.started_on
    return min(_first_date(t.data, rule["clock"]) or episode.started_on for t in found)


def _task_cases(facts: Facts, measure: Measure) -> Iterable[_Case]:
    wanted = measure.cases.get("tasks", [])
    condition = measure.cases.get("when")
    seen: dict[tuple[int | None, date], _Case] = {}
    for task in sorted(facts.tasks, key=lambda t: (t.created_on, t.id)):
        if task.bpmn_id not in wanted:
            continue
        done = task.status == TaskStatus.COMPLETED
        if condition and not matches(condition, task.data, done):
            continue
        start = _start(facts, measure, task)
        if start is None:
            continue
        if measure.cases.get("distinct_start") and (task.episode_id, start) in seen:
            seen[(task.episode_id, start)].candidates.append(task)  # offered again: same case
            continue
        episode = next((e for e in facts.episodes if e.id == task.episode_id), None)
        case = _Case(measure, episode, start, task)
        if task.bpmn_id in measure.evidence_tasks:
            case.candidates = [task]
        else:  # what followed it in the same episode, by the dates recorded
            case.candidates = [
                t
                for t in facts.tasks
                if t.bpmn_id in measure.evidence_tasks
                and t.episode_id == task.episode_id
                and (
                    t.status == TaskStatus.READY
                    or (_evidence_date(measure, t) or date.min) >= start
                )
            ]
        seen[(task.episode_id, start)] = case
        yield case


def _start(facts: Facts, measure: Measure, task: TaskFact) -> date | None:
    start = measure.start
    if start == "meeting":
        return facts.meetings.get(task.id)
    if isinstance(start, dict) and "field" in start:
        return _first_date(task.data, start["field"])
    if isinstance(start, dict) and "context" in start:
        value: Any = task.context
        for part in str(start["context"]).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return _as_date(value)
    return None


def _as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _first_date(data: dict[str, Any], names: Iterable[str]) -> date | None:
    for name in names:
        found = _as_date(data.get(name))
        if found is not None:
            return found
    return None


def _deadline(facts: Facts, measure: Measure, start: date) -> date | None:
    if not measure.deadline:
        return None
    if "working_days" in measure.deadline:
        noon = datetime.combine(start, time(12), tzinfo=LONDON)
        days = int(measure.deadline["working_days"])
        return add_working_days(noon, days, facts.settings.closures).date()
    days = facts.settings.days.get(measure.key, int(measure.deadline["days"]))
    return start + timedelta(days=days)


@dataclass
class _Found:
    task: TaskFact
    done: date
    outcome: str | None  # met, declined, or None: done but not as the rule asks
    label: str
    not_met: str


def _judge(facts: Facts, evidence: Evidence, task: TaskFact) -> _Found | None:
    if task.status != TaskStatus.COMPLETED:
        return None
    if "@meeting" in evidence.dates:
        done = facts.meetings.get(task.id)
        if done is None:  # an outcome recorded outside a meeting is no MDT discussion
            completed = london_date(task.completed_at) or clock.today()
            return _Found(task, completed, None, "", "Recorded outside an MDT meeting")
    else:
        done = _first_date(task.data, evidence.dates) or london_date(task.completed_at)
    assert done is not None
    if matches(evidence.met, task.data, True):
        return _Found(task, done, "met", "", "")
    if evidence.declined and matches(evidence.declined, task.data, True):
        return _Found(task, done, "declined", _answer(facts, task, evidence.declined), "")
    return _Found(task, done, None, "", _not_met(facts, evidence, task))


def _not_met(facts: Facts, evidence: Evidence, task: TaskFact) -> str:
    """Why the task done is not evidence: the measure's words for the answer given, else the
    measure's words, else the answer as the form says it."""
    name = (evidence.met or {}).get("field", "")
    value = task.data.get(name) if name else None
    if str(value) in evidence.not_met_labels:
        return evidence.not_met_labels[str(value)]
    if evidence.not_met:
        return evidence.not_met
    if name:
        schema = facts.forms.get(task.form or "", {})
        return f"Recorded as “{answer_label(schema, name, value)}”"
    return "Not done as the standard asks"


def _answer(facts: Facts, task: TaskFact, condition: dict[str, Any]) -> str:
    """The patient's choice in the measure's words (its "labels"), else the form's."""
    name = condition.get("field", "")
    value = task.data.get(name)
    if str(value) in condition.get("labels", {}):
        return str(condition["labels"][str(value)])
    schema = facts.forms.get(task.form or "", {})
    return str(answer_label(schema, name, value)) if name else ""


def _evidence_for(facts: Facts, case: _Case, deadline: date | None) -> _Found | None:
    """The best evidence: met on time, else declined on time, else the first late one, else
    the first done not as the rule asks."""
    found = []
    for task in case.candidates:
        for evidence in case.measure.evidence:
            if task.bpmn_id in evidence.tasks:
                judged = _judge(facts, evidence, task)
                if judged is not None:
                    found.append(judged)
                break
    found.sort(key=lambda f: (f.done, f.task.id))
    on_time = [f for f in found if f.outcome and (deadline is None or f.done <= deadline)]
    for wanted in ("met", "declined"):
        match = next((f for f in on_time if f.outcome == wanted), None)
        if match:
            return match
    late = next((f for f in found if f.outcome), None)
    return late or next(iter(found), None)


def _then(facts: Facts, case: _Case, best: _Found) -> str | None:
    """What the patient decided later, after declining in time: the scorecard says both
    (the declined offer still counts for the standard)."""
    for task in sorted(case.candidates, key=lambda t: t.id):
        for evidence in case.measure.evidence:
            judged = _judge(facts, evidence, task) if task.bpmn_id in evidence.tasks else None
            if (
                judged
                and judged.outcome == "met"
                and judged.done >= best.done
                and task != best.task
            ):
                return f"accepted on {judged.done.day} {judged.done:%B %Y}"
    return None


def _open_task(facts: Facts, case: _Case) -> int | None:
    """The task the case still waits on, if any: one of the episode's open tasks that could
    evidence it, else one that must come first (a care plan waits on its treatment planning
    consultation). Such a case is overdue after its deadline, not missed."""
    episode_id = case.episode.id if case.episode else (case.task.episode_id if case.task else None)
    any_episode = case.episode is not None and case.measure.evidence_from == "any_episode"
    evidence = case.measure.evidence_tasks
    waiting = [
        t
        for t in facts.tasks
        if t.status == TaskStatus.READY
        and (t.episode_id == episode_id or (any_episode and t.bpmn_id in evidence))
    ]
    before = set().union(*(facts.upstream.get(t, frozenset()) for t in evidence))
    for wanted in (evidence, before):
        found = next((t.id for t in waiting if t.bpmn_id in wanted), None)
        if found is not None:
            return found
    return None


def _row(facts: Facts, case: _Case) -> dict[str, Any]:
    instance, measure = facts.instance, case.measure
    deadline = _deadline(facts, measure, case.start)
    found = _evidence_for(facts, case, deadline)
    closed = london_date(instance.closed_at) if instance.close_reason else None
    open_task = _open_task(facts, case)
    afterwards = _then(facts, case, found) if found and found.outcome == "declined" else None
    recorded_late = None
    if found is not None and found.task.completed_at is not None:
        lag = (london_date(found.task.completed_at) - found.done).days  # type: ignore[operator]
        recorded_late = lag if lag >= facts.settings.recorded_late else None
    return {
        "measure": measure.key,
        "code": measure.code,
        "instance_id": instance.id,
        "patient_id": instance.patient_id,
        "episode_id": case.episode.id if case.episode else None,
        "cohort": case.episode.kind if case.episode else "",
        "task_id": case.task.id if case.task else None,
        "evidence_task_id": found.task.id if found else None,
        "start_on": case.start,
        "month": f"{case.start:%Y-%m}",
        "deadline_on": deadline,
        "done_on": found.done if found and found.outcome else None,
        "closed_on": closed,
        "close_reason": instance.close_reason,
        "outcome": found.outcome if found else None,
        "outcome_label": found.label if found else "",
        "afterwards": afterwards,
        "not_met": found.not_met if found and not found.outcome else None,
        "open": open_task is not None,
        "open_task_id": open_task,
        "na_reason": case.na_reason,
        # End-of-life care owed and not given before the patient died is missed, not excused.
        "missed_if_died": measure.after_death == "missed" and instance.close_reason == "death",
        "recorded_late_days": recorded_late,
        "start_day": day_number(case.start),
        "deadline_day": day_number(deadline),
        "done_day": day_number(found.done) if found and found.outcome else None,
        "closed_day": day_number(closed),
    }


# -- loading and writing --------------------------------------------------------------------


def _settings() -> Settings:
    return Settings(
        days=dict(setting("MDT_KPI_DAYS")),  # type: ignore[call-overload]
        pathway=dict(setting("MDT_PATHWAY_SETTINGS")),  # type: ignore[call-overload]
        recorded_late=int(setting("MDT_RECORDED_LATE_DAYS")),  # type: ignore[call-overload]
        closures=tuple(closures()),
    )


def _facts_for(instances: list[PathwayInstanceModel], settings: Settings) -> list[Facts]:
    """The facts of several instances, in a few queries whatever their number."""
    ids = [i.id for i in instances]
    if not ids:
        return []
    episodes: dict[int, list[EpisodeModel]] = defaultdict(list)
    for episode in db.session.scalars(
        select(EpisodeModel).where(EpisodeModel.instance_id.in_(ids)).order_by(EpisodeModel.id)
    ):
        episodes[episode.instance_id].append(episode)
    tasks: dict[int, list[TaskFact]] = defaultdict(list)
    rows = db.session.execute(
        select(
            HumanTaskModel.instance_id,
            HumanTaskModel.id,
            HumanTaskModel.bpmn_id,
            HumanTaskModel.status,
            HumanTaskModel.episode_id,
            HumanTaskModel.data,
            HumanTaskModel.context,
            HumanTaskModel.form,
            HumanTaskModel.created_at,
            HumanTaskModel.completed_at,
        ).where(HumanTaskModel.instance_id.in_(ids))
    )
    for instance_id, *values in rows:
        task_id, bpmn_id, status, episode_id, data, context, form, created, completed = values
        tasks[instance_id].append(
            TaskFact(
                task_id,
                bpmn_id,
                status,
                episode_id,
                data or {},
                context or {},
                form,
                london_date(created) or clock.today(),
                completed,
            )
        )
    meetings = dict(
        db.session.execute(
            select(ListingModel.task_id, MeetingModel.starts_at)
            .join(MeetingModel, MeetingModel.id == ListingModel.meeting_id)
            .join(HumanTaskModel, HumanTaskModel.id == ListingModel.task_id)
            .where(
                HumanTaskModel.instance_id.in_(ids),
                ListingModel.status == ListingStatus.CONFIRMED,
            )
        ).all()
    )
    born = _born({i.patient_id for i in instances})
    facts = []
    for instance in instances:
        version = instance.pathway_version
        measures = _measures(version)
        forms = engine_for(version).pathway.forms if measures else {}
        facts.append(
            Facts(
                instance,
                born[instance.patient_id],
                episodes[instance.id],
                tasks[instance.id],
                {k: london_date(v) for k, v in meetings.items()},  # type: ignore[misc]
                measures,
                forms,
                settings,
                upstream_for(version) if measures else {},
            )
        )
    return facts


def _born(patient_ids: set[int]) -> dict[int, date]:
    """Dates of birth: a save has its one patient loaded already (no statement for it)."""
    if len(patient_ids) == 1:
        [patient_id] = patient_ids
        patient = db.session.get(PatientModel, patient_id)
        return {patient_id: patient.date_of_birth} if patient is not None else {}
    return dict(
        db.session.execute(
            select(PatientModel.id, PatientModel.date_of_birth).where(
                PatientModel.id.in_(patient_ids)
            )
        ).all()
    )


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in sorted(row))


def rederive_cases(instance_id: int) -> None:
    """Derive one instance's cases again whatever this transaction noted: for a projection
    that is not current (an upgrade, new local periods, a change of unknown reach), where
    nothing noted says what changed."""
    db.session.flush()
    instance = db.session.get(PathwayInstanceModel, instance_id)
    if instance is not None:
        _write(instance)
        db.session.info.setdefault(_DONE, set()).add(instance_id)


def refresh_cases(instance_id: int) -> None:
    """Derive one instance's cases again (flushing first) when this transaction changed
    something they read; writes only the cases that changed (a completion usually changes
    one of a dozen).

    Nothing is read when nothing noted concerns the instance (``_reads``): completing a task
    no measure names, with no episode, meeting, patient or closure changed, leaves every
    case as it was. A save that forgets to call this is caught at the commit
    (``_derive_noted``)."""
    db.session.flush()
    touched = _resolve(db.session())
    instance = db.session.get(PathwayInstanceModel, instance_id)
    if instance is not None and _reads(instance, touched.get(instance_id), touched):
        _write(instance)
        db.session.info.setdefault(_DONE, set()).add(instance_id)
    touched.pop(instance_id, None)


def _write(instance: PathwayInstanceModel) -> None:
    [facts] = _facts_for([instance], _settings())
    wanted = derive(facts)
    columns = list(wanted[0]) if wanted else []
    stored = db.session.execute(
        select(ReportCaseModel.id, *(getattr(ReportCaseModel, c) for c in columns)).where(
            ReportCaseModel.instance_id == instance.id
        )
    ).all()
    unmatched: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for case_id, *values in stored:
        unmatched[tuple(values)].append(case_id)
    missing = []
    for row in wanted:
        same = unmatched.get(tuple(row[c] for c in columns))
        if same:
            same.pop()  # stored as derived: kept
        else:
            missing.append(row)
    gone = [case_id for ids in unmatched.values() for case_id in ids]
    if gone:
        db.session.execute(delete(ReportCaseModel).where(ReportCaseModel.id.in_(gone)))
    if missing:
        db.session.execute(insert(ReportCaseModel.__table__), missing)


def rebuild_cases(batch: int = 500) -> int:
    """Derive every case again; returns how many there are. The caller commits."""
    db.session.flush()  # what this transaction changed is derived below: no note is left
    state = db.session.get(ReportProjectionModel, PROJECTION, with_for_update=True)
    db.session.execute(delete(ReportCaseModel))
    settings = _settings()
    ids = list(
        db.session.scalars(select(PathwayInstanceModel.id).order_by(PathwayInstanceModel.id))
    )
    for offset in range(0, len(ids), batch):
        instances = list(
            db.session.scalars(
                select(PathwayInstanceModel).where(
                    PathwayInstanceModel.id.in_(ids[offset : offset + batch])
                )
            )
        )
        rows = [row for facts in _facts_for(instances, settings) for row in derive(facts)]
        if rows:
            db.session.execute(insert(ReportCaseModel.__table__), rows)
    built_with = fingerprint()
    if state is None:
        state = ReportProjectionModel(name=PROJECTION, fingerprint=built_with)
        db.session.add(state)
    state.fingerprint = built_with
    state.built_at = clock.now()
    db.session.flush()
    db.session.info.pop(_TOUCHED, None)
    db.session.info.pop(_PENDING, None)
    return db.session.scalar(select(func.count()).select_from(ReportCaseModel)) or 0


def fingerprint() -> str:
    """What the cases were derived with: the derivation, every version's measures and the
    local settings that change deadlines and eligibility."""
    versions = db.session.execute(
        select(PathwayVersionModel.id, PathwayVersionModel.sha256).order_by(PathwayVersionModel.id)
    ).all()
    settings = _settings()
    parts = (DERIVATION_VERSION, [tuple(v) for v in versions], sorted(settings.days.items()),
             sorted(settings.pathway.items()), settings.recorded_late, settings.closures)  # fmt: skip
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def is_current() -> bool:
    state = db.session.get(ReportProjectionModel, PROJECTION)
    return state is not None and state.fingerprint == fingerprint()


# -- what a save touched --------------------------------------------------------------------
# A save need only derive again the cases it may have changed. Every flush notes in the
# session which instances had something the derivation reads changed: a task's answers,
# status, episode or dates (by its BPMN id: only tasks some measure names matter), an
# episode, the instance's closure or version. A patient's date of birth, a listing or a
# meeting's date is noted by the patient, task or meeting it concerns and resolved to their
# instances when next needed. Before the transaction commits, every instance still noted is
# derived (``_derive_noted``), whichever path saved it: the cases are current at every
# commit. Only a statement past the objects leaves it unknown which instances it reached:
# the projection is then marked for a rebuild (as an upgrade does) instead of deriving
# every instance in one request.

_TOUCHED = "mdt.cases.touched"  # instance id -> BPMN ids of changed tasks, or _ALL
_PENDING = "mdt.cases.pending"  # "patient" / "task" / "meeting" -> ids, not yet resolved
_DONE = "mdt.cases.derived"  # instances derived in this transaction
_ALL = "*"
_EVERY = -1  # a change that may concern any instance
STALE = ""  # a fingerprint nothing is built with: the next report derives every case again
TASK_FIELDS = ("instance_id", "bpmn_id", "status", "episode_id", "data", "context", "form",
               "created_at", "completed_at")  # fmt: skip
INSTANCE_FIELDS = ("patient_id", "pathway_version_id", "closed_at", "close_reason")
LISTING_FIELDS = ("task_id", "meeting_id", "status")
# Per table, the columns the derivation reads (None: any).
_READ_COLUMNS: dict[str, tuple[str, ...] | None] = {
    "human_task": TASK_FIELDS,
    "episode": None,
    "pathway_instance": INSTANCE_FIELDS,
    "meeting_listing": LISTING_FIELDS,
    "meeting": ("starts_at",),
    "patient": ("date_of_birth",),
}
_READS: dict[str, frozenset[str]] = {}  # by version sha256: the BPMN ids a derivation reads
_MEASURES: dict[str, tuple[Measure, ...]] = {}  # by version sha256 (versions never change)


def _measures(version: PathwayVersionModel) -> tuple[Measure, ...]:
    found = _MEASURES.get(version.sha256)
    if found is None:
        found = _MEASURES[version.sha256] = measures_for(version)
    return found


def tasks_read(version: PathwayVersionModel) -> frozenset[str]:
    """Every BPMN id the version's measures read: evidence, cases, eligibility answers, and
    the tasks that come before evidence (a case waits on them)."""
    found = _READS.get(version.sha256)
    if found is None:
        names: set[str] = set()
        upstream = upstream_for(version)
        for measure in _measures(version):
            names |= measure.evidence_tasks | set(measure.cases.get("tasks", []))
            for rule in measure.eligible:
                names |= set(rule.get("answer", {}).get("tasks", []))
            for task in measure.evidence_tasks:
                names |= upstream.get(task, frozenset())
        found = _READS[version.sha256] = frozenset(names)
    return found


def _changed(obj: Any, names: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _values_of(obj: Any, name: str) -> set[int]:
    """An attribute's values before and after this flush (a row moved concerns both)."""
    history = inspect(obj).attrs[name].history
    return {i for i in (*history.deleted, getattr(obj, name)) if i is not None}


@event.listens_for(Session, "after_flush")
def _note_touched(session: Session, context: Any) -> None:
    """After the flush, so new rows have their ids (the history is still there)."""
    touched: dict[int, set[str] | str] = session.info.setdefault(_TOUCHED, {})
    pending: dict[str, set[int]] = session.info.setdefault(_PENDING, defaultdict(set))
    for obj in (*session.new, *session.dirty, *session.deleted):
        created = obj in session.new or obj in session.deleted
        if isinstance(obj, HumanTaskModel) and (created or _changed(obj, TASK_FIELDS)):
            for instance_id in _values_of(obj, "instance_id"):
                _note(touched, instance_id, obj.bpmn_id)
        elif isinstance(obj, EpisodeModel):
            for instance_id in _values_of(obj, "instance_id"):
                _note(touched, instance_id, _ALL)
        elif isinstance(obj, PathwayInstanceModel):
            if created or _changed(obj, INSTANCE_FIELDS):
                _note(touched, obj.id, _ALL)
        elif isinstance(obj, PatientModel):  # a new patient has no instance yet
            if not created and _changed(obj, ("date_of_birth",)):
                pending["patient"].add(obj.id)
        elif isinstance(obj, ListingModel):
            if created or _changed(obj, LISTING_FIELDS):
                pending["task"] |= _values_of(obj, "task_id")
        elif isinstance(obj, MeetingModel) and (  # a new one has nothing listed yet
            obj in session.deleted or (not created and _changed(obj, ("starts_at",)))
        ):
            pending["meeting"].add(obj.id)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(execute_state: Any) -> None:
    """An INSERT, UPDATE or DELETE by statement (past the objects) of what cases are derived
    from: which instances it reached is not known, so it counts for all. An UPDATE of
    columns no case reads (claiming a task) counts for none."""
    if execute_state.is_select:
        return
    statement = execute_state.statement
    table = getattr(getattr(statement, "table", None), "name", None)
    if table not in _READ_COLUMNS:
        return
    columns = _READ_COLUMNS[table]
    values = getattr(statement, "_values", None) if isinstance(statement, Update) else None
    if (
        columns is not None
        and values
        and not any(str(getattr(k, "key", k)) in columns for k in values)
    ):
        return
    _note(execute_state.session.info.setdefault(_TOUCHED, {}), _EVERY, _ALL)


def _note(touched: dict[int, set[str] | str], instance_id: int, name: str) -> None:
    names = touched.setdefault(instance_id, set())
    if name == _ALL:
        touched[instance_id] = _ALL
    elif isinstance(names, set):
        names.add(name)


def _resolve(session: Session) -> dict[int, set[str] | str]:
    """The notes by instance: patients, tasks and meetings noted become their instances
    (read only when something was noted: a save that touched nothing reads nothing)."""
    touched: dict[int, set[str] | str] = session.info.setdefault(_TOUCHED, {})
    pending: dict[str, set[int]] = session.info.pop(_PENDING, {})
    found: set[int] = set()
    if pending.get("patient"):
        found |= set(
            session.scalars(
                select(PathwayInstanceModel.id).where(
                    PathwayInstanceModel.patient_id.in_(pending["patient"])
                )
            )
        )
    if pending.get("task"):
        found |= set(
            session.scalars(
                select(HumanTaskModel.instance_id).where(HumanTaskModel.id.in_(pending["task"]))
            )
        )
    if pending.get("meeting"):
        found |= set(
            session.scalars(
                select(HumanTaskModel.instance_id)
                .join(ListingModel, ListingModel.task_id == HumanTaskModel.id)
                .where(ListingModel.meeting_id.in_(pending["meeting"]))
            )
        )
    for instance_id in found:
        _note(touched, instance_id, _ALL)
    return touched


def _reads(
    instance: PathwayInstanceModel,
    names: set[str] | str | None,
    touched: dict[int, set[str] | str],
) -> bool:
    """Whether what was noted for the instance is read by its cases."""
    if _EVERY in touched or names == _ALL:
        return True
    return bool(names) and not names.isdisjoint(tasks_read(instance.pathway_version))  # type: ignore[union-attr]


@event.listens_for(Session, "before_commit")
def _derive_noted(session: Session) -> None:
    """Before the transaction commits: derive every instance noted and not derived yet, so
    a save path that never calls ``refresh_cases`` (a PAS update, a meeting's listing) still
    commits current cases. A statement whose reach is unknown marks the projection for a
    rebuild."""
    if session.in_nested_transaction():
        return  # a savepoint: the outer transaction's commit does it
    session.flush()  # the commit would flush after this hook: note it first
    for _ in range(5):  # deriving writes only cases, which note nothing; this ends at once
        touched = _resolve(session)
        if not touched:
            return
        assert session is db.session(), "the cases are derived in the request's session"
        if touched.pop(_EVERY, None) is not None:
            session.execute(
                update(ReportProjectionModel)
                .where(ReportProjectionModel.name == PROJECTION)
                .values(fingerprint=STALE)
            )
        for instance_id in list(touched):
            refresh_cases(instance_id)
        session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _undone(session: Session, previous_transaction: Any) -> None:
    """A savepoint rolled back undid the cases derived inside it too: derive those again."""
    if previous_transaction.nested:
        touched = session.info.setdefault(_TOUCHED, {})
        for instance_id in session.info.get(_DONE, ()):
            _note(touched, instance_id, _ALL)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    """At the commit every note was derived; at a rollback what it noted was undone."""
    if transaction.parent is None:
        for name in (_TOUCHED, _PENDING, _DONE):
            session.info.pop(name, None)
