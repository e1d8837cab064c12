"""The standards report and the patients' scorecards, against the worked example of
docs/standards-report.md.

Eight patients are driven through the services over the first half of 2026
(tests/worked_example.py), read on 30 June 2026 at noon. The doc gives every patient's expected
scorecard and the cohort's expected figures, worked out by hand; these tests read those tables
from the doc and check that the services, the record page, the API, the drill-downs, the CSVs
and the FHIR export all say exactly the same.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from freezegun import freeze_time
from sqlalchemy import delete, func, select

from mdt.extensions import db
from mdt.models import AuditEventModel, PatientModel, ReportCaseModel, ReportProjectionModel
from mdt.services.actor import Actor
from mdt.services.case_status import LABELS, Status
from mdt.services.errors import InvalidInputError, PermissionDeniedError
from mdt.services.fhir_export import MEASURE_BASE, patient_bundle
from mdt.services.operational_reports import meeting_report, workload_report
from mdt.services.patient_standards import ScorecardRow, patient_scorecard
from mdt.services.report_cases import CLOSE_WORDS
from mdt.services.standards_report import (
    MISSED_FILTER,
    MeasureFigure,
    ReportQuery,
    measure_cases,
    standards_report,
)

from .worked_example import PATIENTS, PERIOD, READ_AT, drive, patient_name

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend

DOC = Path(__file__).resolve().parent.parent / "docs" / "standards-report.md"
QUERY = ReportQuery(*PERIOD)
RANGE = "since=2026-01-01&until=2026-06-30"
FIGURE_COLUMNS = (
    Status.MET,
    Status.MET_LATE,
    Status.DECLINED,
    Status.OVERDUE,
    Status.MISSED,
    Status.PENDING,
    Status.NOT_APPLICABLE,
)


@pytest.fixture
def cohort(pathway: Any, make_user: Any, actor: Any) -> Iterator[dict[str, int]]:
    """The worked example, read at its moment; yields each letter's patient id."""
    ids = drive(lambda role: actor(make_user(role)))
    with freeze_time(READ_AT):
        yield ids


@pytest.fixture
def manager(make_user: Any, actor: Any) -> Actor:
    return actor(make_user("manager", username="boss"))


# -- the doc's tables -----------------------------------------------------------------------


def _table_after(text: str, heading: str) -> list[list[str]]:
    """The rows of the first table after a heading, header and rule left out."""
    start = text.index(heading)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows[2:]


def doc_scorecard(letter: str) -> list[tuple[str, ...]]:
    rows = _table_after(DOC.read_text(), f"#### {PATIENTS[letter].given} ({letter})")
    return [tuple(cell.strip("`") for cell in row) for row in rows]


def doc_figures() -> dict[str, dict[str, int]]:
    rows = _table_after(DOC.read_text(), "### The cohort's figures")
    return {
        row[0].strip("`"): {
            s.value: int(n) for s, n in zip(FIGURE_COLUMNS, row[1:8], strict=True) if n != "0"
        }
        for row in rows
    }


def doc_percent() -> dict[str, str]:
    rows = _table_after(DOC.read_text(), "### The cohort's figures")
    return {row[0].strip("`"): row[8] for row in rows}


# -- what the services say, in the doc's shape ---------------------------------------------


def note(case: ScorecardRow) -> str:
    row, status = case.view.row, case.view.status
    if status == Status.NOT_APPLICABLE:
        if row.na_reason:
            return str(row.na_reason).lower()
        return f"{CLOSE_WORDS[row.close_reason].lower()} {row.closed_on}"
    if status == Status.MISSED and row.missed_if_died:
        return f"{CLOSE_WORDS[row.close_reason].lower()} {row.closed_on}"
    if status == Status.MISSED and row.not_met:
        return str(row.not_met).lower()
    if row.recorded_late_days:
        return f"recorded {row.recorded_late_days} days late"
    return ""


def line(case: ScorecardRow, episode: str) -> tuple[str, ...]:
    row = case.view.row
    return (
        episode,
        case.measure.key,
        case.view.label,
        str(row.start_on),
        str(row.deadline_on or "none"),
        str(row.done_on or ""),
        note(case),
    )


def scorecard_lines(patient_id: int) -> list[tuple[str, ...]]:
    return [
        line(case, f"{card.episode.kind} {card.started_on}" if card.episode else "")
        for card in patient_scorecard(patient_id)
        for case in card.rows
    ]


def counts(figure: MeasureFigure) -> dict[str, int]:
    return {status: n for status, n in figure.counts.items() if n}


def percent(figure: MeasureFigure) -> str:
    return "–" if figure.percent is None else f"{figure.percent}%"


# -- the worked example -----------------------------------------------------------------------


def test_every_patients_scorecard_is_the_docs(cohort: dict[str, int]) -> None:
    for letter, patient_id in cohort.items():
        assert scorecard_lines(patient_id) == doc_scorecard(letter), PATIENTS[letter].given


def test_the_cohorts_figures_are_the_docs(cohort: dict[str, int], manager: Actor) -> None:
    report = standards_report(manager, QUERY)
    assert {f.measure.key: counts(f) for f in report.figures} == doc_figures()
    assert {f.measure.key: percent(f) for f in report.figures} == doc_percent()
    # The figures are the scorecards added up: one source.
    tally: dict[str, Counter[str]] = {f.measure.key: Counter() for f in report.figures}
    for patient_id in cohort.values():
        for card in patient_scorecard(patient_id):
            for case in card.rows:
                tally[case.measure.key][case.view.status.value] += 1
    assert {k: dict(v) for k, v in tally.items()} == doc_figures()


def test_the_record_page_shows_the_same_scorecard(
    cohort: dict[str, int], make_user: Any, auth: Any
) -> None:
    make_user("cns", username="nurse")
    auth.login("nurse")
    for letter, patient_id in cohort.items():
        page = auth.client.get(f"/patients/{patient_id}").get_data(as_text=True)
        shown = re.findall(
            r'<tr class="nhsuk-table__row" data-measure="([a-z0-9_]+)" data-status="([a-z_]+)">'
            r'.*?<strong class="nhsuk-tag[^"]*">([^<]+)</strong>',
            page,
            re.S,
        )
        expected = [(row[1], row[2]) for row in doc_scorecard(letter)]
        assert [(key, label) for key, _, label in shown] == expected, letter
        assert all(
            LABELS[Status(status)] == label or status == "declined" for _, status, label in shown
        )


def test_the_api_gives_the_same_scorecard(
    cohort: dict[str, int], client: Any, make_user: Any
) -> None:
    from mdt.services.actor import SYSTEM
    from mdt.services.api_tokens import create_token

    user = make_user("cns", username="api-nurse")
    _, secret = create_token(SYSTEM, user.id, "tests")
    headers = {"Authorization": f"Bearer {secret}"}
    for letter, patient_id in cohort.items():
        body = client.get(f"/api/v1/patients/{patient_id}/standards", headers=headers).get_json()
        expected = {(row[1], row[2], row[3], row[4], row[5]) for row in doc_scorecard(letter)}
        given = {
            (
                c["measure"],
                c["status_label"],
                c["clock_started"],
                c["deadline"] or "none",
                c["done"] or "",
            )
            for c in body
        }
        assert given == expected, letter
        assert len(body) == len(expected)


def test_the_fhir_export_gives_the_same_cases(cohort: dict[str, int], manager: Actor) -> None:
    for letter, patient_id in cohort.items():
        bundle = patient_bundle(manager, patient_id)
        reports = [
            e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "MeasureReport"
        ]
        given = sorted(
            (
                r["measure"].removeprefix(MEASURE_BASE),
                r["group"][0]["code"]["coding"][0]["display"],
                r["period"]["start"],
            )
            for r in reports
        )
        assert given == sorted((row[1], row[2], row[3]) for row in doc_scorecard(letter)), letter


def test_behind_each_number_the_patients_it_counts(cohort: dict[str, int], manager: Actor) -> None:
    """Every drill-down lists exactly the cases the scorecards show for that measure and status."""
    by_id = {patient_id: letter for letter, patient_id in cohort.items()}
    expected: dict[tuple[str, str], list[str]] = {}
    for letter in cohort:
        for row in doc_scorecard(letter):
            status = next(
                s
                for s in Status
                if LABELS[s] == row[2] or (s == Status.DECLINED and row[2] not in LABELS.values())
            )
            expected.setdefault((row[1], status.value), []).append(letter)
    for (key, status), letters in expected.items():
        _, rows = measure_cases(manager, key, QUERY, status)
        assert sorted(by_id[r.patient_id] for r in rows) == sorted(letters), (key, status)
    _, rows = measure_cases(manager, "is2_key_worker", QUERY, MISSED_FILTER)
    [dora] = rows
    assert dora.patient_name == patient_name("D")
    assert dora.view.why == (
        "Done on 20 January 2026, 15 days after its clock started, "
        "after its deadline of 12 January 2026"
    )
    _, rows = measure_cases(manager, "is1_first_contact", QUERY, "met")
    flagged = [r for r in rows if r.view.recorded_late]
    assert [(r.patient_name, r.view.recorded_late) for r in flagged] == [
        (patient_name("D"), "Recorded 2 days after the date it records")
    ]
    viewed = db.session.scalar(
        select(func.count())
        .select_from(AuditEventModel)
        .where(AuditEventModel.action == "report.cases_viewed")
    )
    assert viewed == len(expected) + 2


# -- settings, permissions, pages --------------------------------------------------------------


def test_local_periods_and_targets_change_the_figures(
    cohort: dict[str, int], app: Flask, manager: Actor
) -> None:
    app.config["MDT_KPI_DAYS"] = {"is2_key_worker": 16}  # Dora's 15 days is then on time
    app.config["MDT_KPI_TARGETS"] = {"tc1_care_plan": 80}
    try:
        figures = {f.measure.key: f for f in standards_report(manager, QUERY).figures}
        assert counts(figures["is2_key_worker"]) == {"met": 8}
        assert figures["tc1_care_plan"].status == "amber"  # 75% is within 10 points of 80
    finally:
        app.config["MDT_KPI_DAYS"] = {}
        app.config["MDT_KPI_TARGETS"] = {}
    figures = {f.measure.key: f for f in standards_report(manager, QUERY).figures}
    assert counts(figures["is2_key_worker"]) == {"met": 7, "met_late": 1}


def test_a_cohort_of_progressions(cohort: dict[str, int], manager: Actor) -> None:
    """Only Fay progressed, twice; measures of the diagnosis count nobody there."""
    query = ReportQuery.parse("2026-01-01", "2026-06-30", "progression")
    figures = {f.measure.key: f for f in standards_report(manager, query).figures}
    assert counts(figures["is3_hna"]) == {"met": 1, "met_late": 1}
    assert counts(figures["tc2_mdt"]) == {"met": 2}
    assert figures["is1_first_contact"].counts == {}
    with pytest.raises(InvalidInputError):
        ReportQuery.parse("2026-01-01", "2026-06-30", "made_up")


def test_only_managers_see_reports(cohort: dict[str, int]) -> None:
    cns = Actor(None, "cns", frozenset({"cns"}))
    for call in (
        lambda: standards_report(cns, QUERY),
        lambda: measure_cases(cns, "is1_first_contact", QUERY),
        lambda: meeting_report(cns, QUERY),
        lambda: workload_report(cns, QUERY),
    ):
        with pytest.raises(PermissionDeniedError):
            call()


def test_the_dashboard_links_each_number_to_its_patients(
    cohort: dict[str, int], manager: Actor, auth: Any
) -> None:
    auth.login("boss")
    page = auth.client.get(f"/reports/standards?{RANGE}").get_data(as_text=True)
    assert "Named CNS key worker allocated" in page
    assert "87.5%" in page and "7 of 8" in page
    link = "/reports/standards/is2_key_worker?status=not_achieved&amp;since=2026-01-01"
    assert f'<a href="{link}&amp;until=2026-06-30&amp;cohort=all">1<span' in page
    assert page.count("<canvas") == 11  # one trend chart per standard
    detail = auth.client.get(f"/reports/standards/is2_key_worker?status=not_achieved&{RANGE}")
    text = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert patient_name("D") in text and patient_name("A") not in text
    assert "Who is counted" in text and "Nothing else is evidence" in text


def test_csv_exports(cohort: dict[str, int], manager: Actor, auth: Any) -> None:
    auth.login("boss")
    table = auth.client.get(f"/reports/standards.csv?{RANGE}")
    assert table.mimetype == "text/csv"
    rows = {r["measure"]: r for r in csv.DictReader(io.StringIO(table.get_data(as_text=True)))}
    assert set(rows) == set(doc_figures())
    for key, expected in doc_figures().items():
        assert {
            s.value: int(rows[key][s.value]) for s in Status if int(rows[key][s.value])
        } == expected
    trend = auth.client.get(f"/reports/standards-trend.csv?{RANGE}").get_data(as_text=True)
    assert "IS2,is2_key_worker,2026-01,50.0" in trend  # Dora late, Fay on time
    cases = auth.client.get(f"/reports/standards/is2_key_worker.csv?status=met_late&{RANGE}")
    assert patient_name("D") in cases.get_data(as_text=True)
    for url in (
        "/reports/meetings.csv",
        "/reports/attendance.csv",
        "/reports/workload-roles.csv",
        "/reports/workload-people.csv",
    ):
        assert auth.client.get(f"{url}?{RANGE}").status_code == 200, url
    assert auth.client.get("/reports/standards.csv?since=nonsense").status_code == 400


def test_csv_cells_never_start_a_formula(cohort: dict[str, int], manager: Actor, auth: Any) -> None:
    patient = db.session.get(PatientModel, cohort["B"])
    patient.family_name = '=HYPERLINK("http://evil")'
    db.session.commit()
    auth.login("boss")
    body = auth.client.get(f"/reports/standards/is1_first_contact.csv?{RANGE}").get_data(
        as_text=True
    )
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body


def test_bad_filters_keep_what_was_typed(cohort: dict[str, int], manager: Actor, auth: Any) -> None:
    auth.login("boss")
    response = auth.client.get("/reports/standards?since=2026-13-01&until=2026-06-30&cohort=all")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in page and "Enter the start date as YYYY-MM-DD" in page
    assert 'value="2026-13-01"' in page and 'href="#field-since"' in page
    response = auth.client.get("/reports/standards?since=2026-07-01&until=2026-06-30")
    assert "The start date must be on or before the end date" in response.get_data(as_text=True)
    response = auth.client.get(f"/reports/standards/is2_key_worker?status=sideways&{RANGE}")
    assert response.status_code == 400


def test_clinicians_cannot_open_reports(cohort: dict[str, int], make_user: Any, auth: Any) -> None:
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


def test_changed_settings_or_measures_derive_the_cases_again(
    cohort: dict[str, int], app: Flask, manager: Actor
) -> None:
    """After an upgrade or a change of local settings the fingerprint no longer matches: the
    next report derives every case again; operators can also do it from the command line."""
    expected = doc_figures()

    def figures() -> dict[str, dict[str, int]]:
        return {f.measure.key: counts(f) for f in standards_report(manager, QUERY).figures}

    assert figures() == expected
    state = db.session.get(ReportProjectionModel, "standards")
    assert state is not None
    state.fingerprint = "measures of an older release"
    db.session.execute(delete(ReportCaseModel))
    db.session.commit()
    assert figures() == expected

    db.session.execute(delete(ReportCaseModel))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["mdt", "rebuild-reports"])
    assert result.exit_code == 0, result.output
    cases = db.session.scalar(select(func.count()).select_from(ReportCaseModel))
    assert f"Derived {cases} case(s)" in result.output and cases > 0
    assert figures() == expected

    # With a State Pension age of 75, Cath (71), Dora (73) and Fay (67) are of working age too:
    # never offered advice, Dora and Fay's first two episodes are missed, Fay's second
    # progression pending; Cath was transferred before it was due.
    app.config["MDT_PATHWAY_SETTINGS"] = {"pension_age": 75}
    try:
        assert figures()["is5_financial"] == {
            "met": 1,
            "missed": 3,
            "pending": 1,
            "not_applicable": 5,
        }
    finally:
        app.config["MDT_PATHWAY_SETTINGS"] = {"pension_age": 66}
    assert figures() == expected


def test_the_registration_dates_the_first_episode(pathway: Any, make_user: Any, clock: Any) -> None:
    from mdt.models import PathwayInstanceModel
    from mdt.services.actor import actor_for

    from .helpers import complete_with_examples, new_patient, ready_task

    coordinator = actor_for(make_user("coordinator"))
    patient = new_patient(coordinator)
    task = ready_task(patient.id, "Register secondary diagnosis")
    assert task.instance.index_date is None
    complete_with_examples(coordinator, task, index_date="2026-11-04")
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    assert instance is not None and instance.index_date == date(2026, 11, 4)
    [card] = patient_scorecard(patient.id)
    assert card.started_on == date(2026, 11, 4)
    assert {c.view.row.start_on for c in card.rows} == {date(2026, 11, 4)}


def test_every_save_keeps_the_cases_in_step(
    pathway: Any, make_user: Any, actor: Any, clock: Any
) -> None:
    """The instance service derives a patient's cases at every save, without a rebuild: a key
    worker allocation is pending, then met when done; a transfer before the deadline makes
    another patient's not applicable."""
    from mdt import clock as app_clock
    from mdt.services.instances import close_pathway

    from .helpers import complete_with_examples, new_patient, ready_task

    coordinator = actor(make_user("coordinator"))
    boss = actor(make_user("manager"))
    today = app_clock.today().isoformat()
    standards_report(boss, QUERY)  # the projection is built, and stays current
    built = db.session.get(ReportProjectionModel, "standards").built_at
    patients = [new_patient(coordinator, index) for index in range(2)]
    for patient in patients:
        registration = ready_task(patient.id, "Register secondary diagnosis")
        complete_with_examples(coordinator, registration, index_date=today, in_work="no")

    def is2() -> dict[str, int]:
        query = ReportQuery.parse(today, today, "all")
        [figure] = [
            f for f in standards_report(boss, query).figures if f.measure.key == "is2_key_worker"
        ]
        return counts(figure)

    assert is2() == {"pending": 2}
    complete_with_examples(coordinator, ready_task(patients[0].id, "Allocate a CNS key worker"))
    assert is2() == {"met": 1, "pending": 1}
    instance_id = ready_task(patients[1].id, "Allocate a CNS key worker").instance_id
    close_pathway(coordinator, instance_id, "transfer", {})
    assert is2() == {"met": 1, "not_applicable": 1}
    assert db.session.get(ReportProjectionModel, "standards").built_at == built
