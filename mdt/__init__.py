"""The Flask application: care pathways run by a BPMN engine, with the MDT plugin."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from mdt.config import ConfigError, Settings
from mdt.extensions import csrf, db, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    instance_path = Path(os.environ.get("MDT_INSTANCE_PATH", PROJECT_ROOT / "instance"))
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder="static",
    )
    app.config.update(Settings.from_environment(instance_path).values)
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("MDT_NODE_MODULES", str(PROJECT_ROOT / "node_modules"))
    _check_kpi_settings(app)

    db.init_app(app)
    with app.app_context():
        _tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)

    from mdt import cli, models  # noqa: F401 - models register their tables
    from mdt.web import register_web
    from mdt.web.request_transaction import install_request_transaction

    # Ids in addresses fit the database's integer columns: a larger number is simply not
    # found (404), rather than an error from PostgreSQL's int4.
    app.url_map.converters["int"] = _DatabaseId
    register_web(app)
    install_request_transaction(app)  # a session's or token's use rides on the request's commit
    cli.register(app)
    if app.config["MDT_TRUSTED_PROXIES"]:
        # Behind a proxy, the client's address (audit rows, sign-in limits) is the one the
        # trusted proxies forwarded, not the proxy's own.
        proxies = app.config["MDT_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    return app


class _DatabaseId(IntegerConverter):
    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _check_kpi_settings(app: Flask) -> None:
    """Local periods and targets must name measures of the pathway the project ships."""
    from mdt.services.measures import MEASURES_FILE, parse_measures

    shipped = PROJECT_ROOT / "bpmn" / MEASURES_FILE
    keys = {m.key for m in parse_measures(shipped.read_bytes())} if shipped.exists() else set()
    for name in ("MDT_KPI_DAYS", "MDT_KPI_TARGETS"):
        unknown = sorted(set(app.config[name]) - keys)
        if unknown:
            raise ConfigError(f"{name}: no measure called {', '.join(unknown)}")


def _tune_sqlite(engine: Engine) -> None:
    """Embedded SQLite: enforce foreign keys, let readers run beside a writer, wait on locks,
    cache generously."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        # Reports read many pages: a 64 MB page cache and memory-mapped reads per
        # connection keep them in memory instead of one system call per page.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.close()
