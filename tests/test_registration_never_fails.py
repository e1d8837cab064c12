"""A published pathway that fails at its first steps never loses a registration.

The patient is saved, the pathway waits paused with the error, the service managers are
told (in the app, with a link to where they can try again), the operations view lists it,
and once a corrected version is published "Try again" starts it there. Through the screen
and the API; no 5xx.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import (
    InstanceStatus,
    NotificationModel,
    PathwayInstanceModel,
    PatientModel,
)
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.pathways import DEFAULT_PATHWAY_KEY, publish_files, read_pathway_directory

from .conftest import FIXTURES, Auth
from .helpers import NHS_NUMBERS, ready_task

# The tiny wound-care pathway with one step put in front of its first task.
FIRST_STEPS = {
    # A script that fails when it runs (it passes every check at upload).
    "script fails": '<bpmn:scriptTask id="first" name="Prepare the record" scriptFormat="python">'
    "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f0</bpmn:outgoing>"
    "<bpmn:script>ratio = 1 / 0</bpmn:script></bpmn:scriptTask>",
    # A multi-instance step whose collection nothing sets: SpiffWorkflow raises a bare
    # TypeError from its own code, which must still pause the pathway, not the server.
    "multi-instance input missing": '<bpmn:scriptTask id="first" name="Notify each reviewer" '
    'scriptFormat="python"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f0</bpmn:outgoing>'
    "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>reviewers"
    '</bpmn:loopDataInputRef><bpmn:inputDataItem id="reviewer" name="reviewer" />'
    "</bpmn:multiInstanceLoopCharacteristics><bpmn:script>seen = reviewer</bpmn:script>"
    "</bpmn:scriptTask>",
}
STEP_NAMES = {
    "script fails": "Prepare the record",
    "multi-instance input missing": "Notify each reviewer",
}


def _broken(step: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    bpmn, forms = read_pathway_directory(FIXTURES / "tiny")
    text = bpmn["wound_care.bpmn"].decode()
    for old, new in (
        (
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="assess" />',
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first" />'
            '<bpmn:sequenceFlow id="f0" sourceRef="first" targetRef="assess" />',
        ),
        (
            "<bpmn:flowNodeRef>start</bpmn:flowNodeRef>",
            "<bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>first</bpmn:flowNodeRef>",
        ),
        ('<bpmn:endEvent id="done"', FIRST_STEPS[step] + '<bpmn:endEvent id="done"'),
        (
            "<bpmn:incoming>f1</bpmn:incoming>\n      <bpmn:outgoing>f2</bpmn:outgoing>",
            "<bpmn:incoming>f0</bpmn:incoming>\n      <bpmn:outgoing>f2</bpmn:outgoing>",
        ),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    return {"wound_care.bpmn": text.encode()}, forms


def _publish_broken(step: str) -> Any:
    bpmn, forms = _broken(step)
    return publish_files(SYSTEM, DEFAULT_PATHWAY_KEY, "Wound care", bpmn, forms)


def _publish_fixed() -> Any:
    bpmn, forms = read_pathway_directory(FIXTURES / "tiny")
    return publish_files(SYSTEM, DEFAULT_PATHWAY_KEY, "Wound care", bpmn, forms)


def _paused_instance(patient_id: int) -> PathwayInstanceModel:
    db.session.expire_all()
    instance = db.session.scalar(
        select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == patient_id)
    )
    assert instance is not None
    return instance


@pytest.mark.parametrize("step", FIRST_STEPS)
def test_the_coordinator_registers_a_patient_on_a_pathway_that_cannot_start(
    step: str, make_user: Any, auth: Auth, clock: Any
) -> None:
    broken = _publish_broken(step)
    make_user("coordinator", username="coord")
    manager = make_user("manager", username="boss")
    auth.login("coord")

    response = auth.post(
        "/patients/new",
        {
            "nhs_number": NHS_NUMBERS[0],
            "given_name": "Zoë",
            "family_name": "Nguyễn",
            "date_of_birth-day": "3",
            "date_of_birth-month": "2",
            "date_of_birth-year": "1961",
        },
        form_url="/patients/new",
    )
    assert response.status_code == 302
    page = auth.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is registered, but their pathway could not start and is" in page
    assert STEP_NAMES[step] in page and "The service managers have been told" in page

    patient = db.session.scalar(
        select(PatientModel).where(PatientModel.nhs_number == NHS_NUMBERS[0])
    )
    assert patient is not None and patient.given_name == "Zoë"
    instance = _paused_instance(patient.id)
    assert instance.status == InstanceStatus.ERROR and instance.state == ""
    assert STEP_NAMES[step] in (instance.error_message or "")

    # The managers are told, once, with a link to where they can try again.
    [told] = db.session.scalars(
        select(NotificationModel).where(NotificationModel.user_id == manager.id)
    ).all()
    assert told.kind == "paused" and told.patient_id == patient.id
    assert (told.subject, told.subject_id) == ("pathway_version", broken.id)
    auth.client.get("/sign-out")
    auth.login("boss")
    notes = auth.client.get("/notifications").get_data(as_text=True)
    assert "Pathway paused" in notes and f"/pathways/{broken.id}/operations" in notes
    operations = auth.client.get(f"/pathways/{broken.id}/operations").get_data(as_text=True)
    assert (
        patient.display_name in operations
        and f"/pathways/instances/{instance.id}/retry" in operations
    )

    # Trying again before anything is fixed: still paused, still registered, no 5xx.
    again = auth.post(
        f"/pathways/instances/{instance.id}/retry",
        {"version": str(broken.id)},
        form_url=f"/pathways/{broken.id}/operations",
    )
    assert again.status_code == 302
    assert _paused_instance(patient.id).status == InstanceStatus.ERROR

    fixed = _publish_fixed()
    retried = auth.post(
        f"/pathways/instances/{instance.id}/retry",
        {"version": str(broken.id)},
        form_url=f"/pathways/{broken.id}/operations",
    )
    assert retried.status_code == 302
    instance = _paused_instance(patient.id)
    assert instance.status == InstanceStatus.RUNNING and instance.error_message is None
    assert instance.pathway_version_id == fixed.id
    assert ready_task(patient.id, "Assess the wound").role == "cns"


def _register_by_api(client: FlaskClient, make_user: Any, index: int, family: str) -> Any:
    user = make_user("coordinator", username="api-coord")
    _, secret = create_token(SYSTEM, user.id, "tests")
    return client.post(
        "/api/v1/patients",
        json={"nhs_number": NHS_NUMBERS[index], "given_name": "Ada", "family_name": family,
              "date_of_birth": "1961-02-03"},
        headers={"Authorization": f"Bearer {secret}"},
    )  # fmt: skip


def test_the_api_registers_the_patient_and_says_the_pathway_is_paused(
    make_user: Any, client: FlaskClient, clock: Any
) -> None:
    _publish_broken("multi-instance input missing")
    response = _register_by_api(client, make_user, 1, "Paused")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["pathway_status"] == "paused"
    assert "Notify each reviewer" in body["pathway_problem"]
    assert "TypeError" in body["pathway_problem"]  # what the engine said, kept for support
    assert db.session.get(PatientModel, body["id"]) is not None


def test_a_pathway_that_starts_says_so(make_user: Any, client: FlaskClient, clock: Any) -> None:
    _publish_fixed()
    response = _register_by_api(client, make_user, 2, "Running")
    assert response.status_code == 201
    assert response.json["pathway_status"] == "running"
    assert response.json["pathway_problem"] is None
