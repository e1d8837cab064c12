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

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from mdt import clock
from mdt.clock import LONDON
from mdt.extensions import db
from mdt.models import AuditEventModel, PathwayFileModel, PathwayStatus, PathwayVersionModel
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
    file_kind,
    get_version,
    lock_pathway,
    retire_published,
    version_files,
)
from mdt.services.settings import setting
from workflows import PathwayInvalidError

# Matched whole (fullmatch): "$" would also accept a trailing newline, and a second
# pathway "secondary-breast-cancer\n" would look like the first.
KEY = re.compile(r"[a-z0-9][a-z0-9-]{1,79}")
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.(bpmn|dmn|json)")


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
    if not KEY.fullmatch(key):
        errors["key"] = "Use 2 to 80 lower-case letters, digits and hyphens, like 'wound-care'"
    if not title.strip() or len(title) > 200:
        errors["title"] = "Enter a title of up to 200 characters"
    limit = int(setting("MDT_BPMN_MAX_BYTES"))  # type: ignore[call-overload]
    bad_names = [name for name in files if not FILE_NAME.fullmatch(name)]
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
    lock_pathway(key)  # the next number is this save's alone
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
    try:
        db.session.flush()
    except IntegrityError:  # another version of this pathway took the number meanwhile
        db.session.rollback()
        raise ConflictError(
            f"Someone else saved a version of {key} at the same moment. Nothing of yours "
            "was saved: try again."
        ) from None
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
    key = source.key
    lock_pathway(key)  # managers opening it at once: the first makes the draft, all share it
    existing = _open_draft_of(key)
    if existing is not None:
        return existing
    files = {f.name: f.content for f in source.files}
    try:
        return save_draft(actor, key, source.title, files, source.process_id)
    except ConflictError:
        # Another manager opened the pathway's draft at the same moment: theirs is the one.
        existing = _open_draft_of(key)
        if existing is None:
            raise
        return existing


def _open_draft_of(key: str) -> PathwayVersionModel | None:
    return db.session.scalar(
        select(PathwayVersionModel)
        .where(PathwayVersionModel.key == key, PathwayVersionModel.status == PathwayStatus.DRAFT)
        .order_by(PathwayVersionModel.version.desc())
        .limit(1)
    )


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
    it); without it the draft keeps its choice while its files still hold that process.

    The check and the write are one statement (UPDATE ... WHERE sha256 = expected AND
    status = draft): of editors saving from the same draft at once, exactly one writes and
    the others are told who saved first; nothing of theirs is merged in."""
    _require_manager(actor)
    version = get_version(version_id)
    if version.status != PathwayStatus.DRAFT:
        raise ConflictError(f"Version {version.version} is {version.status}; only drafts change.")
    if expected_sha256 != version.sha256:
        raise ConflictError(_saved_since(version))
    _check_files(version.key, version.title, files)
    digest = _digest(files)
    claimed = db.session.execute(
        update(PathwayVersionModel)
        .where(
            PathwayVersionModel.id == version.id,
            PathwayVersionModel.sha256 == expected_sha256,
            PathwayVersionModel.status == PathwayStatus.DRAFT,
        )
        .values(sha256=digest)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        version = get_version(version_id)
        if version.status != PathwayStatus.DRAFT:
            raise ConflictError(
                f"Version {version.version} was {version.status} while you were editing it; "
                "nothing of yours was saved."
            )
        raise ConflictError(_saved_since(version))
    # This transaction now holds the draft's row: read its files as they are now.
    db.session.expire_all()
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


def _saved_since(version: PathwayVersionModel, since: str = "since you opened it") -> str:
    """The conflict message, naming who saved the draft last (the save that came first)."""
    last = db.session.scalar(
        select(AuditEventModel)
        .where(
            AuditEventModel.action == "pathway.draft_saved",
            AuditEventModel.object_type == "pathway_version",
            AuditEventModel.object_id == str(version.id),
        )
        .order_by(AuditEventModel.id.desc())
        .limit(1)
    )
    who = (
        f" ({last.actor_name}, at {last.at.astimezone(LONDON).strftime('%H:%M on %d %B %Y')})"
        if last is not None
        else ""
    )
    return (
        f"Someone else saved this draft {since}{who}. Nothing of yours was saved: download "
        "your diagram, reload the page and make your change again."
    )


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
    test run's) refuse it; the test run's warnings need ``confirm_warnings``.

    The test run comes first; then the pathway is locked (``lock_pathway``) and the draft
    read again: of publishes at the same moment each waits for the one before, a draft
    published or changed meanwhile is refused (409), and exactly one version ends
    published, each one it replaces retired once."""
    _require_manager(actor)
    version = get_version(version_id)
    if version.status != PathwayStatus.DRAFT:
        raise ConflictError(f"Version {version.version} is {version.status}, not a draft.")
    tested_sha256 = version.sha256
    tested = trial_files(*version_files(version), starting_process(version))
    require_passed(tested, confirm_warnings)
    compiled = tested.compiled
    if compiled is None:  # no errors means it compiled; kept for the type checker
        raise PathwayRejectedError(tested.problems)
    lock_pathway(version.key)
    db.session.refresh(version)
    if version.status != PathwayStatus.DRAFT:
        by = version.published_by.username if version.published_by else "someone else"
        message = f"Version {version.version} is {version.status} already" + (
            f": {by} published it first." if version.status == PathwayStatus.PUBLISHED else "."
        )
        db.session.rollback()
        raise ConflictError(message)
    if version.sha256 != tested_sha256:
        message = _saved_since(version, "while it was being tested")
        db.session.rollback()
        raise ConflictError(message)
    now = clock.now()
    version.status = PathwayStatus.PUBLISHED
    version.process_id = compiled.process_id
    version.sha256 = compiled.sha256
    version.published_at = now
    version.published_by_id = actor.user_id
    replaced = retire_published(version.key, keep=version)
    record_event(
        actor,
        "pathway.published",
        object_type="pathway_version",
        object_id=version.id,
        detail={
            "key": version.key,
            "version": version.version,
            "sha256": compiled.sha256,
            "replaces": [v.version for v in replaced],
            "test_run": tested.summary(),
        },
    )
    db.session.commit()
    return version
