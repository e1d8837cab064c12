"""Pathway versions: install from files, publish, and get a runnable engine for one."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import PathwayFileModel, PathwayStatus, PathwayVersionModel
from mdt.models.roles import TASK_ROLES, role_for_lane
from mdt.models.standards import STANDARDS
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.calendar import add_working_days
from mdt.services.episodes import CONTEXT_KEYS
from mdt.services.errors import NotFoundError
from mdt.services.settings import setting
from workflows import CompiledPathway, PathwayEngine, compile_pathway
from workflows.clock import run_now
from workflows.sandbox import default_helpers

DEFAULT_PATHWAY_KEY = "secondary-breast-cancer"
TIMER_HELPERS = ("working_days_from_now", "morning_of")

_cache_lock = threading.Lock()
_engines: OrderedDict[str, PathwayEngine] = OrderedDict()
_ENGINE_CACHE_SIZE = 32


def read_pathway_directory(directory: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The BPMN files of a directory and the JSON Schema forms in its forms/ folder."""
    bpmn = {p.name: p.read_bytes() for p in sorted(directory.glob("*.bpmn"))}
    forms = {p.name: p.read_bytes() for p in sorted((directory / "forms").glob("*.json"))}
    return bpmn, forms


def compile_files(
    bpmn: dict[str, bytes], forms: dict[str, bytes], process_id: str | None = None
) -> CompiledPathway:
    return compile_pathway(
        bpmn,
        forms,
        role_for_lane=role_for_lane,
        known_roles=[role.value for role in TASK_ROLES],
        known_standards=STANDARDS,
        process_id=process_id,
        max_bytes=int(setting("MDT_BPMN_MAX_BYTES")),  # type: ignore[call-overload]
        timer_helpers=TIMER_HELPERS,
    )


def closures() -> list[date]:
    """Local closure days (MDT_LOCAL_CLOSURES) that count as non-working, like bank holidays."""
    return [date.fromisoformat(day) for day in setting("MDT_LOCAL_CLOSURES")]  # type: ignore[attr-defined]


def _pathway_helpers(closed: list[date]) -> dict[str, Any]:
    def working_days_from_now(days: int) -> str:
        """End of the n-th working day from now, for timers: working_days_from_now(2)."""
        return add_working_days(run_now(), int(days), closed).isoformat()

    def morning_of(iso_date: str) -> str:
        """09:00 London time on a date, for timers that wait for a date recorded in a form
        (a re-offer or review date): morning_of(hna["reoffer_on"])."""
        return datetime.combine(
            date.fromisoformat(str(iso_date)), time(9), tzinfo=LONDON
        ).isoformat()

    return {
        **default_helpers(),
        "working_days_from_now": working_days_from_now,
        "morning_of": morning_of,
    }


def current_version(key: str = DEFAULT_PATHWAY_KEY) -> PathwayVersionModel | None:
    return db.session.scalar(
        select(PathwayVersionModel)
        .where(
            PathwayVersionModel.key == key, PathwayVersionModel.status == PathwayStatus.PUBLISHED
        )
        .order_by(PathwayVersionModel.version.desc())
        .limit(1)
    )


def publish_files(
    actor: Actor, key: str, title: str, bpmn: dict[str, bytes], forms: dict[str, bytes]
) -> PathwayVersionModel:
    """Validate and publish a new version; if the files equal the current one, keep it.

    Running patients stay on their version; new patients start on this one.
    """
    compiled = compile_files(bpmn, forms)
    current = current_version(key)
    if current is not None and current.sha256 == compiled.sha256:
        return current
    number = (
        db.session.scalar(
            select(func.max(PathwayVersionModel.version)).where(PathwayVersionModel.key == key)
        )
        or 0
    ) + 1
    now = clock.now()
    version = PathwayVersionModel(
        key=key,
        version=number,
        title=title,
        status=PathwayStatus.PUBLISHED,
        process_id=compiled.process_id,
        sha256=compiled.sha256,
        created_by_id=actor.user_id,
        published_at=now,
        published_by_id=actor.user_id,
    )
    db.session.add(version)
    for kind, files in (("bpmn", bpmn), ("form", forms)):
        for name, content in files.items():
            version.files.append(
                PathwayFileModel(
                    kind=kind,
                    name=name,
                    content=content,
                    sha256=hashlib.sha256(content).hexdigest(),
                )
            )
    if current is not None:
        current.status = PathwayStatus.RETIRED
    db.session.flush()
    record_event(
        actor,
        "pathway.published",
        object_type="pathway_version",
        object_id=version.id,
        detail={"key": key, "version": number, "sha256": compiled.sha256},
    )
    db.session.commit()
    return version


def engine_for(version: PathwayVersionModel) -> PathwayEngine:
    """A runnable engine for a stored version, compiled once per process (versions never change)."""
    limit = float(setting("MDT_ENGINE_TIME_LIMIT"))  # type: ignore[arg-type]
    closed = closures()
    cache_key = f"{version.sha256}:{limit}:{closed}"
    with _cache_lock:
        engine = _engines.get(cache_key)
        if engine is not None:
            _engines.move_to_end(cache_key)
            return engine
    bpmn = {f.name: f.content for f in version.files if f.kind == "bpmn"}
    forms = {f.name: f.content for f in version.files if f.kind == "form"}
    engine = PathwayEngine(
        compile_files(bpmn, forms, version.process_id),
        time_limit_seconds=limit,
        helpers=_pathway_helpers(closed),
        clock=clock.local_now,
        context_keys=CONTEXT_KEYS,
    )
    with _cache_lock:
        _engines[cache_key] = engine
        while len(_engines) > _ENGINE_CACHE_SIZE:
            _engines.popitem(last=False)
    return engine


def get_version(version_id: int) -> PathwayVersionModel:
    version = db.session.get(PathwayVersionModel, version_id)
    if version is None:
        raise NotFoundError("No such pathway version")
    return version


def form_schema(version: PathwayVersionModel, form: str | None) -> dict | None:
    if not form:
        return None
    return engine_for(version).pathway.forms.get(form)
