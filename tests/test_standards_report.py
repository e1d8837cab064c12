"""The standards report over a small synthetic cohort whose figures were worked out by hand.

The cohort is written straight into the task, instance and meeting tables (the report reads
nothing else), with timestamps chosen so that every outcome occurs: met, late, overdue, done
but not recorded, not yet due, and not applicable because the pathway closed. "Now" is
frozen at 30 June 2026, noon.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from freezegun import freeze_time
from sqlalchemy import delete, func, select

from mdt.extensions import db
from mdt.models import (
    AuditEventModel,
    HumanTaskModel,
    InstanceStatus,
    PathwayInstanceModel,
    PatientModel,
    ReportCaseModel,
    ReportProjectionModel,
    TaskStatus,
)
from mdt.models.meeting import AttendanceModel, MeetingModel, MeetingStatus
from mdt.services.actor import Actor
from mdt.services.errors import PermissionDeniedError
from mdt.services.operational_reports import meeting_report, workload_report
from mdt.services.report_cases import rebuild_cases
from mdt.services.standards_report import ReportQuery, kpi_cases, standards_report

from .helpers import NHS_NUMBERS

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
PERIOD = ReportQuery(date(2026, 1, 1), date(2026, 6, 30))
MANAGER = Actor(None, "manager", frozenset({"manager"}))
DIAGNOSIS_MDT = "diagnosis_mdt"
PROGRESSION_HNA = "progression_subprocess progression_hna"
PROGRESSION_MDT = "progression_subprocess progression_mdt"


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


def build_cohort(version_id: int) -> Cohort:
    """Six patients, A to F; the expected figures in the tests below were worked out by hand."""
    c = Cohort(version_id)
    c.patient("A", "2026-03-01")
    c.patient("B", "2026-03-01")
    c.patient("C", "2026-06-25")
    c.patient("D", "2026-04-01")
    c.patient("E", "2026-04-01", closed="2026-04-05")
    c.patient("F", "2025-11-01")  # before the period: never counted
    # IS1 first contact, 14 days from the index date.
    c.task("A", "cns_first_contact", at("2026-03-02"), at("2026-03-10"))  # 9 days: met
    c.task("B", "cns_first_contact", at("2026-03-02"), at("2026-03-20"))  # 19 days: late
    c.task("C", "cns_first_contact", at("2026-06-26"))  # 5 days so far: not yet due
    c.task("D", "cns_first_contact", at("2026-04-02"))  # 90 days: overdue
    c.task("E", "cns_first_contact", at("2026-04-02"), cancelled=True)  # died day 4: n/a
    c.task("F", "cns_first_contact", at("2025-11-02"), at("2025-11-03"))
    # IS3 needs assessments, 28 days from the task, offered (COSD 01, 02, 03, 05).
    c.task("A", "holistic_needs_assessment_task", at("2026-03-02"), at("2026-03-20"),
           data={"offer": "01"})  # fmt: skip
    c.task("B", "holistic_needs_assessment_task", at("2026-03-02"), at("2026-03-10"),
           data={"offer": "04"})  # fmt: skip
    c.task("A", "holistic_needs_assessment_task", at("2026-05-01"), at("2026-06-10"),
           data={"offer": "02"}, call_path=PROGRESSION_HNA)  # fmt: skip
    c.task("D", "holistic_needs_assessment_task", at("2026-04-02"))
    # TC2: referral to outcome in the same called process, 28 days.
    c.task("A", "mdt_referral", at("2026-03-02"), at("2026-03-03"), call_path=DIAGNOSIS_MDT)
    c.task("A", "record_mdt_outcome", at("2026-03-03"), at("2026-03-12"),
           call_path=DIAGNOSIS_MDT, data={"trial_considered": "eligible"})  # fmt: skip
    c.task("B", "mdt_referral", at("2026-03-02"), at("2026-03-03"), call_path=DIAGNOSIS_MDT)
    c.task("B", "record_mdt_outcome", at("2026-03-03"), call_path=DIAGNOSIS_MDT)
    c.task("A", "mdt_referral", at("2026-05-01"), at("2026-05-02"), call_path=PROGRESSION_MDT)
    c.task("A", "record_mdt_outcome", at("2026-05-02"), at("2026-05-05"),
           call_path=PROGRESSION_MDT, data={"trial_considered": "not_considered"})  # fmt: skip
    # TC3: the GP letter by its own due date.
    due = at("2026-03-13", 23)
    c.task("A", "mdt_gp_letter", at("2026-03-12"), at("2026-03-13", 10), due=due)
    c.task("B", "mdt_gp_letter", at("2026-03-12"), at("2026-03-16"), due=due)
    c.task("D", "mdt_gp_letter", at("2026-06-30", 9), due=at("2026-07-01", 23))
    # PC1 out-of-hours contacts recorded; PC3 conversation (28 days) and place recorded.
    c.task("A", "palliative_assessment", at("2026-05-01"), at("2026-05-02"),
           data={"out_of_hours_recorded": True})  # fmt: skip
    c.task("B", "palliative_assessment", at("2026-05-01"), at("2026-05-02"),
           data={"out_of_hours_recorded": False})  # fmt: skip
    c.task("D", "palliative_assessment", at("2026-05-01"))
    c.task("A", "acp_conversation", at("2026-05-01"), at("2026-05-10"),
           data={"preferred_place_of_care": "Home"})  # fmt: skip
    c.task("B", "acp_conversation", at("2026-05-01"), at("2026-05-02"),
           data={"preferred_place_of_care": " "})  # fmt: skip
    # Written straight into the tables, so derive the report's cases from them as an
    # upgrade would (the services refresh them as they change tasks).
    rebuild_cases()
    db.session.commit()
    return c


@pytest.fixture
def cohort(app: Flask, pathway: Any) -> Iterator[Cohort]:
    c = build_cohort(pathway.id)
    with freeze_time(NOW):
        yield c


def figures(query: ReportQuery = PERIOD) -> dict[str, Any]:
    return {f.kpi.key: f for f in standards_report(MANAGER, query).figures}


def test_first_contact_counts_every_outcome_by_hand(cohort: Cohort) -> None:
    f = figures()["is1_first_contact"]
    assert f.counts == {"met": 1, "late": 1, "pending": 1, "overdue": 1, "not_applicable": 1}
    assert (f.met, f.counted, f.percent, f.status) == (1, 3, 33.3, "red")
    assert f.trend == {
        "2026-03": {"met": 1, "late": 1},
        "2026-04": {"overdue": 1, "not_applicable": 1},
        "2026-06": {"pending": 1},
    }
    assert [f.month_percent(m) for m in ("2026-03", "2026-04", "2026-06")] == [50.0, 0.0, None]


def test_index_clock_measures_are_not_applicable_to_progressions(cohort: Cohort) -> None:
    f = figures(ReportQuery(PERIOD.since, PERIOD.until, "progression"))["is1_first_contact"]
    assert (f.counts, f.percent, f.status) == ({}, None, "none")


def test_needs_assessments_by_cohort(cohort: Cohort) -> None:
    assert figures()["is3_hna"].counts == {"met": 1, "not_recorded": 1, "late": 1, "overdue": 1}
    assert figures()["is3_hna"].percent == 25.0
    new = figures(ReportQuery(PERIOD.since, PERIOD.until, "new"))["is3_hna"]
    assert new.counts == {"met": 1, "not_recorded": 1, "overdue": 1}
    progression = figures(ReportQuery(PERIOD.since, PERIOD.until, "progression"))["is3_hna"]
    assert (progression.counts, progression.percent) == ({"late": 1}, 0.0)


def test_mdt_discussion_pairs_referral_with_outcome_in_the_same_call(cohort: Cohort) -> None:
    f = figures()["tc2_mdt"]
    assert f.counts == {"met": 2, "overdue": 1}
    assert f.percent == 66.7
    trials = figures()["tc1_trials"]
    assert trials.counts == {"met": 1, "not_recorded": 1, "pending": 1}


def test_gp_letters_by_their_own_due_date(cohort: Cohort) -> None:
    f = figures()["tc3_mdt_gp"]
    assert (f.counts, f.percent, f.status) == ({"met": 1, "late": 1, "pending": 1}, 50.0, "red")


def test_form_conditions_and_measures_without_a_deadline(cohort: Cohort) -> None:
    all_ = figures()
    assert all_["pc1_out_of_hours"].counts == {"met": 1, "not_recorded": 1, "pending": 1}
    assert all_["pc3_place"].counts == {"met": 1, "not_recorded": 1}
    assert (all_["pc3_acp"].percent, all_["pc3_acp"].status) == (100.0, "green")
    for key in ("is4_psychological", "is5_financial", "pc2_family", "tc1_care_plan"):
        assert all_[key].counts == {} and all_[key].status == "none"


def test_local_periods_and_targets_change_the_figures(cohort: Cohort, app: Flask) -> None:
    app.config["MDT_KPI_DAYS"] = {"is1_first_contact": 20}
    app.config["MDT_KPI_TARGETS"] = {"tc2_mdt": 70}
    try:
        assert figures()["is1_first_contact"].counts["met"] == 2
        assert figures()["tc2_mdt"].status == "amber"  # 66.7 within 10 points of 70
    finally:
        app.config["MDT_KPI_DAYS"] = {}
        app.config["MDT_KPI_TARGETS"] = {}


def test_behind_each_number_the_patients_and_why(cohort: Cohort) -> None:
    figure, rows = kpi_cases(MANAGER, "is1_first_contact", PERIOD, "missed")
    assert figure.missed == 2
    assert [(r.patient_name, r.outcome, r.why) for r in rows] == [
        ("COHORTB, Pat", "late", "Done after 19 days, not within 14 days"),
        ("COHORTD, Pat", "overdue", "Still not done, overdue"),
    ]
    _, rows = kpi_cases(MANAGER, "is1_first_contact", PERIOD, "not_applicable")
    assert [(r.patient_name, r.why) for r in rows] == [
        ("COHORTE, Pat", "Pathway closed (death) before it was due")
    ]
    _, rows = kpi_cases(MANAGER, "is3_hna", PERIOD, "not_recorded")
    assert [r.why for r in rows] == ["Recorded as not offered"]
    viewed = db.session.scalars(
        select(AuditEventModel).where(AuditEventModel.action == "report.cases_viewed")
    ).all()
    assert [v.object_id for v in viewed] == ["is1_first_contact"] * 2 + ["is3_hna"]


def test_only_managers_see_reports(cohort: Cohort) -> None:
    cns = Actor(None, "cns", frozenset({"cns"}))
    for call in (
        lambda: standards_report(cns, PERIOD),
        lambda: kpi_cases(cns, "is1_first_contact", PERIOD),
        lambda: meeting_report(cns, PERIOD),
        lambda: workload_report(cns, PERIOD),
    ):
        with pytest.raises(PermissionDeniedError):
            call()


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


# -- the pages -----------------------------------------------------------------------------

RANGE = "since=2026-01-01&until=2026-06-30"


def test_dashboard_page_links_each_number_to_its_patients(
    cohort: Cohort, make_user: Any, auth: Any
) -> None:
    make_user("manager", username="boss")
    auth.login("boss")
    page = auth.client.get(f"/reports/standards?{RANGE}").get_data(as_text=True)
    assert "First contact with the CNS key worker" in page
    assert "33.3%" in page and "Below target" in page
    missed_link = "/reports/standards/is1_first_contact?outcome=missed&amp;since=2026-01-01"
    assert f'<a href="{missed_link}&amp;until=2026-06-30&amp;cohort=all">2<span' in page
    assert page.count("<canvas") == 11  # one trend chart per standard
    detail = auth.client.get(f"/reports/standards/is1_first_contact?outcome=missed&{RANGE}")
    text = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert "COHORTB, Pat" in text and "COHORTD, Pat" in text and "COHORTA, Pat" not in text


def test_csv_exports(cohort: Cohort, make_user: Any, auth: Any) -> None:
    make_user("manager", username="boss")
    auth.login("boss")
    table = auth.client.get(f"/reports/standards.csv?{RANGE}")
    assert table.mimetype == "text/csv"
    lines = table.get_data(as_text=True).splitlines()
    assert lines[0].startswith("standard,measure,title,period_days,target_percent,met,counted")
    assert (
        "IS1,is1_first_contact,First contact with the CNS key worker,14,90,1,3,33.3,red" in lines[1]
    )
    trend = auth.client.get(f"/reports/standards-trend.csv?{RANGE}").get_data(as_text=True)
    assert "IS1,is1_first_contact,2026-03,50.0" in trend
    cases = auth.client.get(f"/reports/standards/is1_first_contact.csv?outcome=late&{RANGE}")
    assert "COHORTB, Pat" in cases.get_data(as_text=True)
    for url in (
        "/reports/meetings.csv",
        "/reports/attendance.csv",
        "/reports/workload-roles.csv",
        "/reports/workload-people.csv",
    ):
        assert auth.client.get(f"{url}?{RANGE}").status_code == 200, url
    assert auth.client.get("/reports/standards.csv?since=nonsense").status_code == 400


def test_csv_cells_never_start_a_formula(cohort: Cohort, make_user: Any, auth: Any) -> None:
    patient = db.session.get(PatientModel, cohort.instances["B"].patient_id)
    patient.family_name = '=HYPERLINK("http://evil")'
    db.session.commit()
    make_user("manager", username="boss")
    auth.login("boss")
    body = auth.client.get(f"/reports/standards/is1_first_contact.csv?{RANGE}").get_data(
        as_text=True
    )
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body


def test_bad_filters_keep_what_was_typed(cohort: Cohort, make_user: Any, auth: Any) -> None:
    make_user("manager", username="boss")
    auth.login("boss")
    response = auth.client.get("/reports/standards?since=2026-13-01&until=2026-06-30&cohort=all")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in page and "Enter the start date as YYYY-MM-DD" in page
    assert 'value="2026-13-01"' in page and 'href="#field-since"' in page
    response = auth.client.get("/reports/standards?since=2026-07-01&until=2026-06-30")
    assert "The start date must be on or before the end date" in response.get_data(as_text=True)


def test_meeting_and_workload_pages(cohort: Cohort, make_user: Any, auth: Any) -> None:
    make_user("manager", username="boss")
    auth.login("boss")
    assert "Core member attendance" in auth.client.get(f"/reports/meetings?{RANGE}").get_data(
        as_text=True
    )
    assert "Open now" in auth.client.get(f"/reports/workload?{RANGE}").get_data(as_text=True)


def test_clinicians_cannot_open_reports(cohort: Cohort, make_user: Any, auth: Any) -> None:
    make_user("cns", "oncologist", username="nurse")
    auth.login("nurse")
    for url in (
        "/reports/standards",
        "/reports/standards/is1_first_contact",
        "/reports/meetings",
        "/reports/workload",
        "/reports/standards.csv",
    ):
        assert auth.client.get(url).status_code == 403, url


def test_local_settings_are_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from mdt import create_app
    from mdt.config import ConfigError

    monkeypatch.setenv("MDT_KPI_TARGETS", "is1_first_contact=85,made_up=90")
    with pytest.raises(ConfigError, match="MDT_KPI_TARGETS: no measure called made_up"):
        create_app({"SECRET_KEY": "t" * 40})
    monkeypatch.setenv("MDT_KPI_TARGETS", "is1_first_contact=eighty")
    with pytest.raises(ConfigError, match="must be key=number pairs"):
        create_app({"SECRET_KEY": "t" * 40})
    monkeypatch.setenv("MDT_KPI_TARGETS", "is1_first_contact=85")
    monkeypatch.setenv("MDT_KPI_DAYS", "is1_first_contact=10")
    app = create_app({"SECRET_KEY": "t" * 40})
    assert app.config["MDT_KPI_TARGETS"] == {"is1_first_contact": 85}
    assert app.config["MDT_KPI_DAYS"] == {"is1_first_contact": 10}


def test_the_registration_form_starts_the_episode_clock(pathway: Any, make_user: Any) -> None:
    from mdt.services.actor import actor_for

    from .helpers import complete_with_examples, new_patient, ready_task

    coordinator = actor_for(make_user("coordinator"))
    patient = new_patient(coordinator)
    task = ready_task(patient.id, "Register secondary diagnosis")
    assert task.instance.index_date is None
    complete_with_examples(coordinator, task, index_date="2026-03-04")
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    assert instance is not None and instance.index_date == date(2026, 3, 4)


def test_the_services_keep_the_report_in_step(pathway: Any, make_user: Any, clock: Any) -> None:
    """Cases come from a projection the instance service refreshes at every change: a new
    patient's key worker allocation is pending, then met when done; closing another
    patient's pathway before the deadline makes theirs not applicable."""
    from mdt.services.actor import actor_for
    from mdt.services.instances import close_pathway

    from .helpers import complete_with_examples, new_patient, ready_task

    coordinator = actor_for(make_user("coordinator"))
    today = datetime.now(UTC).date().isoformat()
    patients = [new_patient(coordinator, index) for index in range(2)]
    for patient in patients:
        registration = ready_task(patient.id, "Register secondary diagnosis")
        complete_with_examples(coordinator, registration, index_date=today)

    def is2() -> dict[str, int]:
        query = ReportQuery.parse(today, today, "all")
        return dict(figures(query)["is2_key_worker"].counts)

    assert is2() == {"pending": 2}
    complete_with_examples(coordinator, ready_task(patients[0].id, "Allocate a CNS key worker"))
    assert is2() == {"met": 1, "pending": 1}
    close_pathway(coordinator, ready_task(patients[1].id, "Allocate a CNS key worker").instance_id,
                  "transfer", {})  # fmt: skip
    assert is2() == {"met": 1, "not_applicable": 1}


def test_changed_measures_rebuild_the_cases(cohort: Cohort, app: Flask) -> None:
    """After an upgrade that changes the measure definitions the fingerprint no longer matches:
    the next report derives every case again; operators can also do it from the command line."""
    expected = {key: dict(f.counts) for key, f in figures().items()}
    state = db.session.get(ReportProjectionModel, "standards")
    assert state is not None
    state.fingerprint = "measures of an older release"
    db.session.execute(delete(ReportCaseModel))
    db.session.commit()
    assert {key: dict(f.counts) for key, f in figures().items()} == expected

    db.session.execute(delete(ReportCaseModel))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["mdt", "rebuild-reports"])
    assert result.exit_code == 0, result.output
    cases = db.session.scalar(select(func.count()).select_from(ReportCaseModel))
    assert f"Derived {cases} case(s)" in result.output and cases > 0
    assert {key: dict(f.counts) for key, f in figures().items()} == expected
