"""Hostile text typed into every free-text field reaches every page, PDF and CSV as text.

A patient whose names, GP practice and every free-text answer on every form are script,
markup, template and spreadsheet-formula payloads is taken along the pathway, listed and
discussed at an MDT meeting whose name, room and attendees are payloads too. Then every GET
route of the URL map is requested with those objects: no page contains a payload unescaped,
every PDF renders with the payload as literal text, no CSV cell starts a formula.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from flask import Flask
from pypdf import PdfReader

from mdt.models.roles import Role
from mdt.services.actor import actor_for
from mdt.services.demo import example_answers
from mdt.services.errors import DomainError
from mdt.services.instances import complete_task
from mdt.services.meetings import (
    add_listing,
    candidates,
    confirm_outcome,
    create_series,
    record_attendance,
    schedule_next,
)
from mdt.services.pathways import form_schema
from mdt.services.patients import register_patient

from .conftest import Auth
from .helpers import NHS_NUMBERS, ready_task, ready_tasks, route_requests, staff_named
from .test_meetings import OUTCOME

SCRIPT = "<script>alert('given')</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
SVG = "<svg/onload=alert(2)>"
CLOSER = "</textarea></title><script>alert(3)</script>"
QUOTE = "' onmouseover='alert(4)"
TEMPLATE = "{{ 7*191 }}{% raw %}"  # 1337 would mean it ran
FORMULA = '=HYPERLINK("http://evil.example","x")'
# Payloads that would change the page if they appeared as they were typed.
MARKUP = (SCRIPT, ATTRIBUTE, SVG, CLOSER, "<img src=x onerror=alert(1)>")
ALL_ROLES = [r for r in Role if r != Role.ADMIN]


def _hostile_answers(schema: dict[str, Any], payload: str) -> dict[str, Any]:
    """Valid answers with every free-text field holding the payload."""
    answers = example_answers(schema)
    for name, prop in schema.get("properties", {}).items():
        if answers.get(name) == "Demo entry":
            answers[name] = payload[: prop.get("maxLength", len(payload))]
    return answers


def _walk_the_pathway(actor: Any, patient_id: int, payload: str, steps: int = 25) -> None:
    for _ in range(steps):
        tasks = ready_tasks(patient_id)
        if not tasks:
            return
        for task in tasks:
            schema = form_schema(task.instance.pathway_version, task.form) or {}
            answers = _hostile_answers(schema, payload)
            if task.bpmn_id == "register_diagnosis":
                answers.update(index_date="2026-11-02", sites=["C78.7"])
            try:
                complete_task(actor, task.id, answers)
            except DomainError:
                continue  # e.g. a task the meeting records; the rest still moves on


def _build(pathway: Any, make_user: Any, clock: Any) -> dict[str, Any]:
    everyone = actor_for(make_user(*ALL_ROLES, username="everyone"))
    patient = register_patient(
        everyone, NHS_NUMBERS[0], SCRIPT, ATTRIBUTE, date(1960, 1, 1),
        f"{TEMPLATE} {SVG}",
    )  # fmt: skip
    complete_task(
        everyone,
        ready_task(patient.id, "Register secondary diagnosis").id,
        {**_hostile_answers(_schema(patient.id, "Register secondary diagnosis"), CLOSER),
         "index_date": "2026-11-02", "sites": ["C78.7"]},
    )  # fmt: skip
    # The key worker is a nurse's account: one whose name is hostile.
    staff_named(_schema(patient.id, "Allocate a CNS key worker"), {"key_worker_name": SCRIPT})
    complete_task(
        everyone,
        ready_task(patient.id, "Allocate a CNS key worker").id,
        {**_hostile_answers(_schema(patient.id, "Allocate a CNS key worker"), QUOTE),
         "key_worker_name": SCRIPT},
    )  # fmt: skip
    complete_task(
        everyone,
        ready_task(patient.id, "List for MDT review").id,
        {**_hostile_answers(_schema(patient.id, "List for MDT review"), SVG),
         "clinical_question": f"{CLOSER} {TEMPLATE}"},
    )  # fmt: skip
    series = create_series(everyone, SCRIPT, 3, "13:00", ATTRIBUTE)
    meeting = schedule_next(everyone, series.id)
    waiting = candidates(meeting).tasks[0]
    listing = add_listing(everyone, meeting.id, waiting.id, "discussion", None, None)
    clock.move_to(meeting.starts_at)
    record_attendance(everyone, meeting.id, SCRIPT, "oncology", True, None)
    confirm_outcome(
        everyone, listing.id, {**OUTCOME, "recommendation": SCRIPT, "informs_patient": FORMULA,
                               "meeting_date": meeting.starts_at.date().isoformat()},
        CLOSER, None,
    )  # fmt: skip
    _walk_the_pathway(everyone, patient.id, ATTRIBUTE)
    make_user("admin", username="hostile-admin")
    return {
        "patient_id": patient.id,
        "task_id": ready_tasks(patient.id)[0].id if ready_tasks(patient.id) else waiting.id,
        "task_role": None,
        "meeting_id": meeting.id,
        "listing_id": listing.id,
        "attendance_id": meeting.attendance[0].id,
        "series_id": series.id,
        "version_id": pathway.id,
        "instance_id": waiting.instance_id,
        "user_id": everyone.user_id,
        "key": "is1_first_contact",
        "kind": "people",
        "name": "secondary_breast_cancer.bpmn",
        "token_id": 1,
        "notification_id": 1,
        "closing_id": 1,
        "nhs_number": patient.nhs_number,
    }


def _schema(patient_id: int, name: str) -> dict[str, Any]:
    task = ready_task(patient_id, name)
    return form_schema(task.instance.pathway_version, task.form) or {}


def _problems(url: str, response: Any) -> list[str]:
    if response.status_code >= 500:
        return [f"{url}: {response.status_code}"]
    body = response.get_data()
    if response.mimetype == "text/html":
        text = body.decode()
        found = [f"{url}: unescaped {p!r}" for p in MARKUP if p in text]
        return found + ([f"{url}: a template ran"] if "1337" in text else [])
    if response.mimetype == "application/pdf":
        PdfReader(io.BytesIO(body)).pages[0].extract_text()  # it is a readable PDF
        return []
    if response.mimetype == "text/csv":
        cells = [c for row in csv.reader(io.StringIO(body.decode())) for c in row]
        return [f"{url}: formula {c!r}" for c in cells if c[:1] in ("=", "+", "-", "@")]
    return []


def test_hostile_text_is_text_on_every_page_pdf_and_csv(
    app: Flask, pathway: Any, make_user: Any, client: Any, auth: Auth, clock: Any
) -> None:
    world = _build(pathway, make_user, clock)
    auth.login("everyone")
    problems, seen = [], {}
    for endpoint, method, url in route_requests(app, world):
        if method != "GET" or endpoint.startswith("admin."):
            continue
        response = client.get(url)
        seen[endpoint] = response
        problems += _problems(url, response)
    auth.login("hostile-admin")
    for url in ("/admin/users", f"/admin/users/{world['user_id']}"):
        problems += _problems(url, client.get(url))
    assert problems == []

    # The payloads were really there, shown as text.
    record = seen["patients.show"].get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;given&#39;)&lt;/script&gt;" in record
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in record.replace("&quot;", "&#34;")
    pages = [r.get_data(as_text=True) for r in seen.values() if r.mimetype == "text/html"]
    assert any("{{ 7*191 }}" in page for page in pages)
    assert "&lt;script&gt;" in seen["meetings.show"].get_data(as_text=True)
    plan = PdfReader(io.BytesIO(seen["patients.care_plan_pdf"].get_data()))
    assert SCRIPT in "".join(page.extract_text() for page in plan.pages)
