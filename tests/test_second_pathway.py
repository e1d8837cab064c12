"""Another pathway, added as BPMN only, runs through the same screens."""

from __future__ import annotations

from flask.testing import FlaskClient

from mdt.extensions import db
from mdt.models import InstanceStatus, PathwayInstanceModel

from .conftest import Auth
from .helpers import new_patient, ready_task, start_on


def test_wound_care_pathway_through_the_generic_screens(
    tiny_pathway, make_user, actor, auth: Auth, client: FlaskClient
) -> None:
    nurse = make_user("cns", username="nurse")
    make_user("oncologist", username="doctor")
    patient = new_patient(actor(nurse), start=False)
    start_on(actor(nurse), patient, "wound-care")

    auth.login("nurse")
    assert "Assess the wound" in client.get("/tasks").get_data(as_text=True)
    task = ready_task(patient.id, "Assess the wound")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "Wound size (cm)" in page and "Signs of infection?" in page
    bad = auth.post(f"/tasks/{task.id}", {"size_cm": "huge"})
    assert bad.status_code == 400 and "Wound size (cm) must be a whole number" in bad.get_data(
        as_text=True
    )
    assert auth.post(f"/tasks/{task.id}", {"size_cm": "9", "infected": "yes"}).status_code == 302

    client.post("/sign-out", data={"csrf_token": _token(client)})
    auth.login("doctor")
    review = ready_task(patient.id, "Review severe wound")
    assert (
        auth.post(f"/tasks/{review.id}", {"plan": "Refer to tissue viability"}).status_code == 302
    )
    db.session.expire_all()
    instance = db.session.get(PathwayInstanceModel, review.instance_id)
    assert instance.status == InstanceStatus.COMPLETED
    assert True


def _token(client: FlaskClient) -> str:
    from .conftest import csrf_token

    return csrf_token(client, "/tasks")


def test_a_plain_task_is_done_from_the_worklist_like_any_other(
    make_user, actor, auth: Auth, client: FlaskClient
) -> None:
    """Modelling tools draw a plain bpmn:task for "someone does this": it is the lane's task,
    shown in its worklist and completed from the same screen, with nothing to fill in."""
    from mdt.services.actor import SYSTEM
    from mdt.services.pathways import publish_files, read_pathway_directory

    from .conftest import FIXTURES

    bpmn, forms = read_pathway_directory(FIXTURES / "tiny")
    text = bpmn["wound_care.bpmn"].decode()
    text = (
        text.replace(
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="assess" />',
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="phone" />'
            '<bpmn:sequenceFlow id="f0" sourceRef="phone" targetRef="assess" />',
        )
        .replace(
            "<bpmn:flowNodeRef>start</bpmn:flowNodeRef>",
            "<bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>phone</bpmn:flowNodeRef>",
        )
        .replace(
            '<bpmn:endEvent id="done"',
            '<bpmn:task id="phone" name="Phone the patient" /><bpmn:endEvent id="done"',
        )
    )
    publish_files(SYSTEM, "wound-care", "Wound care", {"wound_care.bpmn": text.encode()}, forms)
    nurse = make_user("cns", username="nurse")
    patient = new_patient(actor(nurse), start=False)
    start_on(actor(nurse), patient, "wound-care")

    auth.login("nurse")
    assert "Phone the patient" in client.get("/tasks").get_data(as_text=True)
    task = ready_task(patient.id, "Phone the patient")
    assert task.role == "cns" and task.form is None
    assert client.get(f"/tasks/{task.id}").status_code == 200
    assert auth.post(f"/tasks/{task.id}", {}).status_code == 302
    assert ready_task(patient.id, "Assess the wound").role == "cns"
