"""A manager creates a new pathway from nothing in the library: a draft with a starter
diagram opens in the editor; a key already used, or malformed, is refused on the page."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, PathwayStatus, PathwayVersionModel
from mdt.services.pathways import compile_files

from .conftest import Auth


def test_a_manager_creates_a_pathway_and_its_draft_opens_in_the_editor(
    pathway: Any, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    make_user("manager", username="boss")
    auth.login("boss")
    assert "Create a new pathway" in client.get("/pathways").get_data(as_text=True)
    response = auth.post(
        "/pathways/new",
        {"title": "Chemotherapy toxicity <follow-up>", "key": "chemo-toxicity"},
        form_url="/pathways",
    )
    assert response.status_code == 302
    draft = db.session.scalar(
        select(PathwayVersionModel).where(PathwayVersionModel.key == "chemo-toxicity")
    )
    assert draft is not None and draft.status == PathwayStatus.DRAFT and draft.version == 1
    assert response.headers["Location"].endswith(f"/pathways/{draft.id}/edit")
    [diagram] = draft.files
    assert diagram.name == "chemo_toxicity.bpmn" and diagram.kind == "bpmn"
    # The starter is a real diagram the engine reads (drawn, with the title escaped).
    compiled = compile_files({diagram.name: diagram.content}, {})
    assert compiled.process_id == "chemo_toxicity"
    assert b"Chemotherapy toxicity &lt;follow-up&gt;" in diagram.content
    assert b"BPMNShape" in diagram.content
    saved = db.session.scalar(
        select(AuditEventModel).where(AuditEventModel.action == "pathway.draft_saved")
    )
    assert saved is not None and saved.detail["key"] == "chemo-toxicity"
    assert "Chemotherapy toxicity" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_a_used_or_malformed_key_is_refused_on_the_page(
    pathway: Any, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    make_user("manager", username="boss")
    auth.login("boss")
    used = auth.post(
        "/pathways/new",
        {"title": "Again", "key": "secondary-breast-cancer"},
        form_url="/pathways",
    )
    assert used.status_code == 400
    assert "There is already a pathway &#39;secondary-breast-cancer&#39;" in used.get_data(
        as_text=True
    )
    bad = auth.post("/pathways/new", {"title": "", "key": "Bad Key"}, form_url="/pathways")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "There is a problem" in page
    assert "Use 2 to 80 lower-case letters" in page and "Enter a title" in page
    assert (
        db.session.scalar(
            select(PathwayVersionModel.id).where(PathwayVersionModel.status == PathwayStatus.DRAFT)
        )
        is None
    )


def test_only_managers_create_pathways(make_user: Any, auth: Auth, client: FlaskClient) -> None:
    make_user("coordinator", username="coord")
    auth.login("coord")
    assert "Create a new pathway" not in client.get("/pathways").get_data(as_text=True)
    response = auth.post("/pathways/new", {"title": "X", "key": "x-y"}, form_url="/pathways")
    assert response.status_code == 403
