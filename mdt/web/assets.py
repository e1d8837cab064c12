"""Front-end packages installed from npm (package.json), served from node_modules."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory
from werkzeug.wrappers import Response

from mdt.web.access import public

bp = Blueprint("assets", __name__)

# URL prefix -> folder inside node_modules. Only these folders are served.
PACKAGES = {
    "nhsuk": "nhsuk-frontend/dist/nhsuk",
    "bpmn-js": "bpmn-js/dist",
    "dmn-js": "dmn-js/dist",
    "axe-core": "axe-core",
    "chart.js": "chart.js/dist",
    "swagger-ui": "swagger-ui-dist",
}


_FONT_FACE = re.compile(r"@font-face\{[^}]*\}")
NHSUK_CSS = "nhsuk-frontend.min.css"


@lru_cache(maxsize=4)
def _css_without_remote_fonts(path: Path, mtime: float) -> str:
    # nhsuk-frontend's CSS loads Frutiger from a third-party CDN. A clinical system
    # should not tell another server who is using it, nor depend on it: we drop the
    # @font-face rules and the font stack falls back to Arial, as NHS.UK allows.
    return _FONT_FACE.sub("", path.read_text(encoding="utf-8"))


@bp.get("/vendor/<package>/<path:filename>")
@public
def vendor(package: str, filename: str) -> Response:
    folder = PACKAGES.get(package)
    if folder is None:
        abort(404)
    root = Path(current_app.config["MDT_NODE_MODULES"]) / folder
    if package == "nhsuk" and filename == NHSUK_CSS:
        path = root / NHSUK_CSS
        if not path.exists():
            abort(404)
        response = Response(
            _css_without_remote_fonts(path, path.stat().st_mtime), mimetype="text/css"
        )
        response.cache_control.max_age = 3600
        return response
    return send_from_directory(root, filename, max_age=3600)


@bp.get("/assets/<path:filename>")
@public
def nhsuk_assets(filename: str) -> Response:
    # nhsuk-frontend's CSS refers to its icons as /assets/...
    root = Path(current_app.config["MDT_NODE_MODULES"]) / PACKAGES["nhsuk"] / "assets"
    return send_from_directory(root, filename, max_age=3600)


@lru_cache(maxsize=2)
def _favicon(path: Path) -> bytes:
    return path.read_bytes()


@bp.get("/favicon.ico")
@public
def favicon() -> Response:
    # Browsers ask for it on their own, on every first visit. Served from memory: a browser
    # that moves on mid-download leaves no file open.
    root = Path(current_app.config["MDT_NODE_MODULES"]) / PACKAGES["nhsuk"] / "assets" / "images"
    path = root / "favicon.ico"
    if not path.exists():
        abort(404)
    response = Response(_favicon(path), mimetype="image/x-icon")
    response.cache_control.max_age = 86400
    return response
