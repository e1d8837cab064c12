"""Managers see every problem of an upload at once, each on a shape with what to do, and
choose the process that starts the pathway when a file has several (API and editor)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from mdt.extensions import db
from mdt.models import PathwayVersionModel
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from workflows.problems import is_whole_sentence

from .conftest import Auth, csrf_token
from .engine.bpmn_builders import FORM, chain, process, script, user_task


@pytest.fixture
def manager(make_user: Any) -> dict[str, str]:
    user = make_user("manager", username="boss")
    _, secret = create_token(SYSTEM, user.id, "tests")
    return {"Authorization": f"Bearer {secret}"}


def _files(**bpmn: bytes) -> list[dict[str, str]]:
    files = [{"name": f"{name}.bpmn", "content": raw.decode()} for name, raw in bpmn.items()]
    return [*files, {"name": "f.json", "content": FORM.decode()}]


def _two_starts() -> dict[str, bytes]:
    """Two executable processes that no other calls, in two files."""
    second = process(chain(user_task("b"))).replace(b'id="proc"', b'id="other"')
    second = second.replace(b'id="lane"', b'id="lane2"').replace(b'id="ls"', b'id="ls2"')
    return {"first": process(chain(user_task("a"))), "second": second}


def _upload(
    client: FlaskClient, manager: dict[str, str], files: list[dict[str, str]], **extra: str
) -> Any:
    body = {"key": "choice", "title": "Choice", "files": files, **extra}
    response = client.post("/api/v1/pathways", json=body, headers=manager)
    assert response.status_code == 201, response.json
    return response.json


def _validate(client: FlaskClient, manager: dict[str, str], version_id: int) -> Any:
    return client.post(f"/api/v1/pathways/{version_id}/validate", headers=manager).json


def test_the_api_lists_schema_lint_and_engine_problems_at_once_on_shapes(
    client: FlaskClient, manager: dict[str, str]
) -> None:
    body = chain('<bpmn:task id="phone" colour="red" name="Phone the patient" />', user_task())
    bpmn = process(body, lanes=False).replace(b'isExecutable="true"', b'isExecutable="false"')
    draft = _upload(client, manager, _files(upload=bpmn))
    checked = _validate(client, manager, draft["id"])
    assert checked["valid"] is False
    problems = checked["problems"]
    for problem in problems:
        assert problem["file"] == "upload.bpmn" and problem["line"], problem
        assert problem["element_id"] and problem["element_type"], problem
        assert is_whole_sentence(problem["message"]), problem
    schema = next(p for p in problems if "colour" in p["message"])
    assert schema["element_type"] == "task" and "{http" in schema["details"]
    assert any("does not map to a known role" in p["message"] for p in problems)
    assert any("not marked executable" in p["message"] for p in problems)


def test_the_starting_process_is_chosen_through_the_api(
    client: FlaskClient, manager: dict[str, str]
) -> None:
    files = _files(**_two_starts())
    unchosen = _upload(client, manager, files)
    [problem] = _validate(client, manager, unchosen["id"])["problems"]
    assert "Several processes could start the pathway" in problem["message"]
    assert "process_id" in problem["message"] and problem["element_id"] == "proc"

    chosen = _upload(client, manager, files, process_id="other")
    assert _validate(client, manager, chosen["id"]) == {"valid": True, "problems": []}
    assert db.session.get(PathwayVersionModel, chosen["id"]).process_id == "other"

    def save(**extra: Any) -> Any:
        sha = db.session.get(PathwayVersionModel, chosen["id"]).sha256
        response = client.put(
            f"/api/v1/pathways/{chosen['id']}/files",
            json={"expected_sha256": sha, "files": files, **extra},
            headers=manager,
        )
        assert response.status_code == 200, response.json
        db.session.expire_all()
        return response.json

    assert save(process_id="proc")["valid"] is True
    assert db.session.get(PathwayVersionModel, chosen["id"]).process_id == "proc"
    assert save()["valid"] is True  # left out: the choice stays
    assert db.session.get(PathwayVersionModel, chosen["id"]).process_id == "proc"
    wrong = save(process_id="nope")
    [problem] = wrong["problems"]
    assert "'nope'" in problem["message"] and "'proc', 'other'" in problem["message"]
    assert save(process_id="")["problems"][0]["message"].startswith("Several processes")


def test_a_choice_the_files_no_longer_hold_is_forgotten(
    client: FlaskClient, manager: dict[str, str]
) -> None:
    chosen = _upload(client, manager, _files(**_two_starts()), process_id="other")
    only_first = _files(first=_two_starts()["first"])
    response = client.put(
        f"/api/v1/pathways/{chosen['id']}/files",
        json={"expected_sha256": chosen["sha256"], "files": only_first},
        headers=manager,
    )
    assert response.json["valid"] is True
    assert db.session.get(PathwayVersionModel, chosen["id"]).process_id == ""


def test_the_editor_offers_the_choice_of_starting_process(
    client: FlaskClient, manager: dict[str, str], auth: Auth
) -> None:
    chosen = _upload(client, manager, _files(**_two_starts()), process_id="other")
    auth.login("boss")
    html = client.get(f"/pathways/{chosen['id']}/edit").get_data(as_text=True)
    assert 'data-process-id="other"' in html
    assert 'id="start-process"' in html and "Starts the pathway" in html
    assert csrf_token(client, f"/pathways/{chosen['id']}/edit")


def test_a_chosen_start_is_what_publishing_runs(
    client: FlaskClient, manager: dict[str, str]
) -> None:
    chosen = _upload(client, manager, _files(**_two_starts()), process_id="other")
    published = client.post(  # the other process is never reached: a warning to confirm
        f"/api/v1/pathways/{chosen['id']}/publish",
        json={"confirm_warnings": True},
        headers=manager,
    )
    assert published.status_code == 200, published.json
    assert db.session.get(PathwayVersionModel, chosen["id"]).process_id == "other"


def test_unreadable_measures_are_listed_with_the_diagrams_problems(
    client: FlaskClient, manager: dict[str, str]
) -> None:
    bpmn = process(chain(user_task())).replace(b'isExecutable="true"', b'isExecutable="false"')
    files = [*_files(upload=bpmn), {"name": "measures.json", "content": '{"measures": [{'}]
    draft = _upload(client, manager, files)
    messages = [p["message"] for p in _validate(client, manager, draft["id"])["problems"]]
    assert any("not marked executable" in m for m in messages)
    assert any(m.startswith("Measures are not valid") for m in messages)


def _timer(value: str, kind: str = "timeDuration") -> str:
    return (
        '<bpmn:intermediateCatchEvent id="wait" name="Wait">'
        f'<bpmn:timerEventDefinition id="wait_def"><bpmn:{kind}>{value}</bpmn:{kind}>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )


_SUM = "+".join(["1"] * 260)
_HOSTILE = {
    # issue 24's attacks on validate: each answered 500 or armed a timer centuries away
    "sum": (chain(script(f"x = {_SUM}"), user_task()), "script", "nested"),
    "huge timer": (chain(_timer('"P' + "1" * 400_000 + 'D"'), user_task()), "wait", "long"),
    "long number": (chain(script("x = 1" + "0" * 5000), user_task()), "script", "digits"),
    "nine thousand years": (chain(_timer('"P9000Y"'), user_task()), "wait", "3,653 days"),
    "year 3179": (
        chain(_timer('morning_of("3179-01-01")', "timeDate"), user_task()),
        "wait",
        "outside the dates",
    ),
    "cardinality": (
        chain(
            user_task().replace(
                "</bpmn:userTask>",
                "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>20000"
                "</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>",
            )
        ),
        "task",
        "at most 50",
    ),
    "task name": (chain(user_task(name="n" * 400)), "task", "400 characters"),
}


@pytest.mark.parametrize("attack", sorted(_HOSTILE))
def test_hostile_pathways_are_refused_by_validate_with_the_element(
    client: FlaskClient, manager: dict[str, str], attack: str
) -> None:
    body, element, words = _HOSTILE[attack]
    draft = _upload(client, manager, _files(upload=process(body)))
    response = client.post(f"/api/v1/pathways/{draft['id']}/validate", headers=manager)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.json["valid"] is False
    found = [p for p in response.json["problems"] if p["element_id"] == element]
    assert any(words in p["message"] and p["line"] for p in found), response.json["problems"]


def test_the_lints_column_lengths_are_the_models() -> None:
    from mdt.models import ClosingEventModel, EpisodeModel, HumanTaskModel, TimerModel
    from mdt.models.instance import PathwayInstanceModel
    from workflows.limits import COLUMN_LENGTHS

    def length(model: Any, column: str) -> int:
        return int(model.__table__.c[column].type.length)

    models = {
        "process_id": min(
            length(PathwayVersionModel, "process_id"), length(HumanTaskModel, "process_id")
        ),
        "task_id": length(HumanTaskModel, "bpmn_id"),
        "task_name": length(HumanTaskModel, "name"),
        "lane": length(HumanTaskModel, "lane"),
        "form": length(HumanTaskModel, "form"),
        "standards": length(HumanTaskModel, "standards"),
        "mdt_step": length(HumanTaskModel, "mdt_step"),
        "timer_name": length(TimerModel, "event_name"),
        "message_name": min(
            length(EpisodeModel, "message"), length(ClosingEventModel, "event_name")
        ),
        "message_label": length(EpisodeModel, "label"),
        "episode": length(EpisodeModel, "kind"),
        "closes": min(
            length(PathwayInstanceModel, "close_reason"), length(ClosingEventModel, "reason")
        ),
    }
    assert models == COLUMN_LENGTHS
