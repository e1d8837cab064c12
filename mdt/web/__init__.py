"""The web layer: thin views that authorise, parse, call one use case and render."""

from __future__ import annotations

from flask import Flask

from mdt.web import (
    admin,
    assets,
    audit,
    auth,
    errors,
    home,
    meetings,
    notifications,
    pathways,
    patients,
    reports,
    tasks,
)
from mdt.web.access import install_access_rules
from mdt.web.filters import register_filters
from mdt.web.security import install_security


def register_web(app: Flask) -> None:
    for module in (
        assets,
        auth,
        home,
        tasks,
        patients,
        meetings,
        pathways,
        notifications,
        audit,
        reports,
        admin,
    ):
        app.register_blueprint(module.bp)
    install_access_rules(app)
    install_security(app)
    errors.register(app)
    register_filters(app)
