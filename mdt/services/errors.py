"""Domain errors. The web and API layers translate them into pages and status codes."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a use case raises on purpose."""


class NotFoundError(DomainError):
    pass


class PermissionDeniedError(DomainError):
    pass


class ConflictError(DomainError):
    """Someone else changed this first; nothing was overwritten."""


class DuplicatePatientError(ConflictError):
    def __init__(self, message: str, existing_id: int):
        self.existing_id = existing_id
        super().__init__(message)


class InvalidInputError(DomainError):
    """Input failed validation; ``errors`` maps field names to plain-English messages."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()) or "There is a problem")


class PathwayRejectedError(DomainError):
    """An uploaded pathway cannot be published; ``problems`` says what and where (file,
    line, element id and name) for each; ``report`` is its test run, when it had one."""

    def __init__(self, problems: list[dict[str, object]], report: dict[str, object] | None = None):
        self.problems = problems
        self.report = report
        super().__init__(f"The pathway has {len(problems)} problem(s).")


class PathwayWarningsError(PathwayRejectedError):
    """The test run before publishing found warnings and no errors: publishing needs the
    manager's confirmation."""

    def __init__(self, problems: list[dict[str, object]], report: dict[str, object]):
        super().__init__(problems, report)
        count = sum(1 for p in problems if p.get("severity") == "warning")
        self.args = (
            f"The test run found {count} warning(s). Read them, then publish again "
            "confirming them.",
        )


class PathwayFailedError(DomainError):
    """The pathway engine failed on this patient; the instance is marked in error (paused)."""

    def __init__(self, message: str, instance_id: int | None = None, reason: str | None = None):
        self.instance_id = instance_id
        self.reason = reason
        super().__init__(message)


class PathwayPausedError(DomainError):
    """The patient's pathway is paused, found so while reading it (its state could not be
    read by the engine workers, and it has just been paused for that): what was asked needs
    it running. The web shows a page saying so (409), the API answers ``pathway_paused``."""

    def __init__(self, message: str, instance_id: int | None = None, reason: str | None = None):
        self.instance_id = instance_id
        self.reason = reason
        super().__init__(message)


class SignInError(DomainError):
    pass


class SignInThrottledError(SignInError):
    """Too many failed sign-ins from one address: it must wait."""
