"""Front-end packages installed from npm (package.json), served from node_modules."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory
from werkzeug.wrappers import Response

from mdt.web.access import public

bp = Blueprint("assets", __name__)

# URL prefix -> folder inside node_modules. Only these folders are served.
PACKAGES = {
    "nhsuk": "nhsuk-frontend/dist/nhsuk",
    "bpmn-js": "bpmn-js/dist",
    "axe-core": "axe-core",
}


@bp.get("/vendor/<package>/<path:filename>")
@public
def vendor(package: str, filename: str) -> Response:
    folder = PACKAGES.get(package)
    if folder is None:
        abort(404)
    root = Path(current_app.config["MDT_NODE_MODULES"]) / folder
    return send_from_directory(root, filename, max_age=3600)


@bp.get("/assets/<path:filename>")
@public
def nhsuk_assets(filename: str) -> Response:
    # nhsuk-frontend's CSS refers to its icons as /assets/...
    root = Path(current_app.config["MDT_NODE_MODULES"]) / PACKAGES["nhsuk"] / "assets"
    return send_from_directory(root, filename, max_age=3600)
