"""The worklist: search by patient, filters by task, standard and due state, sortable
columns, bulk reassignment, the "Give to" list, and claims that cannot both succeed."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdt.extensions import db
from mdt.models import AuditEventModel, HumanTaskModel
from mdt.services.assignments import claim_task, colleagues_for, reassign_tasks
from mdt.services.errors import ConflictError, InvalidInputError
from mdt.services.worklist import WorklistQuery, worklist

from .conftest import Auth
from .helpers import complete_with_examples, new_patient, ready_task
from .scenarios import DIAGNOSIS
from .timing import LONDON

pytestmark = pytest.mark.clock

PEOPLE = [("Edith", "Cavell"), ("Élise", "Dupont"), ("Ada", "Lovelace")]


@pytest.fixture
def ward(clock, pathway, make_user, actor):
    """Tuesday 24 November 2026, 09:30: three patients waiting for the coordinators, two
    nurses and a third whose account is closed."""
    users = {
        "coord": make_user("coordinator", username="coord"),
        "nurse": make_user("cns", username="nurse"),
        "nurse2": make_user("cns", username="nurse2"),
        "gone": make_user("cns", username="gone"),
        "onc": make_user("oncologist", username="onc"),
    }
    users["gone"].active = False
    db.session.commit()
    patients = [
        new_patient(actor(users["nurse"]), i, given=g, family=f) for i, (g, f) in enumerate(PEOPLE)
    ]
    return users, patients


def _names(page) -> list[str]:
    return [task.patient.family_name for task in page.tasks]


def _list(actor, user, **query) -> object:
    return worklist(actor(user), WorklistQuery(**query), datetime.now(UTC), 2)


def test_search_finds_patients_by_name_in_any_order_and_nhs_number(ward, actor) -> None:
    users, _ = ward
    coord = users["coord"]
    assert sorted(_names(_list(actor, coord))) == ["Cavell", "Dupont", "Lovelace"]
    assert _names(_list(actor, coord, search="Cavell Edith")) == ["Cavell"]
    assert _names(_list(actor, coord, search="edi cav")) == ["Cavell"]  # partial, any case
    assert _names(_list(actor, coord, search="ELISE")) == ["Dupont"]  # accents folded
    assert _names(_list(actor, coord, search="999 000 001")) == ["Cavell"]  # from its start
    assert _names(_list(actor, coord, search="9990000026")) == ["Dupont"]
    assert _names(_list(actor, coord, search="%")) == []  # a wildcard is a character
    assert _names(_list(actor, coord, search="Nobody")) == []


def test_filters_by_task_standard_and_due_state(ward, actor, clock) -> None:
    users, (cavell, dupont, lovelace) = ward
    coordinator = actor(users["coord"])
    for patient in (cavell, dupont):
        complete_with_examples(
            coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
        )
    coord = users["coord"]
    allocate = _list(actor, coord, task_name="Allocate a CNS key worker")
    assert sorted(_names(allocate)) == ["Cavell", "Dupont"]
    assert "Allocate a CNS key worker" in allocate.task_names
    is2 = _list(actor, coord, standard="IS2")  # the key worker standard
    assert {t.name for t in is2.tasks} == {"Allocate a CNS key worker"}
    # Due states, on Tuesday 24 November at 09:30.
    now = datetime.now(UTC)
    tasks = {
        "overdue": ready_task(cavell.id, "Allocate a CNS key worker"),
        "today": ready_task(dupont.id, "Allocate a CNS key worker"),
        "week": ready_task(lovelace.id, "Register secondary diagnosis"),
        "none": ready_task(cavell.id, "List for MDT review"),
    }
    tasks["overdue"].due_at = now - timedelta(hours=1)
    tasks["today"].due_at = datetime(2026, 11, 24, 17, 0, tzinfo=LONDON)
    tasks["week"].due_at = datetime(2026, 11, 29, 23, 0, tzinfo=LONDON)  # Sunday night
    tasks["none"].due_at = None
    later = ready_task(dupont.id, "List for MDT review")
    later.due_at = datetime(2026, 11, 30, 9, 0, tzinfo=LONDON)  # next Monday
    db.session.commit()
    ids = {key: {t.id for t in _list(actor, coord, due=key).tasks} for key in tasks}
    assert ids["overdue"] == {tasks["overdue"].id}
    assert ids["today"] == {tasks["today"].id}
    assert ids["week"] == {tasks["today"].id, tasks["week"].id}
    assert tasks["none"].id in ids["none"] and later.id not in ids["none"]
    assert later.id not in ids["week"]


def test_sortable_columns_say_their_order(ward, auth: Auth, client: FlaskClient) -> None:
    auth.login("coord")
    page = client.get("/tasks?sort=patient").get_data(as_text=True)
    order = [page.index(name) for name in ("CAVELL", "DUPONT", "LOVELACE")]
    assert order == sorted(order)
    assert re.search(r'aria-sort="ascending">\s*<a class="app-sort" href="[^"]*">Patient', page)
    assert re.search(r'aria-sort="none">\s*<a class="app-sort" href="[^"]*">Due', page)
    assert re.search(r'href="/tasks\?[^"]*sort=patient&amp;order=desc"', page)  # turns it round
    backwards = client.get("/tasks?sort=patient&order=desc").get_data(as_text=True)
    order = [backwards.index(name) for name in ("CAVELL", "DUPONT", "LOVELACE")]
    assert order == sorted(order, reverse=True)
    assert 'aria-sort="descending"' in backwards
    assert client.get("/tasks?sort=received").status_code == 200
    searched = client.get("/tasks?q=lovelace").get_data(as_text=True)
    assert "LOVELACE" in searched and "CAVELL" not in searched
    assert 'value="lovelace"' in searched and "Clear search and filters" in searched
    assert "No tasks match" in client.get("/tasks?q=nobody").get_data(as_text=True)


@pytest.fixture
def nurse_tasks(ward, actor):
    """First contact for each of two patients: nurses' tasks, and the coordinators' own."""
    users, patients = ward
    coordinator = actor(users["coord"])
    tasks = []
    for patient in patients[:2]:
        complete_with_examples(
            coordinator, ready_task(patient.id, "Register secondary diagnosis"), **DIAGNOSIS
        )
        complete_with_examples(coordinator, ready_task(patient.id, "Allocate a CNS key worker"))
        tasks.append(ready_task(patient.id, "First contact with key worker"))
    return users, patients, tasks


def test_coordinators_give_several_tasks_at_once(nurse_tasks, auth: Auth, client) -> None:
    users, patients, tasks = nurse_tasks
    nurse2 = users["nurse2"]
    auth.login("coord")
    # Coordinators list any role's tasks to give them out.
    page = client.get("/tasks?view=team&role=cns").get_data(as_text=True)
    assert "Give selected to" in page and f'id="select-{tasks[0].id}"' in page
    assert ">Nurse2 (Clinical nurse specialist)<" in page and "Gone" not in page
    coordinator_task = ready_task(patients[2].id, "Register secondary diagnosis")
    mixed = auth.post(
        "/tasks/give?view=team&role=cns",
        {"task_ids": [tasks[0].id, coordinator_task.id], "user_id": nurse2.id},
        form_url="/tasks?view=team&role=cns",
    )
    text = mixed.get_data(as_text=True)
    assert mixed.status_code == 400 and "There is a problem" in text
    assert "Nothing was changed" in text and "Register secondary diagnosis" in text
    assert db.session.get(HumanTaskModel, tasks[0].id).assigned_to_id is None
    given = auth.post(
        "/tasks/give?view=team&role=cns",
        {"task_ids": [t.id for t in tasks], "user_id": nurse2.id},
        form_url="/tasks?view=team&role=cns",
    )
    assert given.status_code == 302 and given.location.endswith("/tasks?view=team&role=cns")
    for task in tasks:
        assert db.session.get(HumanTaskModel, task.id).assigned_to_id == nurse2.id
    audited = db.session.scalar(
        select(func.count())
        .select_from(AuditEventModel)
        .where(AuditEventModel.action == "task.reassigned")
    )
    assert audited == 2
    # "Assigned to me" counts them for the nurse they were given to.
    auth.login("nurse2")
    assert "Assigned to me (2)" in client.get("/tasks").get_data(as_text=True)
    # A nurse does not give tasks: no boxes to tick.
    assert "Give selected to" not in client.get("/tasks?view=team").get_data(as_text=True)


def test_bulk_reassignment_checks_the_colleague_and_the_tasks(nurse_tasks, actor) -> None:
    users, _, tasks = nurse_tasks
    coordinator = actor(users["coord"])
    with pytest.raises(InvalidInputError, match="active account"):
        reassign_tasks(coordinator, [t.id for t in tasks], users["gone"].id)
    with pytest.raises(InvalidInputError, match="Select the tasks"):
        reassign_tasks(coordinator, [], users["nurse"].id)
    complete_with_examples(actor(users["nurse"]), tasks[1])
    with pytest.raises(ConflictError, match="Nothing was changed"):
        reassign_tasks(coordinator, [t.id for t in tasks], users["nurse2"].id)
    assert db.session.get(HumanTaskModel, tasks[0].id).assigned_to_id is None


def test_give_to_offers_everyone_active_who_holds_the_role(
    nurse_tasks, auth: Auth, client: FlaskClient, actor
) -> None:
    users, _, tasks = nurse_tasks
    claim_task(actor(users["nurse"]), tasks[0].id)
    assert [u.username for u in colleagues_for("cns")] == ["nurse", "nurse2"]
    auth.login("coord")
    page = client.get(f"/tasks/{tasks[0].id}").get_data(as_text=True)
    offered = re.findall(r'<option value="\d+"(?: selected)?>([^<]+)</option>', page)
    assert {"Nurse", "Nurse2"} <= set(offered) and "Gone" not in offered


@pytest.mark.parametrize("attempt", range(3))
def test_simultaneous_claims_one_wins_the_other_is_told_who(
    nurse_tasks, app: Flask, actor, attempt: int
) -> None:
    users, _, tasks = nurse_tasks
    task_id = tasks[0].id
    claimants = [actor(users["nurse"]), actor(users["nurse2"])]
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def claim(who) -> None:
        with app.app_context():
            db.session.get(HumanTaskModel, task_id)  # both have read it unclaimed
            barrier.wait()
            try:
                claim_task(who, task_id)
                outcomes[who.username] = "claimed"
            except ConflictError as error:
                outcomes[who.username] = str(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=claim, args=(who,)) for who in claimants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()).count("claimed") == 1, outcomes
    winner = next(name for name, result in outcomes.items() if result == "claimed")
    loser = next(name for name in outcomes if name != winner)
    assert outcomes[loser] in (
        f"{winner.title()} has just taken this task.",
        f"{winner.title()} is already doing this task.",
    )
    db.session.expire_all()
    holder = db.session.get(HumanTaskModel, task_id).assigned_to
    assert holder is not None and holder.username == winner


def test_a_claim_that_lost_the_race_is_refused_with_the_winners_name(
    nurse_tasks, app: Flask, actor
) -> None:
    """The second claimant read the task before the first claim was committed: the
    conditional update finds it taken and names who took it."""
    users, _, tasks = nurse_tasks
    task_id = tasks[0].id
    stale = db.session.get(HumanTaskModel, task_id)
    assert stale.assigned_to_id is None

    def first() -> None:
        with app.app_context():
            claim_task(actor(users["nurse"]), task_id)
            db.session.remove()

    thread = threading.Thread(target=first)
    thread.start()
    thread.join(timeout=60)
    assert stale.assigned_to_id is None  # this session still holds what it read
    with pytest.raises(ConflictError, match="Nurse has just taken this task"):
        claim_task(actor(users["nurse2"]), task_id)
