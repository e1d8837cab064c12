"""Pathway versions: install from files, publish, and get a runnable engine for one."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import (
    InstanceStatus,
    PathwayFileModel,
    PathwayInstanceModel,
    PathwayStatus,
    PathwayVersionModel,
)
from mdt.models.roles import TASK_ROLES, role_for_lane
from mdt.models.standards import STANDARDS
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.calendar import add_working_days
from mdt.services.episodes import CONTEXT_KEYS
from mdt.services.errors import NotFoundError
from mdt.services.form_validation import user_role_problems
from mdt.services.measures import (
    MEASURES_FILE,
    Measure,
    declared_standards,
    parse_measures,
    validated,
)
from mdt.services.profiles import PROFILE_FILE, validated_profile
from mdt.services.settings import setting
from workflows import (
    CompiledPathway,
    PathwayEngine,
    PathwayInvalidError,
    Problem,
    compile_pathway,
    upstream_tasks,
)
from workflows.clock import run_now
from workflows.isolation import EngineRecipe, IsolatedEngine, Limits, WorkerPool, shared_pool
from workflows.sandbox import default_helpers

DEFAULT_PATHWAY_KEY = "secondary-breast-cancer"
TIMER_HELPERS = ("working_days_from_now", "morning_of")

_cache_lock = threading.Lock()
_engines: OrderedDict[str, PathwayEngine | IsolatedEngine] = OrderedDict()
_ENGINE_CACHE_SIZE = 32


def read_pathway_directory(directory: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The BPMN files of a directory, and its JSON files: the forms in its forms/ folder and
    its measures.json and profile.json (kept with the forms: the pathway's JSON files)."""
    bpmn = {p.name: p.read_bytes() for p in sorted(directory.glob("*.bpmn"))}
    # Decision tables travel with the diagrams (workflows.dmn.split_files).
    bpmn.update({p.name: p.read_bytes() for p in sorted(directory.glob("*.dmn"))})
    forms = {p.name: p.read_bytes() for p in sorted((directory / "forms").glob("*.json"))}
    for name in (MEASURES_FILE, PROFILE_FILE):
        if (directory / name).exists():
            forms[name] = (directory / name).read_bytes()
    return bpmn, forms


def file_kind(name: str) -> str:
    if name == PROFILE_FILE:
        return "profile"
    if name.endswith(".dmn"):
        return "dmn"
    return "bpmn" if name.endswith(".bpmn") else "measures" if name == MEASURES_FILE else "form"


def version_files(version: PathwayVersionModel) -> tuple[dict[str, bytes], dict[str, bytes]]:
    bpmn = {f.name: f.content for f in version.files if f.kind in ("bpmn", "dmn")}
    json_files = {f.name: f.content for f in version.files if f.kind not in ("bpmn", "dmn")}
    return bpmn, json_files


def compile_files(
    bpmn: dict[str, bytes],
    forms: dict[str, bytes],
    process_id: str | None = None,
    *,
    published: bool = False,
) -> CompiledPathway:
    """Validate a pathway's files: the engine's checks, then its measures against it.

    ``published``: the files of a stored version, checked by the upload rules of the day it
    was published. They are loaded without today's upload rules (the project's lint), so a
    rule added since never strands the patients already running on it; what keeps a run safe
    does not depend on them (the engine's own parse, the sandbox, the workers' limits and the
    validator's hard caps)."""
    forms = dict(forms)
    names = frozenset(forms)
    measures = forms.pop(MEASURES_FILE, None)
    profile = forms.pop(PROFILE_FILE, None)
    roles_unknown = user_role_problems(forms)
    try:
        compiled = compile_pathway(
            bpmn,
            forms,
            role_for_lane=role_for_lane,
            known_roles=[role.value for role in TASK_ROLES],
            known_standards=_known_standards(measures),
            process_id=process_id,
            max_bytes=int(setting("MDT_BPMN_MAX_BYTES")),  # type: ignore[call-overload]
            timer_helpers={n: _pathway_helpers(closures())[n] for n in TIMER_HELPERS},
            lint=not published,
        )
    except PathwayInvalidError as error:
        # The measures are checked against the compiled pathway; without one, still say
        # now (not in a second round) when they cannot even be read.
        unreadable = _unreadable_measures(measures) if measures is not None else []
        if unreadable or roles_unknown:
            raise PathwayInvalidError([*error.problems, *unreadable, *roles_unknown]) from None
        raise
    if roles_unknown:
        raise PathwayInvalidError(roles_unknown)
    validated(measures, compiled)
    validated_profile(profile, compiled, names)
    if measures is not None:  # a change of measures alone is a new version too
        digest = compiled.sha256 + hashlib.sha256(measures).hexdigest()
        compiled.sha256 = hashlib.sha256(digest.encode()).hexdigest()
    if profile is not None:  # and so is a change of profile
        digest = compiled.sha256 + hashlib.sha256(profile).hexdigest()
        compiled.sha256 = hashlib.sha256(digest.encode()).hexdigest()
    return compiled


def _unreadable_measures(raw: bytes) -> list[Problem]:
    try:
        parse_measures(raw)
    except (ValueError, KeyError, TypeError) as error:
        return [Problem(f"Measures are not valid: {error}.", file=MEASURES_FILE)]
    return []


def _known_standards(measures: bytes | None) -> Iterable[str]:
    """The standard codes a task's ``standards`` property may name: those the pathway's
    measures.json declares (the legacy default without a declaration, or a file that does
    not parse: its own check says why)."""
    try:
        return declared_standards(json.loads(measures)) if measures else STANDARDS
    except (ValueError, AttributeError, TypeError):
        return STANDARDS


def measures_for(version: PathwayVersionModel) -> tuple[Measure, ...]:
    """The measures a stored version declares (none for a pathway without measures.json)."""
    raw = next((f.content for f in version.files if f.kind == "measures"), None)
    return parse_measures(raw) if raw is not None else ()


_UPSTREAM: dict[str, dict[str, frozenset[str]]] = {}  # by version sha256; versions are few


def upstream_for(version: PathwayVersionModel) -> dict[str, frozenset[str]]:
    """For each human task of a stored version, the tasks that must come before it."""
    found = _UPSTREAM.get(version.sha256)
    if found is None:
        found = _UPSTREAM[version.sha256] = upstream_tasks(version_files(version)[0])
    return found


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


def lock_pathway(key: str) -> None:
    """Make this transaction the only one changing pathway ``key`` until it ends, so one
    publish at a time reads which version is current and replaces it (and a draft's save
    waits for a publish of it). PostgreSQL locks the pathway's version rows (SELECT ... FOR
    UPDATE: every later statement sees what the publish before committed); SQLite has one
    writer at a time, so the transaction becomes the writer now (BEGIN IMMEDIATE), unless
    an earlier write already made it the writer. Take it after slow checks, just before
    reading what to change."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        db.session.execute(
            select(PathwayVersionModel.id)
            .where(PathwayVersionModel.key == key)
            .order_by(PathwayVersionModel.id)
            .with_for_update()
        )
        return
    driver = connection.connection.dbapi_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def retire_published(key: str, keep: PathwayVersionModel) -> list[PathwayVersionModel]:
    """Retire every published version of ``key`` but ``keep`` (under ``lock_pathway``): one
    version is published at the end, and each one it replaces is retired once."""
    replaced = list(
        db.session.scalars(
            select(PathwayVersionModel)
            .where(
                PathwayVersionModel.key == key,
                PathwayVersionModel.status == PathwayStatus.PUBLISHED,
                PathwayVersionModel.id != keep.id,
            )
            .execution_options(populate_existing=True)
        )
    )
    for version in replaced:
        version.status = PathwayStatus.RETIRED
    return replaced


def publish_files(
    actor: Actor,
    key: str,
    title: str,
    bpmn: dict[str, bytes],
    forms: dict[str, bytes],
    test_run: dict[str, Any] | None = None,
) -> PathwayVersionModel:
    """Validate and publish a new version; if the files equal the current one, keep it.

    Running patients stay on their version; new patients start on this one. This does not
    test-run the files (``pathway_trials.publish_tested_files`` does, then calls this);
    ``test_run`` is what that run found, for the audit trail.
    """
    compiled = compile_files(bpmn, forms)
    lock_pathway(key)  # after the slow checks: one publish of this pathway at a time
    current = db.session.scalar(
        select(PathwayVersionModel)
        .where(
            PathwayVersionModel.key == key, PathwayVersionModel.status == PathwayStatus.PUBLISHED
        )
        .order_by(PathwayVersionModel.version.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if current is not None and current.sha256 == compiled.sha256:
        db.session.commit()  # ends the lock; nothing changed
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
    for files in (bpmn, forms):
        for name, content in files.items():
            version.files.append(
                PathwayFileModel(
                    kind=file_kind(name),
                    name=name,
                    content=content,
                    sha256=hashlib.sha256(content).hexdigest(),
                )
            )
    db.session.flush()
    replaced = retire_published(key, keep=version)
    record_event(
        actor,
        "pathway.published",
        object_type="pathway_version",
        object_id=version.id,
        detail={
            "key": key,
            "replaces": [v.version for v in replaced],
            "version": number,
            "sha256": compiled.sha256,
            **({"test_run": test_run} if test_run is not None else {}),
        },
    )
    db.session.commit()
    return version


def engine_for(version: PathwayVersionModel) -> PathwayEngine | IsolatedEngine:
    """A runnable engine for a stored version, compiled once per process (versions never
    change). With ``MDT_ENGINE_ISOLATION`` on (the default outside tests) it runs every
    operation in the engine workers (``workflows.isolation``): same interface, nothing of the
    pathway's code runs in this process."""
    limit = float(setting("MDT_ENGINE_TIME_LIMIT"))  # type: ignore[arg-type]
    isolated = bool(setting("MDT_ENGINE_ISOLATION"))
    closed = closures()
    cache_key = f"{version.sha256}:{limit}:{closed}:{isolated}"
    with _cache_lock:
        cached = _engines.get(cache_key)
        if cached is not None:
            _engines.move_to_end(cache_key)
            return cached
    bpmn, forms = version_files(version)
    compiled = compile_files(bpmn, forms, version.process_id, published=True)
    engine: PathwayEngine | IsolatedEngine
    if isolated:
        recipe = EngineRecipe(
            key=cache_key,
            builder=build_worker_engine,
            args=(bpmn, forms, version.process_id, limit, closed, len(max(bpmn.values(), key=len))),
        )
        engine = IsolatedEngine(compiled, recipe, engine_pool, clock=clock.local_now)
    else:
        engine = PathwayEngine(
            compiled,
            time_limit_seconds=limit,
            helpers=_pathway_helpers(closed),
            clock=clock.local_now,
            context_keys=CONTEXT_KEYS,
            max_ready_tasks=int(setting("MDT_ENGINE_MAX_READY_TASKS")),  # type: ignore[call-overload]
            max_state_bytes=int(setting("MDT_ENGINE_MAX_STATE_BYTES")),  # type: ignore[call-overload]
        )
    with _cache_lock:
        _engines[cache_key] = engine
        while len(_engines) > _ENGINE_CACHE_SIZE:
            _engines.popitem(last=False)
    return engine


WARM_VERSIONS = 8  # the newest versions that run patients; older ones compile on first use


def warm_engines() -> int:
    """Compile the versions patients run on, here and in every engine worker, before this
    process answers anyone: a restarted host's first completions run at full speed instead
    of each paying for the compile (seconds) while a patient waits. Returns how many."""
    running = select(PathwayInstanceModel.pathway_version_id).where(
        PathwayInstanceModel.status == InstanceStatus.RUNNING
    )
    versions = db.session.scalars(
        select(PathwayVersionModel)
        .where(
            (PathwayVersionModel.status == PathwayStatus.PUBLISHED)
            | PathwayVersionModel.id.in_(running)
        )
        .order_by(PathwayVersionModel.id.desc())
        .limit(WARM_VERSIONS)
    ).all()
    for version in versions:
        engine = engine_for(version)
        if isinstance(engine, IsolatedEngine):
            engine.warm()
    return len(versions)


def engine_limits() -> Limits:
    """The engine workers' limits, from the settings."""
    return Limits(
        wall_seconds=float(setting("MDT_ENGINE_WALL_SECONDS")),  # type: ignore[arg-type]
        cpu_seconds=int(setting("MDT_ENGINE_CPU_SECONDS")),  # type: ignore[call-overload]
        memory_bytes=int(setting("MDT_ENGINE_MEMORY_MB")) * 1024 * 1024,  # type: ignore[call-overload]
        max_state_bytes=int(setting("MDT_ENGINE_MAX_STATE_BYTES")),  # type: ignore[call-overload]
        max_ready_tasks=int(setting("MDT_ENGINE_MAX_READY_TASKS")),  # type: ignore[call-overload]
    )


def engine_pool() -> WorkerPool:
    """This process's engine workers (started on first use; read at each operation, so a
    change of settings takes effect)."""
    return shared_pool(
        int(setting("MDT_ENGINE_WORKERS")),  # type: ignore[call-overload]
        engine_limits(),
        preload=(__name__,),
    )


def build_worker_engine(
    bpmn: dict[str, bytes],
    forms: dict[str, bytes],
    process_id: str | None,
    limit: float,
    closed: list[date],
    max_bytes: int,
) -> PathwayEngine:
    """In an engine worker: the engine of a version the web process has already checked
    (no app, no database here: everything comes in the arguments)."""
    forms = {n: c for n, c in forms.items() if n not in (MEASURES_FILE, PROFILE_FILE)}
    compiled = compile_pathway(
        bpmn,
        forms,
        role_for_lane=role_for_lane,
        known_roles=[role.value for role in TASK_ROLES],
        known_standards=STANDARDS,
        process_id=process_id,
        max_bytes=max(max_bytes, 1024),
        timer_helpers=TIMER_HELPERS,
        lint=False,  # checked when it was published (see compile_files)
    )
    return PathwayEngine(
        compiled,
        time_limit_seconds=limit,
        helpers=_pathway_helpers(closed),
        clock=clock.local_now,
        context_keys=CONTEXT_KEYS,
    )


def get_version(version_id: int) -> PathwayVersionModel:
    version = db.session.get(PathwayVersionModel, version_id)
    if version is None:
        raise NotFoundError("No such pathway version")
    return version


def form_schema(version: PathwayVersionModel, form: str | None) -> dict | None:
    if not form:
        return None
    return engine_for(version).pathway.forms.get(form)
