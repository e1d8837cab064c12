"""The roles a user can hold, and how BPMN lane names map onto them."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    COORDINATOR = "coordinator"
    CNS = "cns"
    ONCOLOGIST = "oncologist"
    PALLIATIVE = "palliative"
    MANAGER = "manager"
    ADMIN = "admin"
    # Radiologists, pathologists, surgeons and others who prepare and present at the MDT but
    # do no pathway tasks: the meeting lists and their preparation view, nothing else.
    MDT_MEMBER = "mdt_member"


ROLE_LABELS = {
    Role.COORDINATOR: "MDT coordinator",
    Role.CNS: "Clinical nurse specialist",
    Role.ONCOLOGIST: "Oncologist",
    Role.PALLIATIVE: "Palliative care team",
    Role.MANAGER: "Service manager",
    Role.ADMIN: "Administrator",
    Role.MDT_MEMBER: "MDT member (for example radiology, pathology, surgery)",
}

# Lane names that diagrams use for each role, compared case-insensitively.
_LANE_ALIASES = {
    Role.COORDINATOR: ("mdt coordinator", "coordinator", "mdt coordinators"),
    Role.CNS: ("cns", "cns (key worker)", "clinical nurse specialist", "key worker", "nurse"),
    Role.ONCOLOGIST: ("oncologist", "oncology", "consultant oncologist"),
    Role.PALLIATIVE: ("palliative", "palliative care", "palliative care team"),
    Role.MANAGER: ("manager", "service manager", "pathway manager"),
}

CLINICAL_ROLES = frozenset({Role.CNS, Role.ONCOLOGIST, Role.PALLIATIVE})
TASK_ROLES = frozenset(_LANE_ALIASES)


def role_for_lane(lane: str | None) -> str | None:
    """The role a lane stands for, or None if the lane names no known role."""
    if not lane:
        return None
    wanted = " ".join(lane.lower().split())
    for role, aliases in _LANE_ALIASES.items():
        if wanted == role.value or wanted in aliases:
            return role.value
    return None


def role_label(role: str) -> str:
    try:
        return ROLE_LABELS[Role(role)]
    except ValueError:
        return role


def editor_roles() -> list[dict[str, object]]:
    """Task roles with their label and the lane names that mean them, for the editor."""
    return [
        {"role": role.value, "label": ROLE_LABELS[role], "lanes": list(aliases)}
        for role, aliases in _LANE_ALIASES.items()
    ]
