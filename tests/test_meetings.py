"""MDT meetings: list from the pathway, late additions, circulation, quoracy, outcomes that
advance the pathway, GP letters, roll-over, conflicts and the meeting KPIs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from mdt.extensions import db
from mdt.models import (
    ListingModel,
    ListingStatus,
    MeetingModel,
    NotificationModel,
    PatientModel,
)
from mdt.services.errors import ConflictError, InvalidInputError
from mdt.services.meetings import (
    active_listings,
    add_listing,
    candidates,
    circulate,
    close_meeting,
    confirm_outcome,
    create_series,
    cut_off_for,
    meeting_kpis,
    missing_disciplines,
    record_attendance,
    record_gp_letter,
    schedule_next,
    withdrawn_listings,
)
from mdt.services.patient_events import record_patient_event

from .helpers import complete_with_examples, new_patient, ready_task
from .scenarios import DIAGNOSIS

pytestmark = pytest.mark.clock  # dates matter: CI also runs these on a faked weekend

LONDON = ZoneInfo("Europe/London")
CORE = ["oncology", "palliative care", "breast CNS", "radiology", "pathology", "surgery"]
OUTCOME = {
    "meeting_date": "2026-12-03",
    "discussion": "discussed",
    "recommendation": "CDK4/6 inhibitor with letrozole",
    "treatment_intent": "disease_control",
    "planned_treatment": "cdk46",
    "trial_considered": "not_eligible",
    "performance_status": 1,
    "palliative_referral_recommended": False,
    "informs_patient": "Dr Okafor",
    "checked_by": "Dr Okafor",
}


@pytest.fixture
def monday():
    """The week runs from Monday 30 November 2026, 09:00; steps move on with freeze_time."""
    with freeze_time(datetime(2026, 11, 30, 9, tzinfo=LONDON)) as frozen:
        yield frozen


@pytest.fixture
def week(monday, pathway, make_user, actor):
    """Monday 30 November 2026: two patients waiting for MDT review; a Thursday meeting."""
    coordinator = actor(make_user("coordinator", username="coord"))
    nurse = actor(make_user("cns"))
    if True:
        patients = []
        for index in range(2):
            patient = new_patient(coordinator, index)
            complete_with_examples(
                coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
            )
            complete_with_examples(coordinator, ready_task(patient.id, "Allocate a CNS key worker"))
            complete_with_examples(
                coordinator,
                ready_task(patient.id, "List for MDT review"),
                clinical_question=f"Question {index}",
            )
            patients.append(patient.id)
        series = create_series(coordinator, "Secondary breast MDT", 3, "13:00", "Room 4")
        meeting = schedule_next(coordinator, series.id)
    return coordinator, nurse, patients, meeting.id


def test_cut_off_is_noon_on_the_working_day_before() -> None:
    thursday = datetime(2026, 12, 3, 13, tzinfo=LONDON)
    assert cut_off_for(thursday) == datetime(2026, 12, 2, 12, tzinfo=LONDON)
    monday_after_bank_holiday = datetime(2026, 12, 29, 13, tzinfo=LONDON)  # Tue after Christmas
    assert cut_off_for(monday_after_bank_holiday) == datetime(2026, 12, 24, 12, tzinfo=LONDON)


def _meeting(meeting_id: int) -> MeetingModel:
    return db.session.get(MeetingModel, meeting_id)


def _present(coordinator, meeting_id: int, disciplines: list[str]) -> None:
    for discipline in disciplines:
        record_attendance(
            coordinator, meeting_id, f"Dr {discipline.title()}", discipline, True, None
        )


def test_list_built_from_candidates_with_late_addition_flagged(week) -> None:
    coordinator, _, patients, meeting_id = week
    meeting = _meeting(meeting_id)
    assert meeting.starts_at == datetime(2026, 12, 3, 13, tzinfo=LONDON)
    waiting = candidates(meeting).tasks
    assert [t.patient_id for t in waiting] == patients
    with freeze_time(datetime(2026, 12, 1, 10, tzinfo=LONDON)):
        first = add_listing(
            coordinator, meeting_id, waiting[0].id, "discussion", None, meeting.lock_version
        )
    assert not first.late and first.clinical_question == "Question 0"
    with freeze_time(datetime(2026, 12, 2, 15, tzinfo=LONDON)):  # after the cut-off
        with pytest.raises(InvalidInputError, match="cut-off has passed"):
            add_listing(coordinator, meeting_id, waiting[1].id, "discussion", None, None)
        late = add_listing(
            coordinator,
            meeting_id,
            waiting[1].id,
            "standard_of_care",
            "New spinal cord compression",
            None,
        )
    assert late.late and late.late_reason == "New spinal cord compression"
    assert candidates(_meeting(meeting_id)).tasks == []


def test_second_coordinator_with_a_stale_list_gets_a_conflict(week) -> None:
    coordinator, _, _, meeting_id = week
    meeting = _meeting(meeting_id)
    seen = meeting.lock_version
    waiting = candidates(meeting).tasks
    add_listing(coordinator, meeting_id, waiting[0].id, "discussion", None, seen)
    with pytest.raises(ConflictError, match="Someone else changed this list"):
        add_listing(coordinator, meeting_id, waiting[1].id, "discussion", None, seen)
    assert len(_meeting(meeting_id).listings) == 1


def test_circulation_kpi_quoracy_and_outcome_advancing_the_pathway(week, make_user, actor) -> None:
    coordinator, _, patients, meeting_id = week
    waiting = candidates(_meeting(meeting_id)).tasks
    add_listing(coordinator, meeting_id, waiting[0].id, "discussion", None, None)
    with freeze_time(datetime(2026, 12, 2, 9, tzinfo=LONDON)):  # 28 hours before
        circulate(coordinator, meeting_id, None)
    listing = _meeting(meeting_id).listings[0]
    with freeze_time(datetime(2026, 12, 3, 13, 20, tzinfo=LONDON)):
        _present(coordinator, meeting_id, CORE[:4])
        assert missing_disciplines(_meeting(meeting_id)) == ["pathology", "surgery"]
        with pytest.raises(InvalidInputError, match="not quorate"):
            confirm_outcome(coordinator, listing.id, OUTCOME, None, None)
        _present(coordinator, meeting_id, CORE[4:])
        confirm_outcome(coordinator, listing.id, OUTCOME, None, None)
    assert ready_task(patients[0], "Send the MDT outcome to the GP").role == "coordinator"
    with freeze_time(datetime(2026, 12, 4, 10, tzinfo=LONDON)):  # next working day
        record_gp_letter(
            coordinator,
            listing.id,
            {
                "outcome": "sent",
                "sent_on": "2026-12-04",
                "method": "nhs_mail",
                "patient_informed": True,
                "patient_informed_on": "2026-12-03",
                "informed_by": "Dr Okafor",
            },
        )
    from .helpers import ready_tasks

    # The outcome moved the MDT track on to treatment planning; the other tracks run beside.
    waiting = {t.name for t in ready_tasks(patients[0])}
    assert "Treatment planning consultation" in waiting
    assert "Send the MDT outcome to the GP" not in waiting
    kpis = meeting_kpis(_meeting(meeting_id))
    assert kpis.circulated_24h_before is True and kpis.quorate and kpis.late_additions == 0
    assert (kpis.outcomes_confirmed, kpis.outcomes_confirmed_in_meeting) == (1, 1)
    assert (kpis.gp_letters_on_time, kpis.patients_informed) == (1, 1)


def test_non_quorate_confirmation_needs_and_keeps_a_reason(week, monday) -> None:
    coordinator, _, _, meeting_id = week
    waiting = candidates(_meeting(meeting_id)).tasks
    add_listing(coordinator, meeting_id, waiting[0].id, "discussion", None, None)
    listing = _meeting(meeting_id).listings[0]
    monday.move_to(datetime(2026, 12, 3, 13, 20, tzinfo=LONDON))  # at the meeting
    confirm_outcome(
        coordinator, listing.id, OUTCOME, "Radiologist on call; images reviewed beforehand", None
    )
    listing = _meeting(meeting_id).listings[0]
    assert listing.status == ListingStatus.CONFIRMED and "on call" in listing.nonquorate_reason
    kpis = meeting_kpis(_meeting(meeting_id))
    assert not kpis.quorate and len(kpis.missing) == 6


def test_invalid_outcome_changes_nothing(week, monday) -> None:
    coordinator, _, patients, meeting_id = week
    waiting = candidates(_meeting(meeting_id)).tasks
    add_listing(coordinator, meeting_id, waiting[0].id, "discussion", None, None)
    listing = _meeting(meeting_id).listings[0]
    with pytest.raises(InvalidInputError):
        confirm_outcome(coordinator, listing.id, {"discussion": "discussed"}, "reason", None)
    db.session.expire_all()
    assert _meeting(meeting_id).listings[0].status == ListingStatus.LISTED
    assert ready_task(patients[0], "Record MDT outcome")


def test_undiscussed_patients_roll_over_to_the_next_meeting(week, monday) -> None:
    coordinator, _, patients, meeting_id = week
    waiting = candidates(_meeting(meeting_id)).tasks
    for task in waiting:
        add_listing(coordinator, meeting_id, task.id, "discussion", None, None)
    monday.move_to(datetime(2026, 12, 3, 13, 20, tzinfo=LONDON))  # at the meeting
    first = _meeting(meeting_id).listings[0]
    confirm_outcome(coordinator, first.id, OUTCOME, "reason", None)
    close_meeting(coordinator, meeting_id, None)
    meeting = _meeting(meeting_id)
    assert [item.status for item in meeting.listings] == ["confirmed", "rolled_over"]
    following = db.session.scalars(
        db.select(MeetingModel).where(MeetingModel.id != meeting_id)
    ).one()
    assert following.starts_at == datetime(2026, 12, 10, 13, tzinfo=LONDON)
    [carried] = following.listings
    assert carried.patient_id == patients[1] and carried.rolled_over_from_id is not None


def test_list_and_minutes_pdfs(week, auth, client, monday) -> None:
    import io

    from pypdf import PdfReader

    coordinator, _, _, meeting_id = week
    waiting = candidates(_meeting(meeting_id)).tasks
    add_listing(coordinator, meeting_id, waiting[0].id, "discussion", None, None)
    monday.move_to(datetime(2026, 12, 3, 13, 20, tzinfo=LONDON))  # at the meeting
    confirm_outcome(coordinator, _meeting(meeting_id).listings[0].id, OUTCOME, "reason", None)
    auth.login("coord")
    for url, expected in [
        (f"/meetings/{meeting_id}/list.pdf", "Question 0"),
        (f"/meetings/{meeting_id}/minutes.pdf", "CDK4/6 inhibitor"),
    ]:
        response = client.get(url)
        assert response.mimetype == "application/pdf"
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
        assert expected in text


def test_cut_off_follows_the_settings(app) -> None:
    app.config.update(MDT_LIST_CUT_OFF_TIME="16:30", MDT_LIST_CUT_OFF_WORKING_DAYS=2)
    try:
        assert cut_off_for(datetime(2026, 12, 3, 13, tzinfo=LONDON)) == datetime(
            2026, 12, 1, 16, 30, tzinfo=LONDON
        )
    finally:
        app.config.update(MDT_LIST_CUT_OFF_TIME="12:00", MDT_LIST_CUT_OFF_WORKING_DAYS=1)


def test_members_come_from_accounts_with_a_discipline(week, make_user, monday) -> None:
    from mdt.services.meetings import members, record_member_present

    coordinator, _, _, meeting_id = week
    radiologist = make_user("oncologist", username="rad", discipline="radiology")
    assert radiologist.id in [m.id for m in members()]
    monday.move_to(datetime(2026, 12, 3, 13, 5, tzinfo=LONDON))  # at the meeting
    record_member_present(coordinator, meeting_id, radiologist.id, None)
    [row] = _meeting(meeting_id).attendance
    assert (row.user_id, row.discipline, row.present) == (radiologist.id, "radiology", True)


def test_second_coordinator_editing_a_stale_outcome_gets_a_conflict(week, monday) -> None:
    from mdt.services.meetings import save_outcome_draft

    coordinator, _, _, meeting_id = week
    waiting = candidates(_meeting(meeting_id)).tasks
    add_listing(coordinator, meeting_id, waiting[0].id, "discussion", None, None)
    listing = _meeting(meeting_id).listings[0]
    seen = listing.lock_version
    save_outcome_draft(coordinator, listing.id, {"recommendation": "First draft"}, seen)
    with pytest.raises(ConflictError):
        save_outcome_draft(coordinator, listing.id, {"recommendation": "Other draft"}, seen)
    monday.move_to(datetime(2026, 12, 3, 13, 20, tzinfo=LONDON))  # at the meeting
    with pytest.raises(ConflictError):
        confirm_outcome(coordinator, listing.id, OUTCOME, "reason", seen)
    db.session.expire_all()
    assert _meeting(meeting_id).listings[0].outcome == {"recommendation": "First draft"}


def test_waiting_patients_are_paged_and_searchable(week, monkeypatch) -> None:
    """A region's list can hold thousands: a page at a time, longest waiting first, and found
    by name or NHS number (spaces allowed)."""
    import mdt.services.meetings.lists as meetings

    from .helpers import NHS_NUMBERS

    monkeypatch.setattr(meetings, "CANDIDATES_PER_PAGE", 1)
    _, _, patients, meeting_id = week
    meeting = _meeting(meeting_id)
    first, second = candidates(meeting, page=1), candidates(meeting, page=2)
    assert (first.total, first.pages, second.first, second.last) == (2, 2, 2, 2)
    assert [t.patient_id for t in first.tasks + second.tasks] == patients
    assert candidates(meeting, page=99).page == 2  # past the end: the last page
    assert [t.patient_id for t in candidates(meeting, "test1").tasks] == [patients[1]]
    spaced = f"{NHS_NUMBERS[0][:3]} {NHS_NUMBERS[0][3:6]} {NHS_NUMBERS[0][6:]}"
    assert [t.patient_id for t in candidates(meeting, spaced).tasks] == [patients[0]]
    assert candidates(meeting, "nobody").total == 0


def test_the_list_page_keeps_the_search_when_a_patient_is_added(week, auth, client) -> None:
    meeting_id = week[3]
    auth.login("coord")
    url = f"/meetings/{meeting_id}?q=Test1"
    page = client.get(url).get_data(as_text=True)
    assert "1 patient waiting matching “Test1”" in page and "TEST1" in page.upper()
    assert "TEST0, Jo" not in page
    waiting = candidates(_meeting(meeting_id), "Test1").tasks
    response = auth.post(
        url.replace("?", "/listings?"), {"task_id": waiting[0].id, "kind": "discussion"}, url
    )
    assert response.status_code == 302 and response.location.endswith("?q=Test1")
    page = client.get(response.location).get_data(as_text=True)
    assert "Nobody waiting for MDT review matches “Test1”" in page


def test_a_death_after_circulation_takes_the_patient_off_the_list_and_the_roll_over(
    week, monday, auth
) -> None:
    """Nothing reaches the wrong place: a patient who dies after the list went out is off it
    at once (the reason shown, the coordinators told) and never carried to the next meeting."""
    coordinator, nurse, patients, meeting_id = week
    for task in candidates(_meeting(meeting_id)).tasks:
        add_listing(coordinator, meeting_id, task.id, "discussion", None, None)
    monday.move_to(datetime(2026, 12, 2, 12, 30, tzinfo=LONDON))  # after the cut-off
    circulate(coordinator, meeting_id, None)

    record_patient_event(
        nurse,
        patients[1],
        "death",
        {"date_of_death": "2026-12-01", "place_of_death": "home", "next_of_kin_name": "Sam"},
    )
    meeting = _meeting(meeting_id)
    assert [item.patient_id for item in active_listings(meeting)] == [patients[0]]
    [gone] = withdrawn_listings(meeting)
    assert gone.patient_id == patients[1] and gone.removed_reason == "died"
    [told] = db.session.scalars(
        db.select(NotificationModel).where(NotificationModel.user_id == coordinator.user_id)
    ).all()
    assert told.kind == "off_list" and told.patient_id == patients[1]
    assert "died" in told.message and "The list was circulated" in told.message

    auth.login("coord")
    page = auth.client.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    name = gone.patient.display_name
    assert (
        "Taken off this list" in page and f"{name} ({gone.patient.nhs_number_spaced}): died" in page
    )
    listed = page.split("Taken off this list")[0]
    assert name not in listed  # not among the patients to discuss
    notes = auth.client.get("/notifications").get_data(as_text=True)
    assert "Taken off an MDT list" in notes and f"/meetings/{meeting_id}" in notes

    monday.move_to(datetime(2026, 12, 3, 13, 20, tzinfo=LONDON))  # at the meeting
    close_meeting(coordinator, meeting_id, None)  # the other patient was not discussed
    following = db.session.scalars(
        db.select(MeetingModel).where(MeetingModel.id != meeting_id)
    ).one()
    assert [item.patient_id for item in following.listings] == [patients[0]]


NAME = ("Zoë Łucja", "Nguyễn-王")
PDF_ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "pdfs"


def _tagged(reader) -> bool:
    """What `pdfinfo` reports as "Tagged: yes": marked content with a structure tree."""
    root = reader.trailer["/Root"]
    return bool(root.get("/MarkInfo", {}).get("/Marked")) and "/StructTreeRoot" in root


def test_every_clinical_pdf_prints_the_name_exactly_and_is_tagged(
    week, auth, client, monday, app
) -> None:
    import io

    from pypdf import PdfReader

    coordinator, _, patients, meeting_id = week
    patient = db.session.get(PatientModel, patients[0])
    patient.given_name, patient.family_name = NAME
    db.session.commit()
    waiting = candidates(_meeting(meeting_id)).tasks
    add_listing(coordinator, meeting_id, waiting[0].id, "discussion", None, None)
    monday.move_to(datetime(2026, 12, 3, 13, 20, tzinfo=LONDON))  # at the meeting
    listing = _meeting(meeting_id).listings[0]
    confirm_outcome(coordinator, listing.id, OUTCOME, "reason", None)
    app.config.update(
        MDT_ORGANISATION="Riverside NHS Trust",
        MDT_ORGANISATION_ADDRESS="1 Mill Lane; Leeds LS1 1AA",
    )
    auth.login("coord")
    documents = {
        "GP letter": f"/meetings/listings/{listing.id}/gp-letter.pdf",
        "list": f"/meetings/{meeting_id}/list.pdf",
        "minutes": f"/meetings/{meeting_id}/minutes.pdf",
        "care plan": f"/patients/{patient.id}/care-plan.pdf",
    }
    full_name, listed_name = " ".join(NAME), f"{NAME[1].upper()}, {NAME[0]}"
    for document, url in documents.items():
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "application/pdf", document
        reader = PdfReader(io.BytesIO(response.data))
        assert _tagged(reader), document
        PDF_ARTIFACTS.mkdir(parents=True, exist_ok=True)  # to open and look at
        (PDF_ARTIFACTS / f"{document.replace(' ', '-')}.pdf").write_bytes(response.data)
        for page in reader.pages:
            text = page.extract_text()
            assert listed_name in text or full_name in text, document
            if document in ("GP letter", "care plan"):  # the patient's identity on every page
                assert patient.nhs_number_spaced in text and "1 January 1960" in text, document
    letter = "".join(
        p.extract_text()
        for p in PdfReader(io.BytesIO(client.get(documents["GP letter"]).data)).pages
    )
    assert f"MDT outcome: {full_name}" in letter
    assert "Riverside NHS Trust" in letter and "Leeds LS1 1AA" in letter
    assert "3 December 2026" in letter and "Yours sincerely" in letter and "Coord" in letter


def test_the_meeting_happens_before_its_outcomes_and_dates_them(week, monday, auth) -> None:
    """Meeting integrity: nothing is confirmed, attended or closed before the meeting starts
    (apologies may come before it), and the outcome carries the meeting's date, not a typed one."""
    coordinator, _, _, meeting_id = week
    for task in candidates(_meeting(meeting_id)).tasks:
        add_listing(coordinator, meeting_id, task.id, "discussion", None, None)
    first = _meeting(meeting_id).listings[0]
    monday.move_to(datetime(2026, 12, 2, 15, tzinfo=LONDON))  # the day before
    with pytest.raises(InvalidInputError, match="from 12:30 on Thursday 3 December 2026"):
        confirm_outcome(coordinator, first.id, OUTCOME, "reason", None)
    with pytest.raises(InvalidInputError, match="has not started"):
        record_attendance(coordinator, meeting_id, "Dr Oncology", "oncology", True, None)
    record_attendance(coordinator, meeting_id, "Dr Surgery", "surgery", False, None)  # apologies
    with pytest.raises(InvalidInputError, match="it can be closed from 13:00"):
        close_meeting(coordinator, meeting_id, None)
    auth.login("coord")
    page = auth.client.get(f"/meetings/listings/{first.id}").get_data(as_text=True)
    assert "Meeting date: <strong>3 December 2026</strong>" in page
    assert 'name="meeting_date-day"' not in page  # never typed at a meeting
    refused = auth.post(f"/meetings/listings/{first.id}", {"discussion": "discussed"})
    assert refused.status_code == 400 and "The meeting has not started" in refused.get_data(
        as_text=True
    )

    monday.move_to(datetime(2026, 12, 3, 12, 45, tzinfo=LONDON))  # setting up, 15 minutes early
    typed_wrong = {**OUTCOME, "meeting_date": "2026-11-29"}
    confirm_outcome(coordinator, first.id, typed_wrong, "reason", None)
    db.session.expire_all()
    confirmed = db.session.get(ListingModel, first.id)
    assert confirmed.outcome["meeting_date"] == "2026-12-03"
    assert confirmed.task.data["meeting_date"] == "2026-12-03"
    monday.move_to(datetime(2026, 12, 3, 14, tzinfo=LONDON))
    close_meeting(coordinator, meeting_id, None)
