"""Sign-in, sessions, CSRF, headers and the audit search. Who may use each route is proven
route by route and role by role in test_access_matrix.py."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .conftest import Auth


def test_form_post_without_csrf_token_is_refused(make_user, client: FlaskClient) -> None:
    make_user("cns", username="nurse")
    response = client.post("/sign-in", data={"username": "nurse", "password": "x" * 20})
    assert response.status_code == 400
    assert "The form had expired" in response.get_data(as_text=True)


def test_sign_in_failure_shows_error_summary_and_keeps_username(make_user, auth: Auth) -> None:
    make_user("cns", username="nurse")
    response = auth.login("nurse", "wrong password!")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in page and 'value="nurse"' in page


def test_next_redirect_is_only_followed_within_the_site(make_user, client: FlaskClient) -> None:
    from .conftest import PASSWORD, csrf_token

    make_user("cns", username="nurse")
    token = csrf_token(client, "/sign-in")
    response = client.post(
        "/sign-in?next=//evil.example/x",
        data={"username": "nurse", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302 and response.location == "/"


def test_deactivated_user_cannot_sign_in(make_user, auth: Auth, actor) -> None:
    from mdt.services.actor import SYSTEM
    from mdt.services.users import set_active

    user = make_user("cns")
    set_active(SYSTEM, user.id, False)
    assert auth.login(user.username).status_code == 400


def test_security_headers_and_idle_session_expiry(client: FlaskClient, app: Flask) -> None:
    from datetime import timedelta

    response = client.get("/sign-in")
    csp = response.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert app.permanent_session_lifetime == timedelta(minutes=30)
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_no_inline_script_in_any_template() -> None:
    import re
    from pathlib import Path

    for template in (Path(__file__).resolve().parents[1] / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\son[a-z]+=\"", text), template.name  # onclick= and friends


def test_managers_search_the_audit_trail_and_the_search_is_audited(
    pathway, make_user, actor, auth: Auth, client: FlaskClient
) -> None:
    from sqlalchemy import select

    from mdt.extensions import db
    from mdt.models import AuditEventModel

    from .helpers import new_patient

    coordinator = make_user("coordinator", username="coord")
    patient = new_patient(actor(coordinator))
    make_user("manager", username="boss")
    auth.login("boss")
    page = client.get(f"/audit?patient={patient.nhs_number_spaced}").get_data(as_text=True)
    assert "patient.registered" in page and "coord" in page
    assert "signin.succeeded" not in page  # filtered to the patient
    searched = db.session.scalar(
        select(AuditEventModel).where(AuditEventModel.action == "audit.searched")
    )
    assert searched.detail["patient"] == patient.nhs_number_spaced
    client.post(
        "/sign-out",
        data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)},
    )
    auth.login("coord")
    assert client.get("/audit").status_code == 403


def test_repeated_failures_lock_the_account_and_every_attempt_is_audited(
    make_user, auth: Auth
) -> None:
    from sqlalchemy import select

    from mdt.extensions import db
    from mdt.models import AuditEventModel

    make_user("cns", username="nurse")
    for _ in range(5):
        assert auth.login("nurse", "not the password").status_code == 400
    response = auth.login("nurse")  # the right password, now too late
    page = response.get_data(as_text=True)
    # The locked account is told what anyone is told: nothing confirms that it exists.
    assert response.status_code == 400 and "Enter a correct username and password" in page
    assert "locked" not in page.lower()
    reasons = db.session.scalars(
        select(AuditEventModel.detail).where(AuditEventModel.action == "signin.failed")
    ).all()
    assert [r["reason"] for r in reasons] == ["password"] * 5 + ["locked"]


def test_audit_rows_cannot_be_changed_or_deleted(make_user, auth: Auth) -> None:
    """The application has no way to change an audit row; on PostgreSQL a trigger refuses
    it even to SQL run with the application's database role."""
    import sqlalchemy as sa

    from mdt.extensions import db
    from mdt.models import AuditEventModel
    from mdt.models.audit import AuditRowImmutableError

    make_user("cns", username="nurse")
    auth.login("nurse")
    row = db.session.scalars(sa.select(AuditEventModel)).first()
    row.action = "nothing.happened"
    with pytest.raises(AuditRowImmutableError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalars(sa.select(AuditEventModel)).first())
    with pytest.raises(AuditRowImmutableError):
        db.session.flush()
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                db.session.execute(sa.text(statement))
            db.session.rollback()


def test_many_failures_from_one_address_make_it_wait(app: Flask, make_user, auth: Auth) -> None:
    """Guessing across many accounts from one address: the per-account lockout cannot see
    it, the per-address limit does (counted from the audit trail, so every host agrees)."""
    limit = app.config["MDT_SIGNIN_FAILURES_PER_ADDRESS"]
    app.config["MDT_SIGNIN_FAILURES_PER_ADDRESS"] = 3
    try:
        make_user("cns", username="nurse")
        for name in ("alice", "bob", "carol"):
            assert auth.login(name, "a guessed password").status_code == 400
        response = auth.login("nurse")  # the right password, from the same address
        assert response.status_code == 429
        assert "Too many failed sign-ins from this network" in response.get_data(as_text=True)
    finally:
        app.config["MDT_SIGNIN_FAILURES_PER_ADDRESS"] = limit


def test_the_address_is_the_one_trusted_proxies_forwarded(monkeypatch) -> None:
    from mdt import create_app
    from mdt.web.access import public

    monkeypatch.setenv("MDT_TRUSTED_PROXIES", "1")
    proxied = create_app({"SECRET_KEY": "p" * 40, "TESTING": True})

    def address() -> str:
        from flask import request

        return request.remote_addr or ""

    proxied.add_url_rule("/_address", view_func=public(address))
    response = proxied.test_client().get("/_address", headers={"X-Forwarded-For": "10.1.2.3"})
    assert response.get_data(as_text=True) == "10.1.2.3"


def test_passwords_are_scrypt_hashed_and_at_least_twelve_characters(make_user) -> None:
    from mdt.services.actor import SYSTEM
    from mdt.services.errors import InvalidInputError
    from mdt.services.users import create_user

    assert make_user("cns").password_hash.startswith("scrypt:")
    with pytest.raises(InvalidInputError, match="at least 12 characters"):
        create_user(SYSTEM, "shorty", "Shorty", ["cns"], "elevenchars")


def test_production_session_cookies_are_secure(monkeypatch, tmp_path) -> None:
    from mdt import create_app

    monkeypatch.setenv("MDT_ENV", "production")
    monkeypatch.setenv("MDT_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("MDT_DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    production = create_app()
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production.config["MDT_ALLOW_TEST_NHS_NUMBERS"] is False
