"""The MDT list's needs flags are what the pathway's concerns table decides (hna_concerns.dmn,
4 or more in every domain): one source. A manager who changes the table's threshold changes
the list; the profile holds no threshold, and the referral table's routing is not the list's."""

# The week's fixtures come from test_meetings; using them as arguments "redefines" them.
# ruff: noqa: F811

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from mdt.extensions import db
from mdt.models import MeetingModel
from mdt.services.actor import SYSTEM
from mdt.services.meetings import add_listing, candidates
from mdt.services.meetings.needs import needs_found
from mdt.services.pathways import compile_files, engine_for, publish_files, read_pathway_directory
from mdt.services.profiles import PROFILE_FILE, profile_for, profile_source
from workflows import PathwayInvalidError
from workflows.isolation import IsolatedEngine, stop_pools

from .conftest import ROOT
from .helpers import complete_with_examples, ready_task
from .test_meetings import monday, week  # noqa: F401

HNA = "holistic-needs-assessment.schema.json"
DISTRESS = "Distress 4 or more"
SCORES = {"distress": 5, "physical": 3, "practical": 2, "emotional": 1, "family": 0}

pytestmark = pytest.mark.clock


def _files(threshold: int = 4) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The shipped pathway; its concerns table's "4 or more" made ``threshold`` or more."""
    bpmn, forms = read_pathway_directory(ROOT / "bpmn")
    table = bpmn["hna_concerns.dmn"].decode()
    assert table.count("&gt;= 4") == 6  # one rule a domain
    bpmn["hna_concerns.dmn"] = table.replace("&gt;= 4", f"&gt;= {threshold}").encode()
    return bpmn, forms


def _publish(threshold: int) -> Any:
    return publish_files(
        SYSTEM, "secondary-breast-cancer", "Secondary breast cancer", *_files(threshold)
    )


def _assessed(answers: dict[str, Any]) -> list[Any]:
    return [SimpleNamespace(form=HNA, data={"offer": "01", **answers})]


def test_a_score_is_flagged_with_the_rules_of_the_table_it_meets(pathway: Any) -> None:
    found = needs_found(profile_for(pathway).needs, pathway, _assessed({**SCORES, "practical": 7}))
    assert [(s.label, s.value, s.flagged) for s in found.scores] == [
        ("Distress", 5, True),
        ("Physical", 3, False),
        ("Practical", 7, True),
        ("Emotional", 1, False),
        ("Family", 0, False),
    ]
    assert found.scores[0].rules == (DISTRESS,)
    assert found.rules == (DISTRESS, "Practical concern 4 or more")


def test_every_domain_scored_4_or_more_is_flagged_even_one_no_referral_rule_reads(
    pathway: Any,
) -> None:
    """Physical and spiritual scores decide no referral, yet 4 or more is a clinically
    significant concern the MDT must see; 3 is not one."""
    answers = {**SCORES, "distress": 3, "physical": 6, "spiritual": 8}
    found = needs_found(profile_for(pathway).needs, pathway, _assessed(answers))
    assert {s.label: s.rules for s in found.scores} == {
        "Distress": (),
        "Physical": ("Physical concern 4 or more",),
        "Practical": (),
        "Emotional": (),
        "Family": (),
        "Spiritual": ("Spiritual concern 4 or more",),
    }
    assert found.rules == ("Physical concern 4 or more", "Spiritual concern 4 or more")


def test_a_version_from_before_profiles_flags_with_the_borrowed_profile_s_table(
    app: Any,
) -> None:
    """Patients the safe policy keeps on a version from before profiles and decision tables
    borrow the newest profile; its decision task is run from the version it came from, so
    their list is flagged, not "could not be run"."""
    bpmn, forms = _files()
    old_bpmn = dict(bpmn)  # the old diagram had no concerns task (renamed here: not found)
    name = "holistic_needs_assessment.bpmn"
    old_bpmn[name] = bpmn[name].replace(b'"decide_concerns"', b'"decide_concerns_old"')
    old_forms = {n: c for n, c in forms.items() if n != PROFILE_FILE}
    old = publish_files(SYSTEM, "secondary-breast-cancer", "Old", old_bpmn, old_forms)
    new = _publish(4)
    assert profile_source(old).id == new.id
    found = needs_found(profile_for(old).needs, old, _assessed(SCORES))
    assert found.problem is None
    assert [s.label for s in found.scores if s.flagged] == ["Distress"]


def test_a_threshold_changed_in_the_table_changes_the_flags(pathway: Any) -> None:
    stricter = _publish(6)
    assert stricter.id != pathway.id
    needs = profile_for(stricter).needs
    assert needs is not None and not hasattr(needs, "threshold")
    found = needs_found(needs, stricter, _assessed({**SCORES, "family": 6}))
    assert [s.label for s in found.scores if s.flagged] == ["Family"]  # 5 is no longer
    assert found.rules == ("Family concern 4 or more",)  # its words, as written


def test_the_mdt_list_shows_what_the_table_decides(week, auth, client, make_user) -> None:
    """On the page: the shipped table flags a distress of 5 and a spiritual score of 8 (no
    referral rule reads it) with the rule each meets."""
    coordinator, nurse, patients, meeting_id = week
    complete_with_examples(
        nurse,
        ready_task(patients[0], "Holistic needs assessment"),
        offer="01",
        **SCORES,
        spiritual=8,
    )
    meeting = db.session.get(MeetingModel, meeting_id)
    assert meeting is not None
    listed = [
        add_listing(coordinator, meeting_id, task.id, "discussion", None, None)
        for task in candidates(meeting).tasks
    ]
    first = next(item for item in listed if item.patient_id == patients[0])
    auth.login(make_user("oncologist", username="onc", discipline="oncology").username)
    page = client.get(f"/meetings/listings/{first.id}").get_data(as_text=True)
    assert f'app-needs-flag">{DISTRESS}</strong>' in page
    assert 'app-needs-flag">Spiritual concern 4 or more</strong>' in page
    assert "What the pathway's decision table found" in page
    assert ">4 or more</strong>" not in page  # the profile's old flag, gone


def test_a_profile_keeps_no_threshold_and_names_a_task_that_applies_a_table(app: Any) -> None:
    bpmn, forms = _files()
    profile = json.loads(forms[PROFILE_FILE])
    needs = profile["mdt_list"]["needs"]
    for wrong, says in (
        ({**needs, "threshold": 4}, "Additional properties are not allowed ('threshold'"),
        ({**needs, "decision_task": "holistic_needs_assessment_task"}, "no business rule task"),
    ):
        profile["mdt_list"]["needs"] = wrong
        forms[PROFILE_FILE] = json.dumps(profile).encode()
        with pytest.raises(PathwayInvalidError) as refused:
            compile_files(bpmn, forms)
        assert says in str(refused.value), says


@pytest.fixture
def isolated(app: Flask) -> Iterator[None]:
    saved = {key: app.config[key] for key in app.config if key.startswith("MDT_ENGINE_")}
    app.config.update(MDT_ENGINE_ISOLATION=True, MDT_ENGINE_WORKERS=1)
    yield
    app.config.update(saved)
    stop_pools()


def test_the_table_runs_in_the_engine_workers_when_isolated(isolated: None, pathway: Any) -> None:
    assert isinstance(engine_for(pathway), IsolatedEngine)
    found = needs_found(profile_for(pathway).needs, pathway, _assessed(SCORES))
    assert [s.label for s in found.scores if s.flagged] == ["Distress"]
    failing: Any = SimpleNamespace(form=HNA, data={"offer": "01", "distress": "a lot"})
    broken = needs_found(profile_for(pathway).needs, pathway, [failing])
    assert broken.problem and broken.problem.startswith("The pathway's decision table could not")
    assert not any(s.flagged for s in broken.scores)
