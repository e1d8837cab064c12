"""A patient's record by pathway: for a patient on several pathways at once (the secondary
breast cancer pathway and a trial's follow-up, say), each pathway's own tasks, summary,
timeline and scorecard, so one pathway's work never reads as the other's."""

from __future__ import annotations

from dataclasses import dataclass

from mdt.models import HumanTaskModel, PathwayInstanceModel, TaskStatus
from mdt.services.episodes import episodes_of
from mdt.services.patient_standards import EpisodeCard, patient_scorecard
from mdt.services.record_views import SummaryRow, TimelineEntry, clinical_summary, timeline


@dataclass(frozen=True)
class PathwaySection:
    """One pathway of the patient: its instances (the newest first: a pathway started
    again after its care ended has several) and what they hold."""

    key: str
    title: str
    instances: list[PathwayInstanceModel]
    open_tasks: list[HumanTaskModel]
    history: list[HumanTaskModel]
    summary: list[SummaryRow]
    timeline: list[TimelineEntry]
    scorecard: list[EpisodeCard]

    @property
    def in_care(self) -> bool:
        return any(instance.in_care for instance in self.instances)


def pathway_sections(
    patient_id: int, instances: list[PathwayInstanceModel], tasks: list[HumanTaskModel]
) -> list[PathwaySection]:
    """The record's sections, one per pathway the patient has been on, the pathway started
    most recently first; ``instances`` newest first, ``tasks`` newest first."""
    keys: dict[str, list[PathwayInstanceModel]] = {}
    for instance in instances:
        keys.setdefault(instance.pathway_version.key, []).append(instance)
    return [_section(patient_id, group, tasks) for group in keys.values()]


def _section(
    patient_id: int, instances: list[PathwayInstanceModel], tasks: list[HumanTaskModel]
) -> PathwaySection:
    ids = {instance.id for instance in instances}
    mine = [task for task in tasks if task.instance_id in ids]
    history = [task for task in mine if task.status != TaskStatus.READY]
    scorecard: list[EpisodeCard] = []
    for instance in instances:
        scorecard += patient_scorecard(patient_id, instance.id)
    return PathwaySection(
        key=instances[0].pathway_version.key,
        title=instances[0].pathway_version.title,
        instances=instances,
        open_tasks=[task for task in mine if task.status == TaskStatus.READY],
        history=history,
        summary=clinical_summary(
            (task for task in history if task.status == TaskStatus.COMPLETED),
            episodes_of(sorted(ids)),
        ),
        timeline=timeline(patient_id, history, ids),
        scorecard=scorecard,
    )
