"""ORM models. Every class ends in Model so it never shares a name with an engine object."""

from mdt.models.audit import AuditEventModel
from mdt.models.closing import ClosingEventModel
from mdt.models.episode import EpisodeModel
from mdt.models.hl7 import DeathNotificationModel, Hl7MessageModel
from mdt.models.instance import InstanceStatus, PathwayInstanceModel
from mdt.models.meeting import (
    AttendanceModel,
    ListingModel,
    ListingReadyModel,
    ListingStatus,
    MeetingModel,
    MeetingSeriesModel,
    MeetingStatus,
)
from mdt.models.notification import NotificationModel
from mdt.models.outside_meeting import OutsideMeetingDecisionModel
from mdt.models.pathway import PathwayFileModel, PathwayStatus, PathwayVersionModel
from mdt.models.patient import PatientIdentifierModel, PatientModel
from mdt.models.report import ReportCaseModel, ReportProjectionModel
from mdt.models.session import SessionModel
from mdt.models.task import HumanTaskModel, TaskStatus, TimerModel
from mdt.models.token import ApiTokenModel
from mdt.models.user import UserModel, UserRoleModel

__all__ = [
    "ApiTokenModel",
    "AttendanceModel",
    "AuditEventModel",
    "ClosingEventModel",
    "DeathNotificationModel",
    "EpisodeModel",
    "Hl7MessageModel",
    "HumanTaskModel",
    "InstanceStatus",
    "ListingModel",
    "ListingReadyModel",
    "ListingStatus",
    "MeetingModel",
    "MeetingSeriesModel",
    "MeetingStatus",
    "NotificationModel",
    "OutsideMeetingDecisionModel",
    "PathwayFileModel",
    "PathwayInstanceModel",
    "PathwayStatus",
    "PathwayVersionModel",
    "PatientIdentifierModel",
    "PatientModel",
    "ReportCaseModel",
    "ReportProjectionModel",
    "SessionModel",
    "TaskStatus",
    "TimerModel",
    "UserModel",
    "UserRoleModel",
]
