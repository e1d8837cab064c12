"""Managers edit a draft from the browser's editor, see where patients wait on each version,
compare versions on the diagram, and restart pathways paused by an error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, InstanceStatus, PathwayInstanceModel
from mdt.services.errors import ConflictError, PathwayFailedError, PermissionDeniedError
from mdt.services.instances import retry_instance
from mdt.services.pathway_drafts import open_draft, update_draft
from mdt.services.pathway_operations import operations
from workflows import PathwayRun, WorkflowRunError

from .conftest import Auth, csrf_token
from .engine.test_migration import with_photo_task
from .helpers import ready_task
from .test_pathway_migration import _publish, ward  # noqa: F401 - the fixture


def _files(version: Any) -> dict[str, bytes]:
    return {f.name: f.content for f in version.files}


def _editor(ward: dict[str, Any], client: Any, auth: Auth) -> tuple[Any, str, Any]:  # noqa: F811
    """The manager's draft, the fingerprint their editor started from, and a save function
    doing what the editor's "Save and check" does."""
    draft = open_draft(ward["manager"], ward["v1"].id)
    started_from = draft.sha256
    auth.login("boss")
    token = csrf_token(client, f"/pathways/{draft.id}/edit")

    def save(files: dict[str, str], expected: str = started_from) -> Any:
        return client.put(
            f"/api/v1/pathways/{draft.id}/files",
            json={
                "expected_sha256": expected,
                "files": [{"name": n, "content": c} for n, c in files.items()],
            },
            headers={"X-CSRFToken": token},
        )

    return draft, started_from, save


def test_a_draft_is_opened_once_and_copies_the_version(ward: dict[str, Any]) -> None:  # noqa: F811
    manager, v1 = ward["manager"], ward["v1"]
    draft = open_draft(manager, v1.id)
    assert (draft.status, draft.version, draft.process_id) == ("draft", 2, v1.process_id)
    assert _files(draft) == _files(v1)
    assert open_draft(manager, v1.id).id == draft.id  # one draft per pathway
    with pytest.raises(PermissionDeniedError):
        open_draft(ward["nurse"], v1.id)


def test_saving_a_draft_replaces_its_files_and_refuses_a_stale_copy(
    ward: dict[str, Any],  # noqa: F811
) -> None:
    manager = ward["manager"]
    draft = open_draft(manager, ward["v1"].id)
    started_from = draft.sha256
    files = _files(draft)
    files["wound_care.bpmn"] = with_photo_task().encode()
    form = next(name for name in files if name.endswith(".json"))
    files["extra.schema.json"] = files.pop(form)  # a form renamed
    saved = update_draft(manager, draft.id, files, started_from)
    assert saved.sha256 != started_from
    assert _files(saved) == files
    audit = db.session.scalars(
        select(AuditEventModel).where(AuditEventModel.action == "pathway.draft_saved")
    ).all()[-1]
    assert audit.detail["removed"] == [form]

    # Another manager's editor still holds the first copy: nothing of theirs overwrites.
    with pytest.raises(ConflictError, match="Someone else saved this draft"):
        update_draft(manager, draft.id, _files(ward["v1"]), started_from)
    assert _files(saved) == files
    with pytest.raises(ConflictError, match="only drafts change"):
        update_draft(manager, ward["v1"].id, files, ward["v1"].sha256)


def test_the_editor_saves_and_checks_in_one_call(
    ward: dict[str, Any],  # noqa: F811
    client: Any,
    auth: Auth,
) -> None:
    draft, started_from, save = _editor(ward, client, auth)
    files = {n: c.decode() for n, c in _files(draft).items()}
    files["wound_care.bpmn"] = with_photo_task()
    response = save(files)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["version"]["status"] == "draft" and body["version"]["sha256"] != started_from
    assert (body["valid"], body["problems"]) == (True, [])
    stale = save(files, started_from)  # the copy it began with
    assert stale.status_code == 409
    assert "Someone else saved" in stale.json["error"]["message"]


def test_problems_come_back_with_the_element_to_highlight(
    ward: dict[str, Any],  # noqa: F811
    client: Any,
    auth: Auth,
) -> None:
    draft, _, save = _editor(ward, client, auth)
    xml = with_photo_task().replace(
        'value="review.schema.json" /></spiffworkflow:properties></bpmn:extensionElements>'
        "<bpmn:incoming>f_after",
        'value="missing.schema.json" /></spiffworkflow:properties></bpmn:extensionElements>'
        "<bpmn:incoming>f_after",
    )
    assert "missing.schema.json" in xml
    response = save({**{n: c.decode() for n, c in _files(draft).items()}, "wound_care.bpmn": xml})
    body = response.json
    assert body["valid"] is False
    photo = [p for p in body["problems"] if p["element_id"] == "photo"]
    assert photo and photo[0]["file"] == "wound_care.bpmn" and photo[0]["line"]
    assert "missing.schema.json" in photo[0]["message"]


def test_the_editor_page_carries_the_draft_and_refuses_published_versions(
    ward: dict[str, Any],  # noqa: F811
    client: Any,
    auth: Auth,
) -> None:
    auth.login("boss")
    token = csrf_token(client, "/pathways")
    response = client.post(f"/pathways/{ward['v1'].id}/draft", data={"csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/edit")
    page = client.get(response.location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="pathway-editor"' in html and "bpmn-modeler.production.min.js" in html
    files = json.loads(
        html.split('data-files="')[1].split('"')[0].replace("&#34;", '"').replace("&amp;", "&")
    )
    assert files[0]["name"] == "wound_care.bpmn"  # the main diagram opens first
    published = client.get(f"/pathways/{ward['v1'].id}/edit")
    assert published.status_code == 302  # a published version never changes


def test_operations_count_who_waits_where(ward: dict[str, Any], client: Any, auth: Auth) -> None:  # noqa: F811
    ops = operations(ward["manager"], ward["v1"].id)
    assert {(t.bpmn_id, t.count) for t in ops.tasks} == {("assess", 1), ("review", 1)}
    assert ops.by_element == {"assess": 1, "review": 1}
    assert ops.paused == []
    with pytest.raises(PermissionDeniedError):
        operations(ward["nurse"], ward["v1"].id)
    auth.login("boss")
    html = client.get(f"/pathways/{ward['v1'].id}/operations").get_data(as_text=True)
    assert "data-counts=" in html and "Review severe wound" in html
    assert "No pathway on this version is paused" in html


def _pause(instance_id: int, message: str) -> None:
    instance = db.session.get(PathwayInstanceModel, instance_id)
    instance.status, instance.error_message = InstanceStatus.ERROR, message
    db.session.commit()


def test_a_paused_pathway_is_listed_and_runs_again_on_retry(
    ward: dict[str, Any],  # noqa: F811
    client: Any,
    auth: Auth,
) -> None:
    task = ready_task(ward["waiting"].id, "Assess the wound")
    _pause(task.instance_id, "Script 'score' failed: division by zero")
    ops = operations(ward["manager"], ward["v1"].id)
    assert [(p.instance_id, p.error) for p in ops.paused] == [
        (task.instance_id, "Script 'score' failed: division by zero")
    ]
    assert ("assess", 1) not in {(t.bpmn_id, t.count) for t in ops.tasks}  # paused: not waiting
    auth.login("boss")
    token = csrf_token(client, f"/pathways/{ward['v1'].id}/operations")
    response = client.post(
        f"/pathways/instances/{task.instance_id}/retry",
        data={"csrf_token": token, "version": ward["v1"].id},
        follow_redirects=True,
    )
    assert "The pathway is running again." in response.get_data(as_text=True)
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    assert (instance.status, instance.error_message) == ("running", None)
    assert ready_task(ward["waiting"].id, "Assess the wound")  # the task is still there
    retried = db.session.scalars(
        select(AuditEventModel).where(AuditEventModel.action == "pathway.retried")
    ).one()
    assert retried.detail == {"error": "Script 'score' failed: division by zero"}
    with pytest.raises(ConflictError, match="not paused"):
        retry_instance(ward["manager"], task.instance_id)


def test_a_retry_that_fails_again_keeps_the_pathway_paused(
    ward: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task = ready_task(ward["waiting"].id, "Assess the wound")
    _pause(task.instance_id, "first failure")

    def fails(self: PathwayRun) -> None:
        raise WorkflowRunError("still broken")

    monkeypatch.setattr(PathwayRun, "fire_due_timers", fails)
    with pytest.raises(PathwayFailedError, match="still broken"):
        retry_instance(ward["manager"], task.instance_id)
    instance = db.session.get(PathwayInstanceModel, task.instance_id)
    assert (instance.status, instance.error_message) == ("error", "still broken")
    with pytest.raises(PermissionDeniedError):
        retry_instance(ward["nurse"], task.instance_id)


def test_comparison_marks_changes_on_both_diagrams(
    ward: dict[str, Any],  # noqa: F811
    client: Any,
    auth: Auth,
    app: Flask,
) -> None:
    v2 = _publish(ward["manager"], with_photo_task())
    auth.login("boss")
    html = client.get(f"/pathways/{v2.id}/compare").get_data(as_text=True)
    assert "Changes from version 1 to version 2" in html
    assert 'data-added="photo"' in html and 'id="diagram-old"' in html
    library = client.get("/pathways").get_data(as_text=True)
    assert f"/pathways/{v2.id}/compare" in library and "Where patients are" in library


def test_the_editor_is_refused_an_oversized_file_with_a_clear_message(
    ward: dict[str, Any],  # noqa: F811
    client: Any,
    auth: Auth,
) -> None:
    draft, started_from, save = _editor(ward, client, auth)
    padding = "<!--" + "x" * (3 * 1024 * 1024) + "-->"
    response = save({"wound_care.bpmn": with_photo_task() + padding})
    assert response.status_code == 422
    assert "2 MB or smaller" in response.json["error"]["details"]["files"]
    assert db.session.get(type(draft), draft.id).sha256 == started_from  # nothing changed
