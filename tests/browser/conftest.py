"""Browser tests: Playwright drives Debian's Chromium against a live server on 127.0.0.1.

Skipped, with the reason, where /usr/bin/chromium (or MDT_CHROMIUM) is absent.
Screenshots of every page visited go to artifacts/screenshots/ (ignored by git).
Wait with selectors (`locator("[data-x='y']").wait_for()`), never `wait_for_function`: when
it has to poll it evaluates a string with eval, which our Content-Security-Policy forbids.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("MDT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

pytestmark = pytest.mark.browser


def _buffered(app: Flask) -> Any:
    """Each response read whole and closed before it is sent. The development server leaves a
    static file open when the browser drops the connection mid-response (it navigated on),
    and the ResourceWarning the collector raises later fails whichever test is running."""

    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return wsgi


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, _buffered(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("MDT_REQUIRE_BROWSER"):
            pytest.fail(reason)  # CI installs it: a skip there would hide a broken set-up
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object, live_server: str) -> Iterator[object]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A request the browser aborted because the user moved on is not a fault.
    page.on(
        "requestfailed",
        lambda request: (
            None
            if "ERR_ABORTED" in (request.failure or "")
            else errors.append(f"failed: {request.url} {request.failure}")
        ),
    )
    # Pages may answer 400/409 on purpose (form errors); their assets never may.
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status}: {response.url}")
            if response.status >= 400 and response.request.resource_type != "document"
            else None
        ),
    )
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def shoot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _known_design_system_issue(rule: str, node: dict) -> bool:
    # nhsuk-frontend's own JavaScript sets aria-expanded on radios and checkboxes that
    # reveal conditional content (GOV.UK Frontend dropped this in 2023). It is the design
    # system's behaviour, not ours; only exactly that case is let through.
    html = node.get("html", "")
    return (
        rule == "aria-allowed-attr"
        and "aria-controls=" in html
        and ('type="radio"' in html or 'type="checkbox"' in html)
    )


def axe_violations(page: object) -> list[dict]:
    """Serious and critical accessibility violations found by axe-core on the current page."""
    page.add_script_tag(url="/vendor/axe-core/axe.min.js")  # type: ignore[attr-defined]
    result = page.evaluate("async () => await axe.run(document)")  # type: ignore[attr-defined]
    found = []
    for violation in result["violations"]:
        if violation["impact"] not in ("serious", "critical"):
            continue
        nodes = [
            n for n in violation["nodes"] if not _known_design_system_issue(violation["id"], n)
        ]
        if nodes:
            found.append(
                {
                    "id": violation["id"],
                    "impact": violation["impact"],
                    "nodes": [n["target"] for n in nodes][:3],
                }
            )
    return found


def sign_in(page: object, username: str, password: str) -> None:
    page.goto("/sign-in")  # type: ignore[attr-defined]
    page.get_by_label("Username").fill(username)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]


def fill_date(page: object, group: str, days_from_today: int = 0, within: object = None) -> None:
    """Type a date into the NHS.UK date input named ``group``, relative to today (the live
    server runs on the real clock, and forms refuse clinical dates in the future)."""
    from datetime import timedelta

    from mdt import clock

    day = clock.today() + timedelta(days=days_from_today)
    fieldset = (within or page).get_by_role("group", name=group)  # type: ignore[attr-defined]
    fieldset.get_by_label("Day").fill(str(day.day))
    fieldset.get_by_label("Month").fill(str(day.month))
    fieldset.get_by_label("Year").fill(str(day.year))
