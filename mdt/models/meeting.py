from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mdt import clock
from mdt.extensions import db
from mdt.models.patient import PatientModel
from mdt.models.task import HumanTaskModel
from mdt.models.types import UTCDateTime
from mdt.models.user import UserModel


class MeetingStatus(StrEnum):
    PLANNED = "planned"  # list open for changes
    CIRCULATED = "circulated"  # list locked and sent out
    CLOSED = "closed"  # held; undiscussed patients rolled over
    CANCELLED = "cancelled"  # not held; its list moved to another meeting


class ListingStatus(StrEnum):
    LISTED = "listed"
    REMOVED = "removed"
    CONFIRMED = "confirmed"  # outcome confirmed
    ROLLED_OVER = "rolled_over"


class MeetingSeriesModel(db.Model):  # type: ignore[name-defined,misc]
    """A recurring meeting, e.g. the weekly secondary breast MDT."""

    __tablename__ = "meeting_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    weekday: Mapped[int]  # Monday 0
    start_time: Mapped[str] = mapped_column(String(5))  # HH:MM, London time
    duration_minutes: Mapped[int] = mapped_column(default=90)
    location: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(default=True)


class MeetingModel(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_series.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_minutes: Mapped[int] = mapped_column(default=90)
    location: Mapped[str] = mapped_column(String(300), default="")
    cut_off_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=MeetingStatus.PLANNED)
    circulated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    circulated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    lock_version: Mapped[int] = mapped_column(default=1)

    series: Mapped[MeetingSeriesModel | None] = relationship()
    listings: Mapped[list[ListingModel]] = relationship(
        back_populates="meeting", order_by="ListingModel.position"
    )
    attendance: Mapped[list[AttendanceModel]] = relationship(
        back_populates="meeting", order_by="AttendanceModel.discipline"
    )

    __mapper_args__ = {"version_id_col": lock_version}


class ListingModel(db.Model):  # type: ignore[name-defined,misc]
    """One patient on one meeting's list, with the outcome as it is drafted and confirmed."""

    __tablename__ = "meeting_listing"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(20), default="discussion")  # or standard_of_care
    status: Mapped[str] = mapped_column(String(16), default=ListingStatus.LISTED)
    clinical_question: Mapped[str] = mapped_column(Text, default="")
    late: Mapped[bool] = mapped_column(default=False)
    late_reason: Mapped[str | None] = mapped_column(Text)
    # Why it came off the list without discussion, when not by hand: "died", "transferred".
    removed_reason: Mapped[str | None] = mapped_column(Text)
    rolled_over_from_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_listing.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    nonquorate_reason: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    lock_version: Mapped[int] = mapped_column(default=1)

    meeting: Mapped[MeetingModel] = relationship(back_populates="listings")
    patient: Mapped[PatientModel] = relationship()
    task: Mapped[HumanTaskModel] = relationship()
    confirmed_by: Mapped[UserModel | None] = relationship(foreign_keys=[confirmed_by_id])
    ready: Mapped[list[ListingReadyModel]] = relationship(
        back_populates="listing", order_by="ListingReadyModel.at"
    )

    __mapper_args__ = {"version_id_col": lock_version}


class AttendanceModel(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "meeting_attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    name: Mapped[str] = mapped_column(String(200))
    discipline: Mapped[str] = mapped_column(String(80))
    present: Mapped[bool] = mapped_column(default=True)
    # Added by mistake: kept (nothing is deleted) but no longer counted or shown.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    meeting: Mapped[MeetingModel] = relationship(back_populates="attendance")


class ListingReadyModel(db.Model):  # type: ignore[name-defined,misc]
    """A member of the team has prepared this patient: read the referral, reviewed the imaging
    or the pathology. The list shows who is ready, so nobody is presented unprepared."""

    __tablename__ = "meeting_listing_ready"
    __table_args__ = (UniqueConstraint("listing_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("meeting_listing.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    discipline: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    listing: Mapped[ListingModel] = relationship(back_populates="ready")
    user: Mapped[UserModel] = relationship()
