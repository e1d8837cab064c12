"""A measure in words, from its definition and the pathway's own names: who is counted, when
its clock starts, its deadline and what evidences it. Shown beside each measure in the report
and printed into docs/standards-report.md, so the rule people read is the rule that runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mdt.services.form_labels import answer_label, field_title
from mdt.services.measures import Evidence, Measure
from workflows import CompiledPathway

SETTING_WORDS = {"pension_age": "the State Pension age"}


@dataclass(frozen=True)
class MeasureWords:
    counted: str
    starts: str
    deadline: str
    evidence: str


def describe(
    measure: Measure,
    pathway: CompiledPathway,
    days: Mapping[str, int],
    settings: Mapping[str, int],
    labels: Mapping[str, str] | None = None,
) -> MeasureWords:
    """``days`` are the local periods (MDT_KPI_DAYS), ``settings`` the pathway settings,
    ``labels`` what the pathway calls each kind of episode (``episodes.episode_labels``)."""
    words = _Words(pathway, labels or {})
    return MeasureWords(
        counted=words.counted(measure, settings),
        starts=words.starts(measure),
        deadline=deadline_words(measure, days),
        evidence=words.evidence(measure),
    )


def deadline_words(measure: Measure, days: Mapping[str, int]) -> str:
    if not measure.deadline:
        return "No deadline"
    if "working_days" in measure.deadline:
        n = int(measure.deadline["working_days"])
        return "By the end of the next working day" if n == 1 else f"Within {n} working days"
    return f"Within {days.get(measure.key, int(measure.deadline['days']))} days"


def _join(parts: list[str], word: str = "or") -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} {word} {parts[-1]}"


class _Words:
    def __init__(self, pathway: CompiledPathway, labels: Mapping[str, str]):
        self.pathway = pathway
        self.labels = labels
        self.tasks = {i.bpmn_id: i for i in pathway.user_tasks.values()}

    def task(self, task_id: str) -> str:
        info = self.tasks.get(task_id)
        return f"“{info.name}”" if info else task_id

    def _schema(self, task_ids: tuple[str, ...] | list[str]) -> dict[str, Any]:
        """The forms of these tasks, merged: enough to name their fields and answers."""
        merged: dict[str, Any] = {"properties": {}}
        for task_id in task_ids:
            info = self.tasks.get(task_id)
            form = self.pathway.forms.get(info.form or "", {}) if info else {}
            merged["properties"].update(form.get("properties", {}))
        return merged

    def condition(self, condition: Mapping[str, Any], task_ids: tuple[str, ...] | list[str]) -> str:
        schema = self._schema(task_ids)
        if "any" in condition:
            return _join([self.condition(c, task_ids) for c in condition["any"]])
        if "all" in condition:
            return _join([self.condition(c, task_ids) for c in condition["all"]], "and")
        if "done" in condition:
            return "completed" if condition["done"] else "not completed"
        name = condition["field"]
        title = f"“{field_title(schema, name)}”"
        if "in" in condition:
            labels = condition.get("labels", {})
            answers = [labels.get(str(v)) or answer_label(schema, name, v) for v in condition["in"]]
            return f"{title} is {_join(answers)}"
        if "equals" in condition:
            return f"{title} is {answer_label(schema, name, condition['equals'])}"
        if ">=" in condition:
            return f"{title} is {condition['>=']} or more"
        if "<=" in condition:
            return f"{title} is {condition['<=']} or less"
        return f"{title} is {'filled in' if condition.get('filled') else 'empty'}"

    def episodes(self, kinds: tuple[str, ...]) -> str:
        return _join([self.labels.get(k, k).lower() for k in kinds])

    def counted(self, measure: Measure, settings: Mapping[str, int]) -> str:
        ended = (
            "; a death before it was done is missed, not excused"
            if measure.after_death == "missed"
            else ""
        )
        if measure.per == "episode":
            text = f"Every episode: {self.episodes(measure.episodes)}"
            if measure.eligible:
                rules = [self._eligible(rule, settings) for rule in measure.eligible]
                text += f"; only if {_join(rules)}"
            return text + ended
        tasks = measure.cases.get("tasks", [])
        text = f"Every {_join([self.task(t) for t in tasks])}"
        if measure.cases.get("when"):
            text += f" where {self.condition(measure.cases['when'], tasks)}"
        if measure.cases.get("distinct_start"):
            text += " (one per date its clock starts: offered again is the same case)"
        return text + ended

    def _eligible(self, rule: Mapping[str, Any], settings: Mapping[str, int]) -> str:
        if "age_under" in rule:
            name = rule["age_under"]
            setting = SETTING_WORDS.get(name, name)
            return f"under {setting} ({settings.get(name, '?')}) on the episode's date"
        answer = rule["answer"]
        tasks = answer["tasks"]
        found = self.condition({k: v for k, v in answer.items() if k != "tasks"}, tasks)
        where = "at any time" if rule.get("scope") == "patient" else "in that episode"
        text = f"{found} at {_join([self.task(t) for t in tasks])} {where}"
        if rule.get("clock"):
            schema = self._schema(tasks)
            dates = _join([f"“{field_title(schema, d)}”" for d in rule["clock"]])
            text += f" (its clock then starts at its {dates})"
        return text

    def starts(self, measure: Measure) -> str:
        start = measure.start
        if start == "episode":
            dates = [
                f"“{field_title(schema, name)}”" for schema, name in self._episode_dates(measure)
            ]
            return f"The episode's clinical date: {_join(dates)}"
        if start == "meeting":
            return "The date of the MDT meeting that confirmed the outcome"
        tasks = measure.cases.get("tasks", [])
        if "field" in start:
            names = [f"“{field_title(self._schema(tasks), f)}”" for f in start["field"]]
            return f"{_join(names)} recorded at {_join([self.task(t) for t in tasks])}"
        return str(start.get("words") or f"The date `{start['context']}` that came with the task")

    def _episode_dates(self, measure: Measure) -> list[tuple[dict[str, Any], str]]:
        """The form field that dates each kind of episode: the first episode's by a task's
        ``episodeDateField`` (the registration), the others by their event's date field."""
        found = []
        for kind in measure.episodes:
            if kind == self.pathway.first_episode:
                for info in self.tasks.values():
                    name = info.properties.get("episodeDateField")
                    if name:
                        found.append((self.pathway.forms.get(info.form or "", {}), name))
            for event in self.pathway.events.values():
                if event.episode == kind and event.date_field:
                    found.append((self.pathway.forms.get(event.form or "", {}), event.date_field))
        return found

    def evidence(self, measure: Measure) -> str:
        parts = [self._one(e) for e in measure.evidence]
        text = " Or: ".join(parts) + " Nothing else is evidence."
        if measure.evidence_from == "any_episode":
            text += " An offer in the episode's time counts whichever episode's task recorded it."
        return text

    def _one(self, evidence: Evidence) -> str:
        tasks = _join([self.task(t) for t in evidence.tasks])
        schema = self._schema(evidence.tasks)
        if "@meeting" in evidence.dates:
            dated = "dated by the meeting (an outcome recorded outside a meeting is not evidence)"
        else:
            names = [f"“{field_title(schema, d)}”" for d in evidence.dates]
            dated = f"dated by {_join(names)}" if names else "dated by the day it was done"
        met = f" where {self.condition(evidence.met, evidence.tasks)}" if evidence.met else ""
        text = f"{tasks}{met}, {dated}."
        if evidence.declined:
            choice = self.condition(evidence.declined, evidence.tasks)
            text += f" Where {choice}: the patient's choice (counted as achieved, shown apart)."
        field_name = (evidence.met or {}).get("field", "")
        for value, words in evidence.not_met_labels.items():
            answer = answer_label(schema, field_name, value)
            if words == answer:
                text += f" Where “{field_title(schema, field_name)}” is {answer}: not evidence."
            else:
                title = field_title(schema, field_name)
                text += f" Where “{title}” is {answer}: “{words}”, not evidence."
        if evidence.not_met:
            text += f" Otherwise: “{evidence.not_met}”, not evidence."
        return text
