"""Shared steps for app-level tests."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import HumanTaskModel, PatientModel, TaskStatus
from mdt.services.actor import SYSTEM, Actor
from mdt.services.demo import demo_nhs_numbers, example_answers
from mdt.services.instances import complete_task, start_pathway
from mdt.services.outside_meetings import DecidingClinician, OutsideMeeting, needs_declaration
from mdt.services.pathways import form_schema
from mdt.services.patients import register_patient
from mdt.web.access import PUBLIC

NHS_NUMBERS = demo_nhs_numbers()


def new_patient(actor: Actor, index: int = 0, start: bool = True, **kwargs: Any) -> PatientModel:
    return register_patient(
        actor,
        NHS_NUMBERS[index],
        kwargs.get("given", "Jo"),
        kwargs.get("family", f"Test{index}"),
        kwargs.get("born", date(1960, 1, 1 + index)),
        "Riverside Surgery",
        start=start,
    )


def start_on(actor: Actor, patient: PatientModel, key: str) -> None:
    start_pathway(actor, patient.id, key)


def ready_tasks(patient_id: int) -> list[HumanTaskModel]:
    return list(
        db.session.scalars(
            select(HumanTaskModel)
            .where(
                HumanTaskModel.patient_id == patient_id, HumanTaskModel.status == TaskStatus.READY
            )
            .order_by(HumanTaskModel.id)
        )
    )


def ready_task(patient_id: int, name: str) -> HumanTaskModel:
    matches = [t for t in ready_tasks(patient_id) if t.name == name]
    assert matches, f"{name!r} not ready; ready: {[t.name for t in ready_tasks(patient_id)]}"
    return matches[0]


# How tests that are about something else complete an MDT outcome away from a meeting.
DECIDED_OUTSIDE = OutsideMeeting(
    "Urgent decision between meetings",
    (DecidingClinician("Dr Amara Okafor", "oncology"), DecidingClinician("Sam Reid", "breast CNS")),
)


def complete(actor: Actor, task: HumanTaskModel, data: dict[str, Any]) -> HumanTaskModel:
    """Complete a task as the task page would; an MDT outcome is declared as decided outside
    a meeting (``DECIDED_OUTSIDE``): tests of meetings confirm outcomes at one instead."""
    outside = DECIDED_OUTSIDE if needs_declaration(task) else None
    return complete_task(actor, task.id, data, outside)


def complete_with_examples(actor: Actor, task: HumanTaskModel, **overrides: Any) -> None:
    """Complete with the form's example answers and these; ``Day(n)`` is a date from today,
    ``None`` leaves a question unanswered. An MDT outcome is decided outside a meeting."""
    from .scenarios import resolve

    schema = form_schema(task.instance.pathway_version, task.form) or {}
    staff_named(schema, resolve(overrides))
    answers = {**example_answers(schema), **resolve(overrides)}
    complete(actor, task, {k: v for k, v in answers.items() if v is not None})


def staff_named(schema: dict[str, Any], answers: dict[str, Any]) -> None:
    """A question answered with a member of staff (``x-user-role``, e.g. the key worker)
    accepts only an active account holding the role: tests about something else get one,
    named as the answer given (or "Key Worker" when the answer is left to the examples)."""
    from mdt.services.form_validation import USER_ROLE, role_holder_names
    from mdt.services.users import create_user

    for name, prop in schema.get("properties", {}).items():
        role = prop.get(USER_ROLE) if isinstance(prop, dict) else None
        if not role:
            continue
        wanted = answers.get(name) or "Key Worker"
        holders = role_holder_names(str(role))
        if (name in answers and wanted not in holders) or not holders:
            username = f"{role}-{len(holders) + 1}-{abs(hash(wanted)) % 10_000}"
            create_user(SYSTEM, username, str(wanted), [str(role)], "a long test password 1")


ROUTE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def route_requests(app: Flask, world: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every route and method but public ones, with ``world``
    giving a value for each URL argument; GETs first and signing out last."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or getattr(app.view_functions[rule.endpoint], PUBLIC, False):
            continue
        unknown = set(rule.arguments) - set(world)
        assert not unknown, f"give the access test a value for {unknown} ({rule.rule})"
        url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(world[m.group(1)]), rule.rule)
        found += [(rule.endpoint, m, url) for m in ROUTE_METHODS if m in (rule.methods or ())]
    return sorted(found, key=lambda r: (r[1] != "GET", r[0] == "auth.logout", r[2]))
