"""Template filters and globals: dates as NHS style writes them, role names, due tags."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, current_app, g
from flask_login import current_user

from mdt import clock
from mdt.clock import LONDON
from mdt.models.roles import role_label
from mdt.models.standards import STANDARDS
from mdt.services.notifications import unread_count
from mdt.services.pathways import DEFAULT_PATHWAY_KEY
from mdt.services.policy import may
from mdt.services.profiles import Profile, service_profile
from mdt.services.worklist import due_flag


def nhs_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return f"{value.day} {value:%B %Y}"


def nhs_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(LONDON)
    return f"{local.day} {local:%B %Y} at {local:%H:%M}"


def london_time(value: datetime) -> str:
    """The time of day in London, as a meeting's start is typed: '13:00'."""
    return f"{value.astimezone(LONDON):%H:%M}"


def short_date(day: str) -> str:
    """'2026-03-02' as '2 Mar 2026' (table headings)."""
    value = date.fromisoformat(day)
    return f"{value.day} {value:%b %Y}"


def month_label(month: str) -> str:
    """'2026-03' as 'Mar 2026'."""
    return date.fromisoformat(month + "-01").strftime("%b %Y")


def _service() -> Profile:
    """The default pathway's profile, read once per request however often the layout asks."""
    if "service_profile" not in g:
        g.service_profile = service_profile(DEFAULT_PATHWAY_KEY)
    return g.service_profile  # type: ignore[no-any-return]


def register_filters(app: Flask) -> None:
    app.add_template_filter(month_label, "month_label")
    app.add_template_filter(short_date, "short_date")
    app.add_template_filter(nhs_date, "nhs_date")
    app.add_template_filter(nhs_datetime, "nhs_datetime")
    app.add_template_filter(london_time, "london_time")
    app.add_template_filter(role_label, "role_label")

    @app.context_processor
    def _globals() -> dict:
        return {
            "STANDARDS": STANDARDS,
            # The layout's service name: the default pathway's title (read only when drawn),
            # and the default name of a new meeting series.
            "service_name": lambda: _service().title,
            "default_meeting_name": lambda: f"{_service().short_name} MDT".strip(),
            "today": clock.today(),
            "due_flag": lambda task: due_flag(
                task, clock.now(), current_app.config["MDT_DUE_SOON_DAYS"]
            ),
            "user_roles": sorted(current_user.roles) if current_user.is_authenticated else [],
            # The access policy, asked before a link is drawn: ``may('open_task', task)``.
            "may": lambda rule, *subject: (
                current_user.is_authenticated and may(current_user, rule, *subject)
            ),
            "unread_notifications": (
                unread_count(current_user.id) if current_user.is_authenticated else 0
            ),
        }
