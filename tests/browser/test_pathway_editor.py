"""A manager changes the pathway in the browser: adds a task in a lane, gives it properties
and a new form, publishes; a new patient gets the task; a running patient is moved onto the
new version after a dry run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..conftest import PASSWORD
from ..helpers import complete_with_examples, new_patient, ready_task
from ..scenarios import DIAGNOSIS
from .conftest import axe_violations, shoot, sign_in

CONTACT_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Contact preferences",
    "type": "object",
    "required": ["channel"],
    "properties": {
        "channel": {
            "title": "How would the patient like to be contacted?",
            "oneOf": [
                {"const": "phone", "title": "Phone"},
                {"const": "letter", "title": "Letter"},
                {"const": "email", "title": "E-mail"},
            ],
        },
        "notes": {"type": "string", "title": "Notes", "maxLength": 500},
    },
}
NEW_TASK = "Record contact preferences"
FLOW = "Flow_register_diagnosis_care"  # Register diagnosis -> every track of care


def _drop_task_on_flow(page: Any, flow_id: str) -> None:
    """Drag a task from the palette onto a sequence flow, as a user does: bpmn-js inserts it
    into the flow, in the lane it lands in."""
    page.locator("#editor-canvas").scroll_into_view_if_needed()
    box = page.locator(f"g.djs-element[data-element-id='{flow_id}']").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.locator(".djs-palette .entry.bpmn-icon-task").click()
    page.mouse.move(x - 40, y, steps=5)
    page.mouse.move(x, y, steps=5)
    page.mouse.click(x, y)


def test_manager_adds_a_task_publishes_and_moves_patients(
    page: Any, pathway: Any, make_user: Any, actor: Any
) -> None:
    make_user("manager", username="editor-boss")
    coordinator = actor(make_user("coordinator", username="editor-coordinator"))
    running = new_patient(coordinator, 1)  # waits at "Register secondary diagnosis"

    sign_in(page, "editor-boss", PASSWORD)
    page.get_by_role("link", name="Pathways").click()
    page.get_by_role("button", name="Make a new draft").click()
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    assert axe_violations(page) == []

    # A new form, edited beside the diagram.
    page.get_by_label("New form file name").fill("contact-preferences.schema.json")
    page.get_by_role("button", name="Add form").click()
    page.locator("#form-json").fill(json.dumps(CONTACT_FORM, indent=2))
    page.locator("#form-json").press("Tab")

    # A task dropped between two existing steps of the main diagram (which has no lanes).
    _drop_task_on_flow(page, FLOW)
    page.get_by_role("button", name="Make it a user task").click()
    page.locator("#prop-name").fill(NEW_TASK)
    page.locator("#prop-name").press("Tab")
    new_id = page.locator(".app-editor__kind").inner_text().split("·")[1].strip()
    page.locator("#prop-role").select_option("coordinator")

    # Saved without a form, it is a problem: listed, outlined on the diagram, one click away.
    page.get_by_role("button", name="Save and check").click()
    page.locator("#problems").wait_for()
    assert f"{NEW_TASK}: User task has no form" in page.locator("#problem-list").inner_text()
    page.locator(f"g.djs-element.app-problem[data-element-id='{new_id}']").wait_for()
    shoot(page, "pathway-editor-problem")
    page.locator("#problem-list a", has_text=NEW_TASK).first.click()
    assert new_id in page.locator(".app-editor__kind").inner_text()
    page.locator("#prop-form").select_option("contact-preferences.schema.json")
    page.locator("#prop-due").fill("3")
    page.locator("#prop-due").press("Tab")
    page.get_by_label("IS1 CNS information").check()
    page.locator("#prop-variable").fill("contact_preferences")
    page.locator("#prop-variable").press("Tab")
    assert page.locator("#prop-role").input_value() == "coordinator"

    page.get_by_role("button", name="Save and check").click()
    page.locator("#editor-status", has_text="No problems found").wait_for()
    shoot(page, "pathway-editor-task-added")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Publish").click()
    page.locator("#published").wait_for(timeout=120_000)  # after the test run
    assert "Version 2 is published" in page.locator("#published").inner_text()

    # The dry run, then the move.
    page.get_by_role("link", name="Move running patients to this version").click()
    page.get_by_role("heading", name="Move patients from version 1 to version 2").wait_for()
    shoot(page, "pathway-editor-dry-run")
    assert page.get_by_role("cell", name=NEW_TASK).count() == 1
    page.get_by_role("button", name="Move 1 patient to version 2").click()
    page.get_by_text("Moved 1 patient.").wait_for()

    # A new patient starts on version 2; both meet the new task after registration.
    fresh = new_patient(coordinator, 2)
    for patient in (fresh, running):
        complete_with_examples(
            coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
        )
        task = ready_task(patient.id, NEW_TASK)
        assert (task.role, task.form, task.standards) == (
            "coordinator",
            "contact-preferences.schema.json",
            "IS1",
        )
        assert task.due_at is not None
        assert task.instance.pathway_version.version == 2

    # The coordinator sees it, with the new form.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "editor-coordinator", PASSWORD)
    page.goto(f"/tasks/{ready_task(fresh.id, NEW_TASK).id}")
    page.get_by_text("How would the patient like to be contacted?").wait_for()
    shoot(page, "pathway-editor-new-task-form")


def test_a_diagram_made_offline_is_opened_saved_and_downloaded(
    page: Any, pathway: Any, make_user: Any, tmp_path: Path
) -> None:
    """Camunda Modeler users work offline: download a diagram, change it, open it in the
    editor, publish; the comparison draws the change on the diagram."""
    make_user("manager", username="offline-boss")
    sign_in(page, "offline-boss", PASSWORD)
    page.goto("/pathways")
    page.get_by_role("button", name="Make a new draft").click()
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    page.locator("#diagram-file").select_option(ACP)
    page.locator(f"#pathway-editor[data-diagram='{ACP}']").wait_for(state="attached")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download .bpmn").click()
    assert download.value.suggested_filename == ACP
    offline = tmp_path / ACP
    xml = Path(download.value.path()).read_text()
    assert 'id="share_acp"' in xml
    offline.write_text(xml.replace('name="Share the advance care plan"', f'name="{RENAMED}"'))

    page.locator("#open-file").set_input_files(str(offline))
    page.locator("#editor-status", has_text=f"replaced {ACP}").wait_for()
    page.get_by_text(RENAMED).first.wait_for()
    page.get_by_role("button", name="Publish").click()
    page.locator("#published").wait_for(timeout=120_000)  # after the test run
    page.goto("/pathways")
    page.get_by_role("link", name="Changes from version 1").first.click()
    page.get_by_role("cell", name=RENAMED).wait_for()
    # It opens on the diagram that changed.
    page.get_by_role("heading", name=f"Version 2: {ACP}").wait_for()
    page.locator("g.djs-element.app-changed[data-element-id='share_acp']").wait_for()
    shoot(page, "pathway-compare")
    assert axe_violations(page) == []


ACP = "advance_care_planning.bpmn"
RENAMED = "Share the advance care plan with the GP"


def test_operations_draw_who_waits_where_and_lanes_name_their_role(
    page: Any, pathway: Any, make_user: Any, actor: Any
) -> None:
    make_user("manager", username="ops-boss")
    coordinator = actor(make_user("coordinator", username="ops-coordinator"))
    for index in range(3):
        new_patient(coordinator, index)  # all three wait to be registered
    sign_in(page, "ops-boss", PASSWORD)
    page.goto("/pathways")
    page.get_by_role("link", name="Where patients are").first.click()
    page.locator(".app-waiting-badge[data-element='register_diagnosis']").wait_for()
    assert page.locator(".app-waiting-badge[data-element='register_diagnosis']").inner_text() == "3"
    assert page.get_by_role("cell", name="3").count() == 1
    shoot(page, "pathway-operations")
    assert axe_violations(page) == []

    page.goto("/pathways")
    page.get_by_role("button", name="Make a new draft").click()
    page.locator("#pathway-editor[data-ready='yes']").wait_for(state="attached")
    page.locator("#diagram-file").select_option("plan_and_inform.bpmn")
    page.locator("#pathway-editor[data-diagram='plan_and_inform.bpmn']").wait_for(state="attached")
    page.locator("#editor-canvas").scroll_into_view_if_needed()
    page.locator("g.djs-element[data-element-id='Lane_oncologist'] .djs-hit-all").click()
    page.locator("#prop-lane-role").wait_for()
    assert "This lane's name means Oncologist." in page.locator("#properties").inner_text()
    page.locator("#prop-lane-role").select_option("palliative")
    assert page.locator("#prop-name").input_value() == "Palliative care team"
    shoot(page, "pathway-editor-lane")
