"""A hostile or broken diagram harms one patient's pathway, never the server."""

from __future__ import annotations

import time

from flask.testing import FlaskClient

from mdt.extensions import db
from mdt.models import InstanceStatus, PathwayInstanceModel
from mdt.services.actor import SYSTEM
from mdt.services.pathways import publish_files, read_pathway_directory

from .conftest import FIXTURES, Auth
from .helpers import new_patient, ready_task, start_on


def test_endless_script_is_stopped_instance_marked_and_server_keeps_serving(
    make_user, actor, auth: Auth, client: FlaskClient
) -> None:
    bpmn, forms = read_pathway_directory(FIXTURES / "endless")
    publish_files(SYSTEM, "endless", "Endless", bpmn, forms)
    nurse = make_user("cns", "coordinator", username="nurse")
    patient = new_patient(actor(nurse), start=False)
    start_on(actor(nurse), patient, "endless")
    task = ready_task(patient.id, "Assess the wound")
    auth.login("nurse")

    started = time.monotonic()
    response = auth.post(f"/tasks/{task.id}", {"size_cm": "3", "infected": "no"})
    elapsed = time.monotonic() - started

    assert response.status_code == 500
    assert "paused" in response.get_data(as_text=True)
    assert elapsed < 6  # limit is 1.5 s in tests; generous for a slow CI machine
    db.session.expire_all()
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    assert instance.status == InstanceStatus.ERROR and "too long" in instance.error_message
    assert ready_task(patient.id, "Assess the wound").id == task.id  # last good state kept
    assert client.get("/tasks").status_code == 200  # still serving
    assert "Pathway paused" in client.get(f"/patients/{patient.id}").get_data(as_text=True)
