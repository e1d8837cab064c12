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


# Every error at once ------------------------------------------------------------------------


def test_five_problems_of_one_submission_are_reported_together(
    assess_task, auth: Auth, client: FlaskClient
) -> None:
    """A wrong NHS check digit, 31 February and three empty required answers: all five in
    the error summary at once, in the form's order, each beside its field."""
    auth.login("nurse")
    response = auth.post(
        f"/tasks/{assess_task.id}",
        {
            "carer_nhs_number": "943 476 5918",  # 9434765919 is valid: the check digit is wrong
            "seen_on-day": "31",
            "seen_on-month": "2",
            "seen_on-year": "2026",
            "notes": "Kept text",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _summary(page) == [
        "Enter wound size (cm)",
        "Select an answer to “Signs of infection?”",
        "Carer's NHS number must be 10 digits, the last a check digit that matches the others",
        "Date seen must be a real date",
        "Select key worker",
    ]
    assert page.count('class="nhsuk-error-message"') == 5
    assert 'href="#field-seen_on-day"' in page and 'href="#field-infected-1"' in page
    assert "Kept text" in page and 'value="943 476 5918"' in page
    db.session.expire_all()
    assert db.session.get(HumanTaskModel, assess_task.id).status == TaskStatus.READY


def test_a_date_that_cannot_be_read_hides_no_range_error(
    assess_task, auth: Auth, client: FlaskClient
) -> None:
    auth.login("nurse")
    page = auth.post(
        f"/tasks/{assess_task.id}",
        {"size_cm": "90", "infected": "no", "seen_by": "Nurse", "seen_on-day": "4"},
    ).get_data(as_text=True)
    assert _summary(page) == [
        "Wound size (cm) must be 50 or less",
        "Date seen must include a month and year",
    ]


CLINICAL: dict[str, Any] = {
    "type": "object",
    "required": ["de_novo", "er", "her2", "ecog", "diagnosed_on", "told_gp", "in_work", "signs"],
    "properties": {
        "de_novo": {
            "type": "boolean",
            "title": "Is this de novo metastatic disease (no earlier primary breast cancer treatment)?",
        },
        "er": {
            "type": "string",
            "title": "Oestrogen receptor (ER) at recurrence",
            "enum": ["+", "-"],
        },
        "her2": {"type": "string", "title": "HER2 at recurrence", "enum": ["+", "-"]},
        "ecog": {
            "type": "integer",
            "title": "Performance status (ECOG/WHO)",
            "oneOf": [{"const": 0, "title": "0"}, {"const": 1, "title": "1"}],
        },
        "diagnosed_on": {"type": "string", "format": "date", "title": "Date of diagnosis"},
        "told_gp": {"type": "boolean", "title": "Has the GP been told about the plan?"},
        "in_work": {"type": "boolean", "title": "Is the patient in paid work?"},
        "signs": {"type": "boolean", "title": "Did the patient die in their preferred place?"},
        "hna_score": {
            "type": "integer",
            "title": "HNA distress score",
            "minimum": 0,
            "maximum": 10,
        },
    },
}


def test_messages_keep_clinical_capitals_and_read_as_plain_english() -> None:
    errors = validate_submission(CLINICAL, {"hna_score": 11})
    assert errors == {
        "de_novo": "Select whether this is de novo metastatic disease (no earlier primary "
        "breast cancer treatment)",
        "er": "Select oestrogen receptor (ER) at recurrence",
        "her2": "Select HER2 at recurrence",
        "ecog": "Select performance status (ECOG/WHO)",
        "diagnosed_on": "Enter date of diagnosis",
        "told_gp": "Select whether the GP has been told about the plan",
        "in_work": "Select whether the patient is in paid work",
        "signs": "Select an answer to “Did the patient die in their preferred place?”",
        "hna_score": "HNA distress score must be 10 or less",
    }
    wrong = validate_submission(CLINICAL, {"er": "x", "her2": "y"})
    assert wrong["er"] == "Select a valid option for oestrogen receptor (ER) at recurrence"
    assert wrong["her2"] == "Select a valid option for HER2 at recurrence"


def test_a_task_for_another_role_names_it_as_people_write_it(
    assess_task, make_user, auth: Auth, client: FlaskClient
) -> None:
    make_user("coordinator", username="coord")
    auth.login("coord")
    page = client.get(f"/tasks/{assess_task.id}").get_data(as_text=True)
    assert "This task is for the clinical nurse specialist." in page
    assert "mdt coordinator" not in page.lower().replace("mdt coordinator</", "")


# Numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("nan", "Depth (mm) must be a number"),
        ("NaN", "Depth (mm) must be a number"),
        ("inf", "Depth (mm) is too large: enter a number with 15 digits or fewer"),
        ("-Infinity", "Depth (mm) is too large: enter a number with 15 digits or fewer"),
        ("1e400", "Depth (mm) is too large: enter a number with 15 digits or fewer"),
        ("9" * 40, "Depth (mm) is too long: enter a number with 15 digits or fewer"),
    ],
)
def test_nan_infinities_and_endless_numbers_are_refused(
    assess_task, auth: Auth, client: FlaskClient, typed: str, message: str
) -> None:
    auth.login("nurse")
    answers = {"size_cm": "3", "infected": "no", "seen_by": "Nurse", "depth_mm": typed}
    response = auth.post(f"/tasks/{assess_task.id}", answers)
    assert response.status_code == 400
    assert _summary(response.get_data(as_text=True)) == [message]
    db.session.expire_all()
    assert db.session.get(HumanTaskModel, assess_task.id).status == TaskStatus.READY


def test_the_service_refuses_nan_from_any_caller(assess_task, actor) -> None:
    """The API hands the service JSON, and Python's JSON reads NaN and Infinity."""
    from mdt.models import UserModel
    from mdt.services.errors import InvalidInputError
    from mdt.services.instances import complete_task

    user = db.session.query(UserModel).filter_by(username="nurse").one()
    base = {"size_cm": 3, "infected": False, "seen_by": "Nurse"}
    for bad in (float("nan"), float("inf"), 10**20):
        with pytest.raises(InvalidInputError) as error:
            complete_task(actor(user), assess_task.id, {**base, "depth_mm": bad})
        assert set(error.value.errors) == {"depth_mm"}
    with pytest.raises(InvalidInputError) as error:
        complete_task(actor(user), assess_task.id, {**base, "size_cm": float("nan")})
    assert error.value.errors["size_cm"] == "Wound size (cm) must be a number"


# Dates and hidden answers -------------------------------------------------------------------


def test_date_inputs_offer_today_without_inline_script(
    assess_task, auth: Auth, client: FlaskClient
) -> None:
    auth.login("nurse")
    page = client.get(f"/tasks/{assess_task.id}").get_data(as_text=True)
    assert 'data-date-today="seen_on"' in page
    assert 'src="/static/js/date-today.js"' in page
    assert "<script>" not in page  # the policy forbids inline scripts
    with client.get("/static/js/date-today.js") as script:
        assert script.status_code == 200 and b"Today" in script.data


def test_answers_hidden_by_a_reveal_are_removed_and_the_page_says_so(
    make_user, actor, auth: Auth, client: FlaskClient
) -> None:
    form = json.loads(json.dumps(ASSESS))
    form["properties"]["infection_signs"] = {
        "type": "string",
        "title": "Signs of infection seen",
        "maxLength": 200,
        "x-show-if": {"field": "infected", "equals": True},
    }
    _publish(form)
    nurse = make_user("cns", username="nurse")
    make_user("oncologist", username="doctor")
    patient = new_patient(actor(nurse), start=False)
    start_on(actor(nurse), patient, "wound-care")
    task = ready_task(patient.id, "Assess the wound")
    auth.login("nurse")
    answers = {"size_cm": "3", "infected": "no", "seen_by": "Nurse", "infection_signs": "Pus"}
    response = auth.post(f"/tasks/{task.id}", answers)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "your other answers meant they were not asked: Signs of infection seen" in page
    db.session.expire_all()
    assert "infection_signs" not in db.session.get(HumanTaskModel, task.id).data
