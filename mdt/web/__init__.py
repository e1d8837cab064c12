"""The web layer: thin views that authorise, parse, call one use case and render."""

from __future__ import annotations

from flask import Flask

from mdt.web import (
    account,
    admin,
    assets,
    audit,
    auth,
    caseloads,
    decision_tables,
    errors,
    form_designer,
    home,
    meetings,
    notifications,
    pas,
    pathways,
    patients,
    reports,
    tasks,
)
from mdt.web.access import install_access_rules
from mdt.web.api import register_api
from mdt.web.caching import install_caching
from mdt.web.filters import register_filters
from mdt.web.request_limits import install_request_limits
from mdt.web.security import install_security


def register_web(app: Flask) -> None:
    for module in (
        assets,
        auth,
        home,
        tasks,
        patients,
        caseloads,
        meetings,
        pas,
        pathways,
        form_designer,
        decision_tables,
        notifications,
        audit,
        reports,
        admin,
        account,
    ):
        app.register_blueprint(module.bp)
    register_api(app)
    install_access_rules(app)
    install_request_limits(app)  # before install_security: both read JSON bodies
    install_security(app)
    install_caching(app)
    errors.register(app)
    register_filters(app)
