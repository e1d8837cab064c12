"""A version published under yesterday's rules keeps running today's patients: the upload
rules added since (limits every form must declare, caps on loops and names) are checked when
a manager saves or publishes, not when a stored version is loaded to run a patient. Runtime
safety does not depend on them (the validator's own hard caps and the engine's limits)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import PathwayFileModel
from mdt.services import pathways
from mdt.services.actor import SYSTEM
from mdt.services.pathways import publish_files, read_pathway_directory
from workflows import PathwayInvalidError

from .conftest import ROOT
from .helpers import complete_with_examples, new_patient, ready_task, ready_tasks


def _strip_limits(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_limits(v) for k, v in schema.items() if k not in {"maxItems"}}
    if isinstance(schema, list):
        return [_strip_limits(v) for v in schema]
    return schema


def test_a_version_stored_before_a_new_upload_rule_still_runs(
    pathway: Any, make_user: Any, actor: Any
) -> None:
    coordinator = actor(make_user("coordinator"))
    patient = new_patient(coordinator, 0)
    # As if published before arrays had to declare maxItems: today's upload refuses it...
    files = db.session.scalars(
        select(PathwayFileModel).where(
            PathwayFileModel.pathway_version_id == pathway.id, PathwayFileModel.kind == "form"
        )
    ).all()
    stripped = 0
    for stored in files:
        schema = json.loads(stored.content)
        older = _strip_limits(schema)
        if older != schema:
            stored.content = json.dumps(older).encode()
            stripped += 1
    db.session.commit()
    assert stripped, "the shipped forms declare maxItems somewhere"
    bpmn, forms = read_pathway_directory(ROOT / "bpmn")
    older_forms = {
        name: json.dumps(_strip_limits(json.loads(body))).encode() for name, body in forms.items()
    }
    with pytest.raises(PathwayInvalidError, match="maxItems"):
        publish_files(SYSTEM, "older", "Older", bpmn, older_forms)
    # ...but the stored version loads and its patient goes on.
    pathways._engines.clear()
    complete_with_examples(coordinator, ready_task(patient.id, "Register secondary diagnosis"))
    assert ready_tasks(patient.id)
