"""The settings use cases need, read in one place from the running app's config."""

from __future__ import annotations

from flask import current_app


def setting(name: str) -> object:
    return current_app.config[name]
