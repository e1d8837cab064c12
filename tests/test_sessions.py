"""Sessions, personal tokens and sign-in, as an attacker tried them (issue 24).

Each test reproduces one attack seen against the product and shows it now fails: a cookie
captured before sign-out, sessions and tokens outliving a password reset or a deactivation,
sessions that never end, tokens that never expire and can do everything, parallel guesses
outrunning the lockout, and answers that tell which accounts exist.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun.api import FrozenDateTimeFactory
from sqlalchemy import select, update

from mdt import clock
from mdt.extensions import db
from mdt.models import ApiTokenModel, AuditEventModel, SessionModel, UserModel
from mdt.services import users as users_service
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.errors import InvalidInputError, SignInError
from mdt.services.sessions import live_session
from mdt.services.users import LOCKOUT_AFTER, reset_password, set_active, sign_in

from .conftest import PASSWORD, Auth, csrf_token

FAILED = "Enter a correct username and password"


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def _cookie_contents(app: Flask, value: str) -> dict[str, Any]:
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return dict(serializer.loads(value))


def _signed_in(client: FlaskClient) -> bool:
    response = client.get("/account")
    return response.status_code == 200


def _sessions(username: str) -> list[SessionModel]:
    user = db.session.scalar(select(UserModel).where(UserModel.username == username))
    return list(
        db.session.scalars(
            select(SessionModel).where(SessionModel.user_id == user.id).order_by(SessionModel.id)
        )
    )


def _sign_out(client: FlaskClient) -> None:
    token = csrf_token(client, "/account")
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302


def test_a_cookie_captured_before_sign_out_is_refused(
    app: Flask, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    user = make_user("cns", username="nurse")
    assert auth.login("nurse").status_code == 302
    assert _signed_in(client)
    captured = _cookie(client)
    # The cookie names a server-side session; it holds no user id, only the session's
    # secret (and the CSRF token).
    contents = _cookie_contents(app, captured)
    assert set(contents) <= {"_user_id", "csrf_token", "_permanent", "_flashes"}
    assert contents["_user_id"] != str(user.id) and len(contents["_user_id"]) >= 40
    [record] = _sessions("nurse")
    assert record.secret_hash != contents["_user_id"] and record.ended_at is None

    _sign_out(client)
    [record] = _sessions("nurse")
    assert record.ended_at is not None and record.end_reason == "signed out"

    thief = app.test_client()
    thief.set_cookie("session", captured)
    response = thief.get("/account")
    assert response.status_code == 302 and "/sign-in" in response.location
    assert thief.get("/api/v1/pathways").status_code == 401  # nor through the API


def test_the_cookie_is_not_reissued_on_every_response(
    make_user: Any, auth: Auth, client: FlaskClient, clock: FrozenDateTimeFactory
) -> None:
    make_user("cns", username="nurse")
    auth.login("nurse")
    client.get("/account")  # the page's CSRF token is made once and kept in the cookie
    for _ in range(3):
        clock.tick(timedelta(seconds=10))
        response = client.get("/account")
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers  # nothing changed, nothing re-issued
    [record] = _sessions("nurse")
    seen = record.last_seen_at
    clock.tick(timedelta(minutes=2))  # last seen moves on at most once a minute...
    response = client.get("/account")
    assert "Set-Cookie" in response.headers  # ...and the cookie's own lifetime with it
    db.session.expire_all()
    [record] = _sessions("nurse")
    assert record.last_seen_at > seen
    assert "Set-Cookie" not in client.get("/account").headers


def test_a_password_reset_by_an_administrator_ends_sessions_and_tokens(
    app: Flask, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    nurse = make_user("cns", username="nurse")
    make_user("admin", username="root")
    auth.login("nurse")
    _, secret = create_token(SYSTEM, nurse.id, "EPR")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/pathways", headers=bearer).status_code == 200

    admin = Auth(app.test_client())
    admin.login("root")
    response = admin.post(f"/admin/users/{nurse.id}/password", form_url="/admin/users")
    assert response.status_code == 302

    assert not _signed_in(client)  # the nurse's browser is signed out
    assert client.get("/api/v1/pathways", headers=bearer).status_code == 401
    [record] = _sessions("nurse")
    assert record.end_reason == "password reset"
    token = db.session.scalar(select(ApiTokenModel).where(ApiTokenModel.user_id == nurse.id))
    assert token.revoked_at is not None and token.revoked_reason == "password reset"
    reset = db.session.scalar(
        select(AuditEventModel).where(AuditEventModel.action == "user.password_reset")
    )
    assert reset.detail == {"sessions_ended": 1, "tokens_revoked": 1}
    # Signing in again with the new password is a new session; the account page says why
    # the old token stopped.
    assert _signed_in(admin.client)


def test_a_password_reset_from_the_command_line_ends_sessions_too(
    make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    nurse = make_user("cns", username="nurse")
    auth.login("nurse")
    assert _signed_in(client)
    new_password = reset_password(SYSTEM, nurse.id)
    assert not _signed_in(client)
    assert auth.login("nurse", new_password).status_code == 302
    assert _signed_in(client)
    page = client.get("/account").get_data(as_text=True)
    assert "Your account" in page


def test_changing_your_own_password_ends_your_other_sessions_and_tokens(
    app: Flask, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    nurse = make_user("cns", username="nurse")
    auth.login("nurse")
    laptop = Auth(app.test_client())
    laptop.login("nurse")
    _, secret = create_token(SYSTEM, nurse.id, "EPR")
    bearer = {"Authorization": f"Bearer {secret}"}
    new = "a brand new passphrase"
    refused = auth.post(
        "/account/password",
        {"current_password": "not it at all", "new_password": new, "confirm_password": new},
        "/account",
    )
    assert refused.status_code == 400
    assert "Enter your current password correctly" in refused.get_data(as_text=True)
    short = auth.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
        "/account",
    )
    assert short.status_code == 400 and "at least 12 characters" in short.get_data(as_text=True)
    assert _signed_in(laptop.client)

    changed = auth.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": new, "confirm_password": new},
        "/account",
    )
    assert changed.status_code == 302
    assert _signed_in(client)  # this browser carries on, in a new session
    assert not _signed_in(laptop.client)  # every other session ended
    assert client.get("/api/v1/pathways", headers=bearer).status_code == 401
    assert [s.end_reason for s in _sessions("nurse")] == ["password reset"] * 2 + [None]
    assert Auth(app.test_client()).login("nurse", new).status_code == 302
    actions = db.session.scalars(
        select(AuditEventModel.action).where(AuditEventModel.action.like("user.password%"))
    ).all()
    assert actions == ["user.password_change_refused", "user.password_changed"]


def test_deactivation_ends_sessions_and_tokens_and_reactivation_revives_neither(
    app: Flask, make_user: Any, auth: Auth, client: FlaskClient
) -> None:
    nurse = make_user("cns", username="nurse")
    make_user("admin", username="root")
    auth.login("nurse")
    _, secret = create_token(SYSTEM, nurse.id, "EPR")
    bearer = {"Authorization": f"Bearer {secret}"}
    admin = Auth(app.test_client())
    admin.login("root")
    admin.post(f"/admin/users/{nurse.id}/active", {"active": "false"}, form_url="/admin/users")
    assert not _signed_in(client)
    assert client.get("/api/v1/pathways", headers=bearer).status_code == 401

    set_active(SYSTEM, nurse.id, True)
    assert not _signed_in(client)  # the old cookie stays dead
    assert client.get("/api/v1/pathways", headers=bearer).status_code == 401
    assert [s.end_reason for s in _sessions("nurse")] == ["deactivated"]


def test_an_idle_session_ends(
    app: Flask, make_user: Any, auth: Auth, client: FlaskClient, clock: FrozenDateTimeFactory
) -> None:
    make_user("cns", username="nurse")
    auth.login("nurse")
    secret = _cookie_contents(app, _cookie(client))["_user_id"]
    clock.tick(timedelta(minutes=29))
    assert _signed_in(client)  # activity keeps it going
    clock.tick(timedelta(minutes=31))
    assert not _signed_in(client)
    # The server decides, whatever the cookie says: the record is idle and now ended.
    assert live_session(secret, idle=timedelta(minutes=30), longest=timedelta(hours=12)) is None
    [record] = _sessions("nurse")
    assert record.end_reason == "idle"


def test_a_session_ends_after_the_absolute_limit_however_active(
    app: Flask, make_user: Any, auth: Auth, client: FlaskClient, clock: FrozenDateTimeFactory
) -> None:
    assert app.config["MDT_SESSION_MAX_HOURS"] == 12
    make_user("cns", username="nurse")
    auth.login("nurse")
    for _ in range(12 * 60 // 25):  # a request every 25 minutes for almost 12 hours
        clock.tick(timedelta(minutes=25))
        assert _signed_in(client)
    clock.tick(timedelta(minutes=25))  # 12 hours and 5 minutes after signing in
    assert not _signed_in(client)
    [record] = _sessions("nurse")
    assert record.end_reason == "expired"


def _coordinator_token(
    make_user: Any, scope: str, days: int = 90, role: str = "coordinator"
) -> dict[str, str]:
    user = make_user(role)
    _, secret = create_token(SYSTEM, user.id, f"{scope} token", days=days, scope=scope)
    return {"Authorization": f"Bearer {secret}"}


def test_a_read_token_cannot_write(make_user: Any, client: FlaskClient) -> None:
    read = _coordinator_token(make_user, "read")
    write = _coordinator_token(make_user, "write")
    assert client.get("/api/v1/patients", headers=read).status_code == 200
    manager = _coordinator_token(make_user, "read", role="manager")
    for method, url, bearer in [
        ("POST", "/api/v1/patients", read),
        ("PUT", "/api/v1/pathways/1/files", manager),
        ("POST", "/api/v1/pathways", manager),
    ]:
        response = client.open(url, method=method, json={}, headers=bearer)
        assert response.status_code == 403, url
        error = response.get_json()["error"]
        assert error["code"] == "forbidden" and "may only read" in error["message"]
    # The same request with a read-and-write token reaches the API (and is refused only for
    # its missing data).
    assert client.post("/api/v1/patients", json={}, headers=write).status_code == 422
    reasons = db.session.scalars(
        select(AuditEventModel.detail).where(AuditEventModel.action == "token.refused")
    ).all()
    assert [r["reason"] for r in reasons] == ["read only"] * 3


def test_an_expired_token_is_refused(
    make_user: Any, client: FlaskClient, clock: FrozenDateTimeFactory
) -> None:
    bearer = _coordinator_token(make_user, "write", days=30)
    clock.tick(timedelta(days=29, hours=23))
    assert client.get("/api/v1/patients", headers=bearer).status_code == 200
    clock.tick(timedelta(hours=2))
    assert client.get("/api/v1/patients", headers=bearer).status_code == 401
    refused = db.session.scalar(
        select(AuditEventModel.detail).where(AuditEventModel.action == "token.refused")
    )
    assert refused["reason"] == "expired"


def test_tokens_are_made_with_a_lifetime_and_a_scope(
    make_user: Any, auth: Auth, client: FlaskClient, clock: FrozenDateTimeFactory
) -> None:
    user = make_user("cns", username="nurse")
    with pytest.raises(InvalidInputError) as refused:
        create_token(SYSTEM, user.id, "EPR", days=3650)
    assert "days" in refused.value.errors
    with pytest.raises(InvalidInputError):
        create_token(SYSTEM, user.id, "EPR", scope="admin")

    auth.login("nurse")
    page = client.get("/account").get_data(as_text=True)
    assert 'name="scope" type="radio" value="read" checked' in page  # least power by default
    assert 'name="days" type="radio" value="90" checked' in page
    made = auth.post(
        "/account/tokens", {"name": "Dashboard", "days": "365", "scope": "write"}, "/account"
    )
    assert made.status_code == 200 and 'id="new-token">mdt_' in made.get_data(as_text=True)
    token = db.session.scalar(select(ApiTokenModel).where(ApiTokenModel.name == "Dashboard"))
    assert token.scope == "write" and token.expires_at - token.created_at == timedelta(days=365)
    bad = auth.post("/account/tokens", {"name": "X", "days": "7", "scope": "read"}, "/account")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Select how long the token lasts" in page
    assert 'value="X"' in page  # the input is kept
    made = auth.post("/account/tokens", {"name": "Reader"}, "/account")  # the defaults
    token = db.session.scalar(select(ApiTokenModel).where(ApiTokenModel.name == "Reader"))
    assert token.scope == "read" and token.expires_at - token.created_at == timedelta(days=90)
    clock.tick(timedelta(days=91))
    auth.login("nurse")
    page = client.get("/account").get_data(as_text=True)
    assert "Expired" in page  # the 90-day token is listed as expired


def _count_checks(monkeypatch: pytest.MonkeyPatch, delay: float = 0.0) -> list[str]:
    """Record every password hash checked at sign-in (the hash it was checked against)."""
    checked: list[str] = []
    lock = threading.Lock()
    real = users_service.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        with lock:
            checked.append(pwhash)
        if delay:
            threading.Event().wait(delay)  # hold the race window open, as a slow hash does
        return real(pwhash, password)

    monkeypatch.setattr(users_service, "check_password_hash", counting)
    return checked


def test_parallel_wrong_passwords_make_at_most_five_checks_before_the_lock(
    app: Flask, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """25 wrong passwords at once (the attack made 21 checks): at most five reach the
    account's hash, the account is locked, and all 25 are told the same thing."""
    user = make_user("cns", username="nurse")
    real_hash = user.password_hash
    checked = _count_checks(monkeypatch, delay=0.05)
    answers: list[str] = []
    start = threading.Barrier(25)

    def guess(number: int) -> None:
        with app.app_context():
            start.wait()
            try:
                sign_in("nurse", f"guess number {number}", f"10.0.0.{number}")
            except SignInError as error:
                answers.append(str(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == 25 and set(answers) == {FAILED}
    assert checked.count(real_hash) <= LOCKOUT_AFTER
    assert len(checked) == 25  # every guess did the same work, against a dummy if need be
    db.session.expire_all()
    locked = db.session.get(UserModel, user.id)
    assert locked.is_locked
    with pytest.raises(SignInError, match=FAILED):
        sign_in("nurse", PASSWORD, "10.0.1.1")  # the right password, now too late


def test_a_right_password_clears_a_lock_set_while_it_was_checked(
    make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same person signing in on several devices at once (or the load test's clients):
    parallel claims can reach the limit and lock the account after this sign-in read it. The
    success clears that lock by statement, so the account is usable straight after (an ORM
    write of values that looked unchanged left it locked for 15 minutes)."""
    user = make_user("cns", username="nurse")
    real_check = users_service.check_password_hash
    locked_meanwhile: list[bool] = []

    def check_while_others_claim(stored: str, given: str) -> bool:
        if stored == user.password_hash and not locked_meanwhile:
            with db.engine.begin() as other:  # the parallel claims, on their own connection
                other.execute(
                    update(UserModel)
                    .where(UserModel.id == user.id)
                    .values(
                        failed_sign_ins=LOCKOUT_AFTER,
                        locked_until=clock.now() + timedelta(minutes=15),
                    )
                )
            locked_meanwhile.append(True)
        return real_check(stored, given)

    monkeypatch.setattr(users_service, "check_password_hash", check_while_others_claim)
    sign_in("nurse", PASSWORD, "10.0.2.1")
    assert locked_meanwhile
    db.session.expire_all()
    assert not db.session.get(UserModel, user.id).is_locked
    sign_in("nurse", PASSWORD, "10.0.3.1")


def test_unknown_locked_and_existing_accounts_get_the_same_answer_after_the_same_work(
    make_user: Any, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("cns", username="nurse")
    gone = make_user("cns", username="leaver")
    set_active(SYSTEM, gone.id, False)
    checked = _count_checks(monkeypatch)
    answers = {}
    for username in ("nurse", "nobody-by-this-name", "leaver"):
        response = auth.login(username, "a wrong password")
        answers[username] = (response.status_code, _error_text(response))
    assert len(checked) == 3  # a hash is checked for the unknown and inactive ones too
    for _ in range(LOCKOUT_AFTER - 1):
        auth.login("nurse", "a wrong password")
    checked.clear()
    response = auth.login("nurse", PASSWORD)  # locked: right password, same answer
    answers["nurse (locked)"] = (response.status_code, _error_text(response))
    assert len(checked) == 1  # ...after the same work
    assert set(answers.values()) == {(400, FAILED)}
    assert "locked" not in response.get_data(as_text=True).lower()


def _error_text(response: Any) -> str:
    page = response.get_data(as_text=True)
    return page.split('nhsuk-error-summary__list">')[1].split("</a>")[0].split(">")[-1].strip()


def test_administrators_see_the_lock(make_user: Any, app: Flask) -> None:
    make_user("cns", username="nurse")
    make_user("admin", username="root")
    nurse = Auth(app.test_client())
    for _ in range(LOCKOUT_AFTER):
        nurse.login("nurse", "a wrong password")
    admin = Auth(app.test_client())
    admin.login("root")
    page = admin.client.get("/admin/users").get_data(as_text=True)
    rows = {r.split('"nhsuk-body-s">')[1].split("<")[0]: r for r in page.split("<tr")[2:]}
    assert "Locked" in rows["nurse"] and "Resetting the password unlocks it" in rows["nurse"]
    assert "Locked" not in rows["root"]


def test_each_sign_in_is_its_own_session(make_user: Any, app: Flask) -> None:
    """Two browsers, two sessions: signing out of one leaves the other signed in."""
    make_user("cns", username="nurse")
    first, second = Auth(app.test_client()), Auth(app.test_client())
    first.login("nurse")
    second.login("nurse")
    _sign_out(first.client)
    assert not _signed_in(first.client) and _signed_in(second.client)
    assert [s.end_reason for s in _sessions("nurse")] == ["signed out", None]
