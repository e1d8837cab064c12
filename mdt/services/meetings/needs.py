"""The needs-assessment scores on the MDT list, and what the pathway's decision table makes
of them.

One source for "which scores count": the decision table the pathway's business rule task
applies (the profile names the task, ``mdt_list.needs.decision_task``). The list runs that
table on the stored answers through the engine facade (sandboxed, in the engine workers
when isolation is on) rather than keeping a threshold of its own, so a manager who changes
the table changes the list too. Running it again was chosen over storing what the task
decided because assessments recorded before this screen existed have no stored decision,
and over reading a threshold out of the table because a table may say more than ">= n".
A score is flagged when the table's decision would be different without it: the rules it
meets are what the flag says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mdt.models import HumanTaskModel, PathwayVersionModel
from mdt.services.pathways import engine_for
from mdt.services.profiles import Needs, profile_source
from workflows import EngineError


@dataclass(frozen=True)
class Score:
    """One needs-assessment score, and the decision table's rules it meets."""

    label: str
    value: Any
    rules: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return bool(self.rules)


@dataclass(frozen=True)
class NeedsFound:
    scores: list[Score] = field(default_factory=list)
    rules: tuple[str, ...] = ()  # every rule the table matched (each rule's description)
    problem: str | None = None  # why the table could not be run, shown instead of flags


def needs_found(
    needs: Needs | None, version: PathwayVersionModel, completed: list[HumanTaskModel]
) -> NeedsFound:
    """The newest needs assessment that recorded scores (``completed`` is newest first),
    each score with the rules of the decision table that it meets."""
    answers = _newest_scores(needs, completed)
    if needs is None or not answers:
        return NeedsFound()
    present = [name for name in needs.fields if name in answers]
    if not needs.decision_task:
        return NeedsFound([Score(_label(n), answers[n]) for n in present])
    # The answers as given, then without each score: a rule that no longer matches
    # without a score is one that score meets.
    cases = [answers, *({k: v for k, v in answers.items() if k != n} for n in present)]
    try:
        # The version whose profile names the task: the patient's own, or, for a version
        # from before profiles, the one whose profile it borrows (its table, not none).
        engine = engine_for(profile_source(version))
        decided = engine.decide(needs.decision_task, needs.form, cases)
    except EngineError as error:
        return NeedsFound(
            [Score(_label(n), answers[n]) for n in present],
            problem=f"The pathway's decision table could not be run: {error}",
        )
    everything = decided[0].rules
    return NeedsFound(
        [
            Score(
                _label(name),
                answers[name],
                tuple(r for r in everything if r not in without.rules),
            )
            for name, without in zip(present, decided[1:], strict=True)
        ],
        everything,
    )


def _newest_scores(needs: Needs | None, completed: list[HumanTaskModel]) -> dict[str, Any]:
    if needs is None:
        return {}
    return next(
        (
            dict(t.data or {})
            for t in completed
            if t.form == needs.form and any(f in (t.data or {}) for f in needs.fields)
        ),
        {},
    )


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()
