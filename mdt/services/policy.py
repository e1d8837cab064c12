"""Who may see and do what: the one access policy.

Every route declares its roles from the sets here, every service checks the same rule before
it acts, and templates ask ``may(...)`` before they render a link, so a page never offers what
the next page refuses. ``who`` is anything with ``has_role`` and an id: an Actor in services,
the signed-in user in templates. Changing this file is a governance decision (docs/security.md).
"""

from __future__ import annotations

from typing import Protocol

from mdt.models import HumanTaskModel
from mdt.models.roles import CLINICAL_ROLES, Role
from mdt.services.errors import PermissionDeniedError


class Who(Protocol):
    def has_role(self, *roles: str) -> bool: ...


# Patient records (and the tasks on them): clinicians, coordinators, and managers for oversight.
RECORD_ROLES = frozenset({*CLINICAL_ROLES, Role.COORDINATOR, Role.MANAGER})
# Registering a patient and reporting events on a pathway are clinical acts.
REGISTER_ROLES = frozenset({Role.COORDINATOR, Role.CNS})
EVENT_ROLES = frozenset({*CLINICAL_ROLES, Role.COORDINATOR})
# Giving a task to someone else.
REASSIGNERS = frozenset({Role.COORDINATOR, Role.MANAGER})
# Naming a patient's key worker; seeing a caseload (a CNS their own; coordinators and
# managers, who move caseloads between nurses for cover and handover, any).
KEY_WORKER_SETTERS = frozenset({Role.COORDINATOR, Role.CNS, Role.MANAGER})
CASELOAD_READERS = frozenset({Role.CNS, *REASSIGNERS})
# The MDT is the whole team's: every core member sees the lists; managers oversee them.
MEETING_READERS = frozenset({*CLINICAL_ROLES, Role.COORDINATOR, Role.MDT_MEMBER, Role.MANAGER})
# Those who prepare patients for the meeting and say they are ready to present.
PREPARERS = frozenset({*CLINICAL_ROLES, Role.COORDINATOR, Role.MDT_MEMBER})
# The coordinators run the meeting: the list, attendance, outcomes, letters.
MEETING_RUNNERS = frozenset({Role.COORDINATOR})
# Starting a registered patient on one more pathway (a trial's follow-up, a clinic).
PATHWAY_STARTERS = frozenset({Role.COORDINATOR})


def _user_id(who: Who) -> int | None:
    return getattr(who, "user_id", None) or getattr(who, "id", None)


def may_see_records(who: Who) -> bool:
    return who.has_role(*RECORD_ROLES)


def may_open_task(who: Who, task: HumanTaskModel) -> bool:
    """Its own role; coordinators (they chase tasks) and managers (oversight); and whoever it
    is assigned to."""
    return who.has_role(task.role or "-", *REASSIGNERS) or (
        task.assigned_to_id is not None and task.assigned_to_id == _user_id(who)
    )


def may_do_task(who: Who, task: HumanTaskModel) -> bool:
    """Only the task's own role completes it: a clinical act."""
    return task.role is not None and who.has_role(task.role)


def may_set_key_worker(who: Who) -> bool:
    return who.has_role(*KEY_WORKER_SETTERS)


def may_move_caseloads(who: Who) -> bool:
    return who.has_role(*REASSIGNERS)


def may_see_meetings(who: Who) -> bool:
    return who.has_role(*MEETING_READERS)


def may_start_pathways(who: Who) -> bool:
    return who.has_role(*PATHWAY_STARTERS)


def may_prepare(who: Who) -> bool:
    return who.has_role(*PREPARERS)


def may_run_meetings(who: Who) -> bool:
    return who.has_role(*MEETING_RUNNERS)


RULES = {
    "see_records": may_see_records,
    "open_task": may_open_task,
    "do_task": may_do_task,
    "see_meetings": may_see_meetings,
    "set_key_worker": may_set_key_worker,
    "move_caseloads": may_move_caseloads,
    "prepare": may_prepare,
    "run_meetings": may_run_meetings,
    "start_pathways": may_start_pathways,
}


def may(who: Who, rule: str, *subject: object) -> bool:
    """For templates: ``may('open_task', task)``."""
    return bool(RULES[rule](who, *subject))  # type: ignore[operator]


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDeniedError(message)
