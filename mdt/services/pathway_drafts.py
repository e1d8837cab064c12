"""Pathway versions as managers change them: save a draft, validate it, publish it.

A draft stores the files as they are, valid or not, so work in progress is never lost;
validation runs the whole check (XML safety, XSD, the engine's parse, the project's lint)
and names each problem's file, line and element; publishing refuses a draft with any
problem. New patients start on the published version; running patients stay on theirs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from sqlalchemy import func, select

from mdt import clock
from mdt.extensions import db
from mdt.models import PathwayFileModel, PathwayStatus, PathwayVersionModel
from mdt.models.roles import Role
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.errors import (
    ConflictError,
    InvalidInputError,
    PathwayRejectedError,
    PermissionDeniedError,
)
from mdt.services.pathway_trials import require_passed, trial_files
from mdt.services.pathways import (
    compile_files,
    current_version,
    file_kind,
    get_version,
    version_files,
)
from mdt.services.settings import setting
from workflows import PathwayInvalidError

KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.(bpmn|json)$")


@dataclass(frozen=True)
class Validation:
    problems: list[dict[str, object]]

    @property
    def valid(self) -> bool:
        return not self.problems


def _require_manager(actor: Actor) -> None:
    if not actor.has_role(Role.MANAGER):
        raise PermissionDeniedError("Only service managers change pathways.")


def _check_files(key: str, title: str, files: dict[str, bytes]) -> None:
    errors = {}
    if not KEY.match(key):
        errors["key"] = "Use 2 to 80 lower-case letters, digits and hyphens, like 'breast-care'"
    if not title.strip() or len(title) > 200:
        errors["title"] = "Enter a title of up to 200 characters"
    limit = int(setting("MDT_BPMN_MAX_BYTES"))  # type: ignore[call-overload]
    bad_names = [name for name in files if not FILE_NAME.match(name)]
    if bad_names:
        errors["files"] = f"Name files like 'pathway.bpmn' or 'form.json', not {bad_names[0]!r}"
    elif not any(name.endswith(".bpmn") for name in files):
        errors["files"] = "Include at least one .bpmn file"
    elif any(len(content) > limit for content in files.values()):
        errors["files"] = f"Each file must be {limit // (1024 * 1024)} MB or smaller"
    if errors:
        raise InvalidInputError(errors)


def save_draft(
    actor: Actor, key: str, title: str, files: dict[str, bytes], process_id: str = ""
) -> PathwayVersionModel:
    """Store files as a new draft version of pathway ``key``, whether valid or not.
    ``process_id`` is the process that starts the pathway when the files have several (the
    manager's choice, or the version's it was copied from); empty lets the checks find the
    one no other process calls. Screens open its diagram first; publishing sets it from the
    engine's parse."""
    _require_manager(actor)
    _check_files(key, title, files)
    number = (
        db.session.scalar(
            select(func.max(PathwayVersionModel.version)).where(PathwayVersionModel.key == key)
        )
        or 0
    ) + 1
    digest = _digest(files)
    version = PathwayVersionModel(
        key=key,
        version=number,
        title=title.strip(),
        status=PathwayStatus.DRAFT,
        process_id=process_id,
        sha256=digest,
        created_by_id=actor.user_id,
    )
    for name, content in sorted(files.items()):
        version.files.append(_stored_file(name, content))
    db.session.add(version)
    db.session.flush()
    record_event(
        actor,
        "pathway.draft_saved",
        object_type="pathway_version",
        object_id=version.id,
        detail={"key": key, "version": number, "files": sorted(files)},
    )
    db.session.commit()
    return version


def _stored_file(name: str, content: bytes) -> PathwayFileModel:
    return PathwayFileModel(
        kind=file_kind(name),
        name=name,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _digest(files: dict[str, bytes]) -> str:
    return hashlib.sha256(b"".join(files[name] for name in sorted(files))).hexdigest()


def open_draft(actor: Actor, version_id: int) -> PathwayVersionModel:
    """The draft to edit for this version's pathway: the open draft if there is one (one
    draft per pathway, so two managers never work on diverging copies), else a new draft
    copied from this version."""
    _require_manager(actor)
    source = get_version(version_id)
    existing = db.session.scalar(
        select(PathwayVersionModel)
        .where(
            PathwayVersionModel.key == source.key,
            PathwayVersionModel.status == PathwayStatus.DRAFT,
        )
        .order_by(PathwayVersionModel.version.desc())
    )
    if existing is not None:
        return existing
    files = {f.name: f.content for f in source.files}
    return save_draft(actor, source.key, source.title, files, source.process_id)


def update_draft(
    actor: Actor,
    version_id: int,
    files: dict[str, bytes],
    expected_sha256: str,
    process_id: str | None = None,
) -> PathwayVersionModel:
    """Replace a draft's files with the editor's. ``expected_sha256`` is the draft the
    editor started from: if someone else saved in between, nothing is overwritten.
    ``process_id`` chooses the process that starts the pathway ("" lets the checks find
    it); without it the draft keeps its choice while its files still hold that process."""
    _require_manager(actor)
    version = get_version(version_id)
    if version.status != PathwayStatus.DRAFT:
        raise ConflictError(f"Version {version.version} is {version.status}; only drafts change.")
    if expected_sha256 != version.sha256:
        raise ConflictError(
            "Someone else saved this draft since you opened it. Nothing of yours was saved: "
            "download your diagram, reload the page and make your change again."
        )
    _check_files(version.key, version.title, files)
    by_name = {f.name: f for f in version.files}
    for name, content in sorted(files.items()):
        stored = by_name.pop(name, None)
        if stored is None:
            version.files.append(_stored_file(name, content))
        elif stored.content != content:
            stored.content = content
            stored.sha256 = hashlib.sha256(content).hexdigest()
    for removed in by_name.values():
        # A draft's file is work in progress that never ran for a patient; the audit row
        # below names what was taken out.
        version.files.remove(removed)
        db.session.delete(removed)
    version.sha256 = _digest(files)
    if process_id is not None:
        version.process_id = process_id.strip()
    elif version.process_id and not _holds_process(files, version.process_id):
        version.process_id = ""
    record_event(
        actor,
        "pathway.draft_saved",
        object_type="pathway_version",
        object_id=version.id,
        detail={
            "key": version.key,
            "version": version.version,
            "files": {
                name: hashlib.sha256(c).hexdigest()[:12] for name, c in sorted(files.items())
            },
            "removed": sorted(by_name),
        },
    )
    db.session.commit()
    return version


def _holds_process(files: dict[str, bytes], process_id: str) -> bool:
    marker = f'id="{process_id}"'.encode()
    return any(name.endswith(".bpmn") and marker in content for name, content in files.items())


def starting_process(version: PathwayVersionModel) -> str | None:
    """The process chosen to start the pathway, if one was (else the checks find it)."""
    return version.process_id or None


def validate_version(actor: Actor, version_id: int) -> Validation:
    _require_manager(actor)
    version = get_version(version_id)
    try:
        compile_files(*version_files(version), starting_process(version))
    except PathwayInvalidError as error:
        return Validation([asdict(problem) for problem in error.problems])
    return Validation([])


def publish_version(
    actor: Actor, version_id: int, confirm_warnings: bool = False
) -> PathwayVersionModel:
    """Publish a valid draft that passes its test run: new patients start on it; the version
    it replaces is retired (its running patients stay on it). Errors (the checks' and the
    test run's) refuse it; the test run's warnings need ``confirm_warnings``."""
    _require_manager(actor)
    version = get_version(version_id)
    if version.status != PathwayStatus.DRAFT:
        raise ConflictError(f"Version {version.version} is {version.status}, not a draft.")
    tested = trial_files(*version_files(version), starting_process(version))
    require_passed(tested, confirm_warnings)
    compiled = tested.compiled
    if compiled is None:  # no errors means it compiled; kept for the type checker
        raise PathwayRejectedError(tested.problems)
    previous = current_version(version.key)
    now = clock.now()
    version.status = PathwayStatus.PUBLISHED
    version.process_id = compiled.process_id
    version.sha256 = compiled.sha256
    version.published_at = now
    version.published_by_id = actor.user_id
    if previous is not None:
        previous.status = PathwayStatus.RETIRED
    record_event(
        actor,
        "pathway.published",
        object_type="pathway_version",
        object_id=version.id,
        detail={
            "key": version.key,
            "version": version.version,
            "sha256": compiled.sha256,
            "test_run": tested.summary(),
        },
    )
    db.session.commit()
    return version
