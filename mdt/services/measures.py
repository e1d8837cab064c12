"""The measures of the standards of care, as a pathway declares them in its `measures.json`.

A measure says, in the pathway's own words (task ids, form fields), how one standard is
measured: who is counted (each episode of given kinds, optionally only those eligible; or each
task that shows a need arose), when its clock starts (the episode's clinical date, a date in a
form, the date a trigger was recorded, the meeting), its deadline (calendar or working days,
local periods in MDT_KPI_DAYS), and what evidences it: which task, with which answers counting
as met and which as the patient's choice, dated by which date field of the form. Anything
else (a referral, an escalation, "not offered") is not evidence. Checked when a pathway is
uploaded, like its forms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from mdt.models.standards import LEGACY_STANDARDS
from workflows import CompiledPathway, PathwayInvalidError, Problem

MEASURES_FILE = "measures.json"
_CODE = re.compile(r"[A-Za-z0-9.\-]{1,16}")
COMPARISONS = ("in", "equals", ">=", "<=", "filled", "done")


@dataclass(frozen=True)
class Evidence:
    tasks: tuple[str, ...]
    dates: tuple[str, ...]  # form fields that date it, first present; "@meeting": its meeting
    met: dict[str, Any] | None = None  # None: completing the task is enough
    declined: dict[str, Any] | None = None
    not_met: str = ""  # said when the task was done but neither met nor declined
    not_met_labels: dict[str, str] = field(default_factory=dict)  # by the answer given


@dataclass(frozen=True)
class Measure:
    key: str
    code: str
    title: str
    per: str  # "episode" or "task"
    start: Any  # "episode", "meeting", {"field": [...]}, {"context": "a.b"}
    deadline: dict[str, int] | None
    evidence: tuple[Evidence, ...]
    target: int
    rule: str
    episodes: tuple[str, ...] = ()
    eligible: tuple[dict[str, Any], ...] = ()
    cases: dict[str, Any] = field(default_factory=dict)
    # "missed": a death before it was done does not excuse it (end-of-life care that was
    # owed); otherwise care ending before the deadline makes it not applicable.
    after_death: str = "not_applicable"
    # "any_episode": an offer made in the episode's time counts whichever episode's task
    # recorded it (an offer still open from the episode before is made again by no one).
    evidence_from: str = "episode"
    # The title of the standard ``code`` names, as the pathway's measures.json declares it.
    standard: str = ""

    @property
    def evidence_tasks(self) -> frozenset[str]:
        return frozenset(t for e in self.evidence for t in e.tasks)


def matches(condition: Mapping[str, Any] | None, data: Mapping[str, Any], done: bool) -> bool:
    """Whether a task's answers meet a condition: {"field": f, "in": [...]} (or "equals",
    ">=", "<=", "filled"), {"any": [...]}, {"all": [...]}, {"done": true}."""
    if not condition:
        return True
    if "any" in condition:
        return any(matches(c, data, done) for c in condition["any"])
    if "all" in condition:
        return all(matches(c, data, done) for c in condition["all"])
    if "done" in condition:
        return done == bool(condition["done"])
    value = data.get(condition["field"])
    if "in" in condition:
        return value in condition["in"]
    if "equals" in condition:
        return bool(value == condition["equals"])
    if ">=" in condition:
        return isinstance(value, int | float) and value >= condition[">="]
    if "<=" in condition:
        return isinstance(value, int | float) and value <= condition["<="]
    if "filled" in condition:
        return (value not in (None, "", [])) == bool(condition["filled"])
    return False


def _evidence(raw: Mapping[str, Any]) -> Evidence:
    not_met = raw.get("not_met", "")
    labels = {}
    if isinstance(not_met, dict):  # {"labels": {answer: words}, "otherwise": words}
        labels = {str(k): str(v) for k, v in not_met.get("labels", {}).items()}
        not_met = not_met.get("otherwise", "")
    return Evidence(
        tasks=tuple(raw["tasks"]),
        dates=tuple(raw.get("date", ())),
        met=raw.get("met"),
        declined=raw.get("declined"),
        not_met=str(not_met),
        not_met_labels=labels,
    )


def declared_standards(document: Mapping[str, Any]) -> dict[str, str]:
    """The standards a pathway measures, code -> title, as its measures.json declares them
    ("standards"). A file without the declaration (versions stored before pathways declared
    their own) measures the legacy default: the eleven secondary breast cancer standards."""
    declared = document.get("standards")
    if declared is None:
        return dict(LEGACY_STANDARDS)
    return {str(code): str(title) for code, title in declared.items()}


def _measure(raw: Mapping[str, Any], standards: Mapping[str, str]) -> Measure:
    return Measure(
        key=str(raw["key"]),
        code=str(raw["code"]),
        title=str(raw["title"]),
        per=str(raw["per"]),
        start=raw["start"],
        deadline=raw.get("deadline"),
        evidence=tuple(_evidence(e) for e in raw["evidence"]),
        target=int(raw.get("target", 90)),
        rule=str(raw.get("rule", "")),
        episodes=tuple(raw.get("episodes", ())),
        eligible=tuple(raw.get("eligible", ())),
        cases=dict(raw.get("cases", {})),
        after_death=str(raw.get("after_death", "not_applicable")),
        evidence_from=str(raw.get("evidence_from", "episode")),
        standard=standards.get(str(raw["code"]), ""),
    )


@cache
def parse_measures(raw: bytes) -> tuple[Measure, ...]:
    document = json.loads(raw)
    standards = declared_standards(document)
    return tuple(_measure(m, standards) for m in document["measures"])


def check_measures(raw: bytes, pathway: CompiledPathway) -> list[Problem]:
    """Every problem with a measures file, against the pathway it measures."""
    try:
        document = json.loads(raw)
        measures = parse_measures(raw)
    except (ValueError, KeyError, TypeError) as error:
        return [Problem(f"Measures are not valid: {error}", file=MEASURES_FILE)]
    problems = _standards_problems(document)
    declared = declared_standards(document)
    tasks = {info.bpmn_id: info for info in pathway.user_tasks.values()}
    kinds = {pathway.first_episode} | {e.episode for e in pathway.events.values() if e.episode}
    seen: set[str] = set()
    for measure in measures:
        where = f"Measure {measure.key}"
        if measure.key in seen:
            problems.append(f"{where} is defined twice.")
        seen.add(measure.key)
        if measure.code not in declared:
            problems.append(
                f"{where}: standard code {measure.code} is not one this pathway declares "
                f'under "standards" ({", ".join(declared)}).'
            )
        if measure.per not in ("episode", "task"):
            problems.append(f"{where}: 'per' must be 'episode' or 'task'.")
        if measure.after_death not in ("not_applicable", "missed"):
            problems.append(f"{where}: 'after_death' must be 'not_applicable' or 'missed'.")
        if measure.evidence_from not in ("episode", "any_episode"):
            problems.append(f"{where}: 'evidence_from' must be 'episode' or 'any_episode'.")
        for kind in measure.episodes:
            if kind not in kinds:
                problems.append(
                    f"{where}: no episode of kind '{kind}' ({', '.join(sorted(kinds))})."
                )
        named = [*measure.evidence_tasks, *measure.cases.get("tasks", [])]
        for task_id in named:
            if task_id not in tasks:
                problems.append(f"{where}: no user task '{task_id}' in the diagrams.")
        problems.extend(f"{where}: {p}" for p in _clock_problems(measure, pathway, tasks))
        for evidence in measure.evidence:
            for date_field in evidence.dates:
                if date_field != "@meeting" and not _is_date_field(
                    pathway, tasks, evidence.tasks, date_field
                ):
                    problems.append(
                        f"{where}: '{date_field}' is no date field of {', '.join(evidence.tasks)}."
                    )
    if not isinstance(document.get("measures"), list):
        problems.append("The file needs a list of measures.")
    return [Problem(message, file=MEASURES_FILE) for message in problems]


def _standards_problems(document: Mapping[str, Any]) -> list[str]:
    declared = document.get("standards")
    if declared is None:
        return []
    if not isinstance(declared, dict) or not declared:
        return ['"standards" must map each standard\'s code to its title.']
    return [
        f'Standard "{code}": the code needs a title (up to 200 characters) and must be '
        "1 to 16 letters, digits, dots or dashes."
        for code, title in declared.items()
        if not (isinstance(title, str) and 0 < len(title.strip()) <= 200 and _CODE.fullmatch(code))
    ]


def _clock_problems(
    measure: Measure, pathway: CompiledPathway, tasks: Mapping[str, Any]
) -> list[str]:
    start, deadline = measure.start, measure.deadline
    found = []
    if start == "episode":
        if measure.per != "episode":
            found.append("only a measure per episode can start at the episode.")
    elif start == "meeting":
        pass
    elif isinstance(start, dict) and isinstance(start.get("field"), list):
        case_tasks = tuple(measure.cases.get("tasks", ()))
        for name in start["field"]:
            if not _is_date_field(pathway, tasks, case_tasks, name):
                found.append(f"'{name}' is no date field of {', '.join(case_tasks)}.")
    elif not (isinstance(start, dict) and isinstance(start.get("context"), str)):
        found.append(
            '\'start\' must be "episode", "meeting", {"field": [...]} or {"context": ...}.'
        )
    if deadline is not None and not (
        isinstance(deadline, dict)
        and len(deadline) == 1
        and next(iter(deadline)) in ("days", "working_days")
        and isinstance(next(iter(deadline.values())), int)
        and next(iter(deadline.values())) > 0
    ):
        found.append('\'deadline\' must be null, {"days": n} or {"working_days": n}.')
    return found


def _is_date_field(
    pathway: CompiledPathway, tasks: Mapping[str, Any], task_ids: tuple[str, ...], name: str
) -> bool:
    for task_id in task_ids:
        info = tasks.get(task_id)
        form = pathway.forms.get(info.form or "", {}) if info else {}
        if form.get("properties", {}).get(name, {}).get("format") == "date":
            return True
    return False


def validated(raw: bytes | None, pathway: CompiledPathway) -> tuple[Measure, ...]:
    if raw is None:
        return ()
    problems = check_measures(raw, pathway)
    if problems:
        raise PathwayInvalidError(problems)
    return parse_measures(raw)
