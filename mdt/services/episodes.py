"""Episodes of care: the first one when a pathway starts, and one for each event the pathway
declares as a new episode (a progression, a change of treatment). Helpers: they flush, never
commit.

How a task is tied to its episode: the application puts ``episode = {"id": ..., "kind": ...}``
in the pathway's data when it starts, and delivers an episode's event with the payload in the
variable ``episode`` (the linter insists). The engine copies task data down every branch and
into called processes, so each ready task carries the id of the episode it was started for,
and the task projection stores it (``human_task.episode_id``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from mdt.extensions import db
from mdt.models import EpisodeModel, HumanTaskModel, PathwayInstanceModel, PathwayVersionModel
from mdt.services.actor import Actor
from mdt.services.profiles import profile_for
from workflows import CompiledPathway, EventInfo, ReadyTask

CONTEXT_KEYS = ("episode",)  # what every ready task reports from its data


def episode_labels(version: PathwayVersionModel, pathway: CompiledPathway) -> dict[str, str]:
    """What the pathway calls each kind of episode, first episode first: its profile's words
    (``episode_labels``), else an event's label (from the BPMN), else the kind itself. The
    first episode has no event to name it, so without a profile it is its kind."""
    own = profile_for(version).episode_labels
    first = pathway.first_episode
    labels = {first: own.get(first) or first.replace("_", " ").capitalize()}
    for event in pathway.events.values():
        if event.episode:
            labels.setdefault(event.episode, own.get(event.episode) or event.label)
    return labels


def open_first_episode(
    actor: Actor, instance: PathwayInstanceModel, pathway: CompiledPathway
) -> EpisodeModel:
    kind = pathway.first_episode
    episode = EpisodeModel(
        instance_id=instance.id,
        patient_id=instance.patient_id,
        kind=kind,
        label=episode_labels(instance.pathway_version, pathway)[kind],
        recorded_by_id=actor.user_id,
    )
    db.session.add(episode)
    db.session.flush()
    return episode


def first_episode(instance_id: int) -> EpisodeModel | None:
    return db.session.scalar(
        select(EpisodeModel)
        .where(EpisodeModel.instance_id == instance_id)
        .order_by(EpisodeModel.id)
        .limit(1)
    )


def open_episode(
    actor: Actor, instance: PathwayInstanceModel, event: EventInfo, data: dict[str, Any]
) -> EpisodeModel:
    """The episode an event starts, dated by the date its form recorded."""
    assert event.episode and event.date_field
    episode = EpisodeModel(
        instance_id=instance.id,
        patient_id=instance.patient_id,
        kind=event.episode,
        label=profile_for(instance.pathway_version).episode_labels.get(event.episode)
        or event.label,
        started_on=date.fromisoformat(data[event.date_field]),
        recorded_by_id=actor.user_id,
        message=event.name,
        data=dict(data),
    )
    db.session.add(episode)
    db.session.flush()
    return episode


def engine_view(episode: EpisodeModel) -> dict[str, Any]:
    """How the pathway's data names the episode (plus the event's answers, for its scripts)."""
    return {**(episode.data or {}), "id": episode.id, "kind": episode.kind}


def episode_of(ready: ReadyTask) -> int | None:
    value = ready.context.get("episode")
    if isinstance(value, dict) and isinstance(value.get("id"), int):
        return int(value["id"])
    return None


def date_episode(task: HumanTaskModel, field: str | None, data: dict[str, Any]) -> None:
    """A task whose ``episodeDateField`` property names one of its fields dates its episode
    (the registration's index date dates the first episode); the first date recorded wins,
    and the instance keeps the first episode's date as its index date."""
    if not field or not isinstance(data.get(field), str) or task.episode_id is None:
        return
    episode = db.session.get(EpisodeModel, task.episode_id)
    if episode is None or episode.started_on is not None:
        return
    try:
        episode.started_on = date.fromisoformat(data[field])
    except ValueError:
        return
    instance = task.instance
    if instance.index_date is None and episode.message is None:
        instance.index_date = episode.started_on


def episodes_of(instance_ids: list[int]) -> list[EpisodeModel]:
    return list(
        db.session.scalars(
            select(EpisodeModel)
            .where(EpisodeModel.instance_id.in_(instance_ids))
            .order_by(EpisodeModel.started_on.desc().nulls_last(), EpisodeModel.id.desc())
        )
    )
