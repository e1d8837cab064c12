"""Forms say everything at once, in plain clinical English; a question can ask for a member of
staff by role (``x-user-role``); numbers are real numbers."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient

from mdt.extensions import db
from mdt.models import HumanTaskModel, TaskStatus
from mdt.services.actor import SYSTEM
from mdt.services.form_validation import validate_submission
from mdt.services.pathways import publish_files, read_pathway_directory
from mdt.services.users import set_active
from mdt.web.schema_forms import build_fields
from workflows import PathwayInvalidError

from .conftest import FIXTURES, Auth
from .helpers import new_patient, ready_task, start_on

ASSESS: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Wound assessment",
    "type": "object",
    "required": ["size_cm", "infected", "seen_by"],
    "properties": {
        "size_cm": {"type": "integer", "title": "Wound size (cm)", "minimum": 0, "maximum": 50},
        "infected": {"type": "boolean", "title": "Signs of infection?"},
        "carer_nhs_number": {
            "type": "string",
            "title": "Carer's NHS number",
            "format": "nhs-number",
            "maxLength": 12,
        },
        "seen_on": {"type": "string", "format": "date", "title": "Date seen"},
        "seen_by": {"type": "string", "title": "Key worker", "x-user-role": "cns"},
        "depth_mm": {"type": "number", "title": "Depth (mm)", "minimum": 0, "maximum": 100},
        "notes": {"type": "string", "title": "Notes", "maxLength": 2000},
    },
}


def _publish(assess: dict[str, Any] | None = None) -> Any:
    bpmn, forms = read_pathway_directory(FIXTURES / "tiny")
    forms["assess.schema.json"] = json.dumps(assess or ASSESS).encode()
    return publish_files(SYSTEM, "wound-care", "Wound care", bpmn, forms)


@pytest.fixture
def assess_task(make_user, actor) -> HumanTaskModel:
    _publish()
    nurse = make_user("cns", username="nurse")
    make_user("oncologist", username="doctor")
    patient = new_patient(actor(nurse), start=False)
    start_on(actor(nurse), patient, "wound-care")
    return ready_task(patient.id, "Assess the wound")


def _summary(page: str) -> list[str]:
    body = page.split('nhsuk-error-summary__list"', 1)[1].split("</ul>", 1)[0]
    return [unescape(m) for m in re.findall(r'<a href="#[^"]+">([^<]*)</a>', body)]


# x-user-role -------------------------------------------------------------------------------


def test_a_user_role_question_offers_the_active_holders_of_the_role(
    assess_task, make_user, actor, auth: Auth, client: FlaskClient
) -> None:
    gone = make_user("cns", username="gone")
    make_user("oncologist", username="onc")
    set_active(actor(make_user("admin")), gone.id, False)
    auth.login("nurse")
    page = client.get(f"/tasks/{assess_task.id}").get_data(as_text=True)
    select = page.split('id="field-seen_by"', 1)[1].split("</select>", 1)[0]
    assert ">Nurse</option>" in select
    assert "Gone" not in select and "Onc" not in select

    # an answer whose account is no longer active is shown, marked, and refused
    fields = build_fields(ASSESS, {"seen_by": "Gone"}, {})
    seen_by = next(f for f in fields if f.name == "seen_by")
    assert seen_by.widget == "select"
    assert ("Gone", "Gone (no longer active)") in seen_by.options
    assert ("Nurse", "Nurse") in seen_by.options

    answers = {"size_cm": "3", "infected": "no", "seen_by": "Gone"}
    refused = auth.post(f"/tasks/{assess_task.id}", answers)
    assert refused.status_code == 400, refused.get_data(as_text=True)[-3000:]
    assert any("Gone is not an active" in m for m in _summary(refused.get_data(as_text=True)))
    assert auth.post(f"/tasks/{assess_task.id}", {**answers, "seen_by": "Nurse"}).status_code == 302
    db.session.expire_all()
    done = db.session.get(HumanTaskModel, assess_task.id)
    assert done.status == TaskStatus.COMPLETED and done.data["seen_by"] == "Nurse"


def test_a_user_role_naming_no_known_role_is_refused_at_upload() -> None:
    wrong = json.loads(json.dumps(ASSESS))
    wrong["properties"]["seen_by"]["x-user-role"] = "surgeon"
    with pytest.raises(PathwayInvalidError) as error:
        _publish(wrong)
    [problem] = [p for p in error.value.problems if "surgeon" in p.message]
    assert problem.file == "assess.schema.json" and "cns" in problem.message


def test_user_role_validation_is_the_services_too(make_user) -> None:
    make_user("coordinator", username="coord")
    schema = {
        "type": "object",
        "properties": {
            "who": {"type": "string", "title": "MDT coordinator", "x-user-role": "coordinator"}
        },
    }
    assert validate_submission(schema, {"who": "Coord"}) == {}
    [message] = validate_submission(schema, {"who": "Someone Else"}).values()
    assert (
        message
        == "Someone Else is not an active MDT coordinator: choose MDT coordinator from the list"
    )
