"""A member of staff creates an API token for another system, sees it once, finds the API
description, and revokes the token."""

from __future__ import annotations

from ..conftest import PASSWORD
from .conftest import axe_violations, shoot, sign_in


def test_create_read_the_docs_and_revoke_a_token(page, pathway, make_user) -> None:
    make_user("manager", username="boss")
    sign_in(page, "boss", PASSWORD)
    page.get_by_role("link", name="(your account)").click()
    page.get_by_role("heading", name="Your account").wait_for()
    page.get_by_role("button", name="Create a token").click()  # no name yet
    page.get_by_role("heading", name="There is a problem").wait_for()
    page.get_by_label("Name of the new token").fill("Regional dashboard")
    page.get_by_role("button", name="Create a token").click()
    secret = page.locator("#new-token").inner_text()
    assert secret.startswith("mdt_")
    shoot(page, "account-token-created")
    assert axe_violations(page) == []

    page.get_by_role("link", name="pathway API").click()
    page.locator("#swagger-ui .opblock").first.wait_for()  # Swagger UI read our description
    shoot(page, "api-docs")

    page.get_by_role("link", name="(your account)").click()
    assert secret not in page.content()  # shown once only
    page.get_by_role("button", name="Revoke Regional dashboard").click()
    page.get_by_text("Token “Regional dashboard” revoked").wait_for()
    assert axe_violations(page) == []
