"""What a pathway calls its episodes is in its profile (``episode_labels``), not in code."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import EpisodeModel
from mdt.services.actor import SYSTEM
from mdt.services.pathways import compile_files, engine_for, publish_files, read_pathway_directory
from mdt.services.profiles import PROFILE_FILE
from mdt.services.standards_report import cohorts
from workflows import PathwayInvalidError

from .conftest import ROOT
from .helpers import new_patient


def _files(labels: dict[str, str] | None) -> tuple[dict[str, bytes], dict[str, bytes]]:
    bpmn, forms = read_pathway_directory(ROOT / "bpmn")
    profile = json.loads(forms[PROFILE_FILE])
    if labels is None:
        profile.pop("episode_labels")
    else:
        profile["episode_labels"] = labels
    forms[PROFILE_FILE] = json.dumps(profile).encode()
    return bpmn, forms


def _first_label(actor: Any, index: int) -> str:
    patient = new_patient(actor, index)
    return db.session.scalars(
        select(EpisodeModel.label).where(EpisodeModel.patient_id == patient.id)
    ).one()


@pytest.mark.parametrize(
    ("labels", "first", "progression"),
    [
        (None, "Diagnosis", "Disease progression"),  # the kind; the event's label
        ({"diagnosis": "First referral", "progression": "Relapse"}, "First referral", "Relapse"),
    ],
)
def test_the_profile_names_the_episodes(
    pathway: Any, make_user: Any, actor: Any, labels: Any, first: str, progression: str
) -> None:
    coordinator = actor(make_user("coordinator"))
    assert _first_label(coordinator, 0) == "New secondary diagnosis"  # the shipped profile's
    version = publish_files(SYSTEM, pathway.key, pathway.title, *_files(labels))
    assert engine_for(version).pathway.first_episode == "diagnosis"
    assert _first_label(coordinator, 1) == first
    found = cohorts(pathway.key)
    assert found["diagnosis"] == first and found["progression"] == progression


def test_a_label_for_an_episode_the_pathway_lacks_is_refused(app: Any) -> None:
    with pytest.raises(PathwayInvalidError) as refused:
        compile_files(*_files({"relapse": "Relapse"}))
    assert "episode_labels: the pathway has no episode of kind 'relapse'." in str(refused.value)
