from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.instance import PathwayInstanceModel
from mdt.models.types import UTCDateTime
from mdt.models.user import UserModel


class EpisodeModel(db.Model):  # type: ignore[name-defined,misc]
    """One episode of a patient's care on a pathway: the first (e.g. the new diagnosis),
    and each event the pathway declares starts one (e.g. a progression, a treatment change).

    The standards are measured per episode, from its clinical date: the date recorded in the
    form (the index date, the date of the scan that showed progression), not the day it was
    typed in. Tasks belong to the episode whose id their task data carries.
    """

    __tablename__ = "episode"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("pathway_instance.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200), default="")
    # The clinical date the episode started; unknown until its form is filled in.
    started_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The message that started it (None for the first episode) and what its form recorded.
    message: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    instance: Mapped[PathwayInstanceModel] = relationship()
    recorded_by: Mapped[UserModel | None] = relationship()
