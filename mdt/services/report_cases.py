"""The reporting projection: each case of each standards measure, derived in SQL from the
task and instance tables and kept in step with them.

A case is a task that shows a need arose (see `standards_kpis`). Its row says where the
measure's clock started, when the evidence was done, whether the form recorded what it
should, when the pathway closed, and the same moments as day numbers. The dashboard then
classifies and counts one narrow, indexed table instead of joining tasks, instances and
forms once per measure; the local periods and targets still apply when it is read.

The rows of an instance are derived again whenever its tasks change (`refresh_cases`, from
the instance service), and the whole table when the measure definitions change
(`ensure_current`, on the next report after an upgrade; or `flask mdt rebuild-reports`).
Like the timer table, it holds no fact of its own: deleting and re-deriving rows loses
nothing.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

from mdt import clock
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    PathwayInstanceModel,
    ReportCaseModel,
    ReportProjectionModel,
    TaskStatus,
)
from mdt.services.sql_dates import as_timestamp, day_number, month_of
from mdt.services.standards_kpis import COHORT_CALL_PATHS, KPIS, Clock, Kpi

PROJECTION = "standards"
# Bump when the derivation below changes, so every database rebuilds its rows once.
DERIVATION_VERSION = 1

_COLUMNS = (
    "kpi",
    "task_id",
    "instance_id",
    "patient_id",
    "cohort",
    "status",
    "recorded",
    "start_at",
    "month",
    "done_at",
    "due_at",
    "closed_at",
    "close_reason",
    "start_day",
    "done_day",
    "due_day",
    "closed_day",
)


def fingerprint() -> str:
    return hashlib.sha256(repr((DERIVATION_VERSION, KPIS)).encode()).hexdigest()


def refresh_cases(instance_id: int) -> None:
    """Derive one instance's cases again from its current rows (flushed first)."""
    db.session.flush()
    db.session.execute(delete(ReportCaseModel).where(ReportCaseModel.instance_id == instance_id))
    db.session.execute(_refresh_statement(_dialect()), {"instance_id": instance_id})


def rebuild_cases() -> int:
    """Derive every case again; returns how many there are. The caller commits."""
    state = db.session.get(ReportProjectionModel, PROJECTION, with_for_update=True)
    db.session.execute(delete(ReportCaseModel))
    _insert_all()
    if state is None:
        state = ReportProjectionModel(name=PROJECTION)
        db.session.add(state)
    state.fingerprint = fingerprint()
    state.built_at = clock.now()
    db.session.flush()
    return db.session.scalar(select(func.count()).select_from(ReportCaseModel)) or 0


def is_current() -> bool:
    state = db.session.get(ReportProjectionModel, PROJECTION)
    return state is not None and state.fingerprint == fingerprint()


def _dialect() -> str:
    return str(db.session.get_bind().dialect.name)


@cache
def _refresh_statement(dialect: str) -> Any:
    """One statement for every measure, built once per dialect: it runs at every save, where
    building and compiling fifteen statements would cost more than running them."""
    instance_id = bindparam("instance_id", type_=Integer)
    # The Core table, not the ORM class: with parameters the ORM would read a bulk insert.
    return insert(ReportCaseModel.__table__).from_select(
        _COLUMNS, union_all(*(_cases_of(kpi, instance_id) for kpi in KPIS))
    )


def _insert_all() -> None:
    for kpi in KPIS:
        db.session.execute(insert(ReportCaseModel).from_select(_COLUMNS, _cases_of(kpi)))


def _cases_of(kpi: Kpi, instance_id: Any = None) -> Any:
    case_ = aliased(HumanTaskModel, name="kpi_case")
    instance = aliased(PathwayInstanceModel, name="kpi_instance")
    if kpi.clock == Clock.INDEX:
        start: Any = as_timestamp(instance.index_date)
    else:
        start = case_.created_at
    done_at = _done_at(kpi, case_)
    stmt = (
        select(
            cast(literal(kpi.key), String),
            case_.id,
            case_.instance_id,
            case_.patient_id,
            _cohort(case_.call_path),
            case_.status,
            func.coalesce(_recorded(kpi, case_), false()),
            start,
            month_of(start),
            done_at,
            case_.due_at,
            instance.closed_at,
            instance.close_reason,
            day_number(start),
            day_number(done_at),
            day_number(case_.due_at),
            day_number(instance.closed_at),
        )
        .join(instance, instance.id == case_.instance_id)
        .where(case_.bpmn_id.in_(kpi.case_tasks))
    )
    return stmt if instance_id is None else stmt.where(case_.instance_id == instance_id)


def _done_at(kpi: Kpi, case_: Any) -> Any:
    """The case task's own completion, or for measures whose evidence is a later task, the
    first such task completed in the same called process."""
    if not kpi.evidence_tasks:
        return case((case_.status == TaskStatus.COMPLETED, case_.completed_at))
    evidence = aliased(HumanTaskModel, name="kpi_evidence")
    return (
        select(func.min(evidence.completed_at))
        .where(
            evidence.instance_id == case_.instance_id,
            evidence.call_path == case_.call_path,
            evidence.bpmn_id.in_(kpi.evidence_tasks),
            evidence.status == TaskStatus.COMPLETED,
            evidence.created_at >= case_.created_at,
        )
        .scalar_subquery()
    )


def _recorded(kpi: Kpi, case_: Any) -> Any:
    condition = kpi.condition
    if condition is None:
        return true()
    value = case_.data[condition.field]
    if condition.yes:
        return value.as_boolean() == True  # noqa: E712 - SQL, not Python
    text = value.as_string()
    if condition.values:
        return text.in_(condition.values)
    return and_(text.is_not(None), func.trim(text) != "")


def _cohort(call_path: Any) -> Any:
    """Which event the case followed, told by the called process it is in."""
    return case(
        *(
            (call_path.like(f"{prefix}%"), cohort)
            for cohort, prefixes in COHORT_CALL_PATHS.items()
            for prefix in prefixes
        ),
        else_="new",
    )
