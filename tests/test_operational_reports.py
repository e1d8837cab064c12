"""The operational reports: MDT meeting metrics (circulation, quoracy, the two-thirds rule)
and workload per role and person, over rows written straight into the tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from freezegun import freeze_time

from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    InstanceStatus,
    PathwayInstanceModel,
    PatientModel,
    TaskStatus,
)
from mdt.models.meeting import AttendanceModel, MeetingModel, MeetingStatus
from mdt.services.actor import Actor
from mdt.services.operational_reports import meeting_report, workload_report
from mdt.services.standards_report import ReportQuery

from .helpers import NHS_NUMBERS

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
PERIOD = ReportQuery(date(2026, 1, 1), date(2026, 6, 30))
MANAGER = Actor(None, "manager", frozenset({"manager"}))


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


class Cohort:
    def __init__(self, version_id: int):
        self.version_id = version_id
        self.instances: dict[str, PathwayInstanceModel] = {}
        self.ids = iter(range(1, 10_000))

    def patient(self, label: str, index_date: str | None, closed: str | None = None) -> None:
        n = len(self.instances)
        patient = PatientModel(
            nhs_number=NHS_NUMBERS[n],
            given_name="Pat",
            family_name=f"Cohort{label}",
            date_of_birth=date(1960, 1, 1),
        )
        db.session.add(patient)
        db.session.flush()
        instance = PathwayInstanceModel(
            patient_id=patient.id,
            pathway_version_id=self.version_id,
            state="",
            status=InstanceStatus.CLOSED if closed else InstanceStatus.RUNNING,
            closed_at=at(closed) if closed else None,
            close_reason="death" if closed else None,
            index_date=date.fromisoformat(index_date) if index_date else None,
        )
        db.session.add(instance)
        db.session.flush()
        self.instances[label] = instance
        if index_date:
            self.task(
                label,
                "register_diagnosis",
                at(index_date),
                at(index_date, 10),
                data={"index_date": index_date},
            )

    def task(
        self,
        label: str,
        bpmn_id: str,
        created: datetime,
        done: datetime | None = None,
        *,
        data: dict[str, Any] | None = None,
        call_path: str = "",
        due: datetime | None = None,
        cancelled: bool = False,
        role: str = "cns",
        assigned_to_id: int | None = None,
        completed_by_id: int | None = None,
    ) -> HumanTaskModel:
        instance = self.instances[label]
        status = TaskStatus.COMPLETED if done else TaskStatus.READY
        if cancelled:
            status = TaskStatus.CANCELLED
        row = HumanTaskModel(
            instance_id=instance.id,
            patient_id=instance.patient_id,
            spiff_task_id=f"t{next(self.ids)}",
            process_id="p",
            bpmn_id=bpmn_id,
            name=bpmn_id.replace("_", " ").capitalize(),
            role=role,
            call_path=call_path,
            status=status,
            created_at=created,
            due_at=due,
            completed_at=done,
            data=data,
            assigned_to_id=assigned_to_id,
            completed_by_id=completed_by_id,
        )
        db.session.add(row)
        db.session.flush()
        return row


def test_meeting_metrics_and_the_two_thirds_rule(app: Flask, make_user: Any) -> None:
    oncologist = make_user("oncologist", discipline="oncology")
    radiologist = make_user("cns", discipline="radiology")
    core = app.config["MDT_CORE_DISCIPLINES"]
    app.config["MDT_CORE_DISCIPLINES"] = ("oncology", "radiology")
    try:
        for day, notice_hours, radiology_there in (
            ("2026-03-02", 30, False),
            ("2026-03-09", 10, True),
            ("2026-03-16", 48, False),
        ):
            start = at(day, 13)
            meeting = MeetingModel(
                title="Secondary breast MDT",
                starts_at=start,
                cut_off_at=start - timedelta(days=1),
                status=MeetingStatus.CLOSED,
                circulated_at=start - timedelta(hours=notice_hours),
            )
            db.session.add(meeting)
            db.session.flush()
            db.session.add(
                AttendanceModel(
                    meeting_id=meeting.id,
                    user_id=oncologist.id,
                    name=oncologist.display_name,
                    discipline="oncology",
                )
            )
            db.session.add(
                AttendanceModel(
                    meeting_id=meeting.id,
                    user_id=radiologist.id,
                    name=radiologist.display_name,
                    discipline="radiology",
                    present=radiology_there,
                )
            )
        db.session.commit()
        with freeze_time(NOW):
            report = meeting_report(MANAGER, PERIOD)
        assert [r.kpis.circulated_24h_before for r in report.rows] == [True, False, True]
        assert [r.kpis.quorate for r in report.rows] == [False, True, False]
        assert [r.kpis.missing for r in report.rows] == [["radiology"], [], ["radiology"]]
        attendance = {(m.discipline, m.attended, m.held, m.meets_rule) for m in report.members}
        assert attendance == {("oncology", 3, 3, True), ("radiology", 1, 3, False)}
    finally:
        app.config["MDT_CORE_DISCIPLINES"] = core


def test_workload_per_role_and_person_per_week(app: Flask, pathway: Any, make_user: Any) -> None:
    nurse = make_user("cns")
    c = Cohort(pathway.id)
    c.patient("A", None)
    c.task("A", "t1", at("2026-06-01"), due=at("2026-06-20"), assigned_to_id=nurse.id)
    c.task("A", "t2", at("2026-06-28"), due=at("2026-07-05"), assigned_to_id=nurse.id)
    c.task("A", "t3", at("2026-06-28"), role="coordinator")
    c.task("A", "t4", at("2026-06-01"), at("2026-06-03"), completed_by_id=nurse.id)  # Wed
    c.task("A", "t5", at("2026-06-01"), at("2026-06-07"), completed_by_id=nurse.id)  # Sun
    c.task("A", "t6", at("2026-06-01"), at("2026-06-08"), completed_by_id=nurse.id)  # Mon
    db.session.commit()
    with freeze_time(NOW):
        report = workload_report(MANAGER, PERIOD)
    assert report.weeks == ["2026-06-01", "2026-06-08"]
    roles = {r.label: (r.open, r.overdue, r.completed, r.weekly) for r in report.by_role}
    assert roles == {
        "Clinical nurse specialist": (2, 1, 3, {"2026-06-01": 2, "2026-06-08": 1}),
        "MDT coordinator": (1, 0, 0, {}),
    }
    people = {r.label: (r.open, r.overdue, r.completed) for r in report.by_person}
    assert people == {nurse.display_name: (2, 1, 3)}
