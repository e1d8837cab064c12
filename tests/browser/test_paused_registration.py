"""The coordinator registers a patient on a pathway that cannot start; the manager hears of it
and starts it again once a corrected version is published. Every page checked with axe."""

from __future__ import annotations

from mdt.extensions import db
from mdt.models import InstanceStatus, PathwayInstanceModel

from ..conftest import PASSWORD
from ..helpers import NHS_NUMBERS
from ..test_registration_never_fails import _publish_broken, _publish_fixed
from .conftest import axe_violations, shoot, sign_in


def test_registration_survives_a_broken_pathway_and_the_manager_restarts_it(
    page, make_user
) -> None:
    broken = _publish_broken("script fails")
    make_user("coordinator", username="coord")
    make_user("manager", username="boss")
    db.session.commit()

    sign_in(page, "coord", PASSWORD)
    page.goto("/patients/new")
    page.get_by_label("NHS number").fill(NHS_NUMBERS[3])
    page.get_by_label("First name").fill("Zoë Łucja")
    page.get_by_label("Last name").fill("Nguyễn-王")
    page.get_by_label("Day").fill("3")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill("1961")
    page.get_by_role("button", name="Register").click()
    warning = page.locator(".nhsuk-warning-callout").first
    warning.wait_for()
    assert "could not start" in warning.inner_text()
    assert "Prepare the record" in warning.inner_text()
    assert axe_violations(page) == []
    shoot(page, "registration-paused")

    page.goto("/sign-out")
    sign_in(page, "boss", PASSWORD)
    page.goto("/notifications")
    assert axe_violations(page) == []
    shoot(page, "notification-paused")
    page.get_by_role("link", name="See paused pathways").click()
    page.get_by_role("button", name="Try again").wait_for()

    _publish_fixed()
    db.session.commit()
    page.get_by_role("button", name="Try again").click()
    page.get_by_text("The pathway is running again.").wait_for()
    db.session.expire_all()
    instance = db.session.scalars(db.select(PathwayInstanceModel)).one()
    assert instance.status == InstanceStatus.RUNNING and instance.pathway_version_id != broken.id
