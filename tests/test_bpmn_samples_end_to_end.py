"""Third-party BPMN files as a manager would use them, through the JSON API of the running
application: upload, validate, test run, publish, then register a patient on what was
published. Nothing answers 5xx, and no accepted file leaves a patient at a task nobody can do.

The files are under ../shared/bpmn-samples (never copied into the project); the test is
skipped where they are absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import HumanTaskModel, PathwayInstanceModel, TaskStatus
from mdt.models.roles import TASK_ROLES
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.demo import demo_nhs_numbers
from mdt.services.pathways import DEFAULT_PATHWAY_KEY

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "bpmn-samples"


def _samples() -> list[Path]:
    return sorted(SAMPLES.rglob("*.bpmn")) if SAMPLES.is_dir() else []


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None  # the API takes JSON text; a file that is not UTF-8 is refused before


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/bpmn-samples is not beside the project")
def test_every_sample_through_upload_validate_test_run_publish_and_registration(
    client: FlaskClient, make_user: Any
) -> None:
    def token(role: str) -> dict[str, str]:
        _, secret = create_token(SYSTEM, make_user(role).id, "samples")
        return {"Authorization": f"Bearer {secret}"}

    manager, coordinator = token("manager"), token("coordinator")
    numbers = iter(demo_nhs_numbers())
    server_errors, stranded = [], []
    outcomes = {"not saved": 0, "refused": 0, "test run refused": 0, "published": 0}
    for path in _samples():
        text = _text(path)
        if text is None:
            continue

        def call(
            method: str,
            url: str,
            body: Any = None,
            who: dict[str, str] = manager,
            name: str = path.name,
        ) -> Any:
            response = client.open(url, method=method, json=body, headers=who)
            if response.status_code >= 500:
                server_errors.append(f"{name}: {method} {url} -> {response.status_code}")
            return response

        draft = call(
            "POST",
            "/api/v1/pathways",
            {"key": DEFAULT_PATHWAY_KEY, "title": path.stem[:200],
             "files": [{"name": path.name, "content": text}]},
        )  # fmt: skip
        if draft.status_code != 201:
            outcomes["not saved"] += 1
            continue
        version_id = draft.json["id"]
        checked = call("POST", f"/api/v1/pathways/{version_id}/validate")
        call("POST", f"/api/v1/pathways/{version_id}/test-run")
        if not (checked.status_code == 200 and checked.json["valid"]):
            outcomes["refused"] += 1
            continue
        published = call(
            "POST", f"/api/v1/pathways/{version_id}/publish", {"confirm_warnings": True}
        )
        if published.status_code != 200:
            outcomes["test run refused"] += 1
            continue
        outcomes["published"] += 1
        registered = call(
            "POST",
            "/api/v1/patients",
            {"nhs_number": next(numbers), "given_name": "Sample",
             "family_name": path.stem[:100], "date_of_birth": "1961-02-03"},
            coordinator,
        )  # fmt: skip
        assert registered.status_code == 201, (path.name, registered.json)
        patient_id = registered.json["id"]
        db.session.expire_all()
        instance = db.session.scalar(
            select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == patient_id)
        )
        assert instance is not None, path.name  # the registration always has its pathway
        waiting = db.session.scalars(
            select(HumanTaskModel).where(
                HumanTaskModel.patient_id == patient_id,
                HumanTaskModel.status == TaskStatus.READY,
            )
        ).all()
        stranded += [f"{path.name}: {t.name!r}" for t in waiting if t.role not in TASK_ROLES]
    assert server_errors == []
    assert stranded == [], "accepted files left patients at tasks no role can do"
    # Most third-party files have no roles or forms for people's tasks: refused, with reasons.
    assert outcomes["published"] > 0 and outcomes["refused"] > 0, outcomes
