"""Key workers and caseloads in the browser: the nurse's "My patients", the coordinator's
worklist search, filters, sorting and "Give selected to", naming a key worker on the record
and moving a caseload. axe on every page."""

from __future__ import annotations

from mdt.extensions import db

from ..conftest import PASSWORD
from ..helpers import complete_with_examples, new_patient, ready_task
from ..scenarios import DIAGNOSIS
from .conftest import axe_violations, shoot, sign_in


def _the_ward(make_user, actor) -> None:
    coordinator = actor(make_user("coordinator", username="coord"))
    make_user("cns", username="nurse", discipline="breast CNS")
    make_user("cns", username="nurse2", discipline="breast CNS")
    for index, (given, family) in enumerate([("Edith", "Cavell"), ("Ada", "Lovelace")]):
        patient = new_patient(coordinator, index, given=given, family=family)
        complete_with_examples(
            coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
        )
        complete_with_examples(
            coordinator,
            ready_task(patient.id, "Allocate a CNS key worker"),
            key_worker_name="Nurse",
            key_worker_phone="0113 496 0001",
        )
    new_patient(coordinator, 2, given="Mary", family="Seacole")
    db.session.remove()


def test_the_nurse_sees_their_caseload(page, pathway, make_user, actor) -> None:
    _the_ward(make_user, actor)
    sign_in(page, "nurse", PASSWORD)
    page.get_by_role("link", name="My patients").click()
    page.get_by_role("heading", name="My patients").wait_for()
    table = page.locator("table.app-caseload")
    assert "2 patients with you as key worker" in table.inner_text()
    rows = table.locator("tbody tr")
    assert "CAVELL, Edith" in rows.nth(0).inner_text()
    assert "LOVELACE, Ada" in rows.nth(1).inner_text()
    assert "First contact with key worker" in rows.nth(0).inner_text()
    assert "SEACOLE" not in table.inner_text()
    shoot(page, "caseload-mine")
    assert axe_violations(page) == []


def test_the_coordinator_searches_filters_sorts_and_gives_tasks(
    page, pathway, make_user, actor
) -> None:
    _the_ward(make_user, actor)
    sign_in(page, "coord", PASSWORD)
    page.get_by_role("link", name="My tasks").first.click()
    page.get_by_role("heading", name="My tasks").wait_for()

    # Search by patient, in any order of the names.
    page.get_by_label("Patient", exact=True).fill("Seacole Mary")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("Clear search and filters").wait_for()
    worklist = page.locator("table.app-worklist")
    assert "SEACOLE, Mary" in worklist.inner_text() and "CAVELL" not in worklist.inner_text()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Clear search and filters").click()

    # A task filter and a due state.
    page.get_by_label("Task", exact=True).select_option("List for MDT review")
    page.get_by_label("Due", exact=True).select_option("none")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("Clear search and filters").wait_for()
    assert page.locator("table.app-worklist").count() == 0 or (
        "List for MDT review" in page.locator("table.app-worklist").inner_text()
    )
    page.get_by_role("link", name="Clear search and filters").click()
    page.get_by_label("Standard").select_option("TC2")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("Clear search and filters").wait_for()
    names = page.locator("table.app-worklist tbody tr").all_inner_texts()
    assert names and all("List for MDT review" in row for row in names)
    assert axe_violations(page) == []
    page.get_by_role("link", name="Clear search and filters").click()

    # Sort by patient: the column says how it is sorted.
    page.locator("th").get_by_role("link", name="Patient").click()
    header = page.locator("th[aria-sort='ascending']")
    header.wait_for()
    assert "Patient" in header.inner_text()
    rows = page.locator("table.app-worklist tbody tr").all_inner_texts()
    families = [next(n for n in ("CAVELL", "LOVELACE", "SEACOLE") if n in r) for r in rows]
    assert families == sorted(families)
    page.locator("th").get_by_role("link", name="Patient").click()
    page.locator("th[aria-sort='descending']").wait_for()
    shoot(page, "worklist-sorted")
    assert axe_violations(page) == []

    # The nurses' tasks, given to Nurse2 together.
    page.goto("/tasks?view=team&role=cns&task=First+contact+with+key+worker")
    boxes = page.locator("input[name='task_ids']")
    assert boxes.count() == 2
    for index in range(2):
        boxes.nth(index).check()
    page.get_by_label("Give selected to").select_option(label="Nurse2 (Clinical nurse specialist)")
    page.get_by_role("button", name="Give selected tasks").click()
    page.get_by_text("2 tasks given to Nurse2.").wait_for()
    assert page.locator("table.app-worklist").inner_text().count("with Nurse2") == 2
    shoot(page, "worklist-given")
    assert axe_violations(page) == []


def test_key_worker_named_on_the_record_and_a_caseload_moved(
    page, pathway, make_user, actor
) -> None:
    _the_ward(make_user, actor)
    sign_in(page, "coord", PASSWORD)
    page.goto("/patients?q=Seacole")
    page.get_by_role("link", name="SEACOLE, Mary").first.click()
    page.get_by_role("button", name="Key worker").click()
    page.get_by_role("heading", name="Key worker").wait_for()
    assert axe_violations(page) == []
    page.get_by_label("Clinical nurse specialist").select_option(label="Nurse2")
    page.get_by_label("Direct line (optional)").fill("not a number")
    page.get_by_role("button", name="Save key worker").click()
    page.get_by_text("There is a problem").wait_for()
    assert axe_violations(page) == []
    page.get_by_label("Direct line (optional)").fill("0113 496 0999")
    page.get_by_role("button", name="Save key worker").click()
    page.get_by_text("Nurse2 is now SEACOLE, Mary's key worker.").wait_for()
    assert "Nurse2, 0113 496 0999" in page.locator(".app-patient-banner").inner_text()

    page.goto("/caseload/handover")
    page.get_by_label("Move patients from").select_option(label="Nurse")
    page.get_by_role("button", name="Show their patients").click()
    page.get_by_label("Only the patients ticked below").check()
    page.get_by_label("CAVELL, Edith").check()
    page.get_by_label("Move them to").select_option(label="Nurse2")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Move patients").click()
    page.get_by_text("1 patient moved to Nurse2.").wait_for()
    page.goto("/caseload")
    page.get_by_label("Clinical nurse specialist").select_option(label="Nurse2")
    page.get_by_role("button", name="Show caseload").click()
    table = page.locator("table.app-caseload")
    assert "CAVELL, Edith" in table.inner_text() and "SEACOLE, Mary" in table.inner_text()
    shoot(page, "caseload-moved")
    assert axe_violations(page) == []
