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
