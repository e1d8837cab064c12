"""Patients: register, find, and view a record (every view is audited)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from mdt import clock
from mdt.extensions import db
from mdt.models import (
    HumanTaskModel,
    InstanceStatus,
    PathwayInstanceModel,
    PathwayVersionModel,
    PatientIdentifierModel,
    PatientModel,
    TaskStatus,
)
from mdt.models.roles import Role
from mdt.services import nhs_number
from mdt.services.actor import Actor
from mdt.services.audit import record_event
from mdt.services.episodes import episodes_of
from mdt.services.errors import (
    DuplicatePatientError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from mdt.services.instances import begin_pathway
from mdt.services.pathway_choice import (
    default_pathway_key,
    pathway_key_problem,
    startable_pathways,
)
from mdt.services.patient_contact import ContactDetails, apply_contact, checked
from mdt.services.patient_identity import (
    clean_name,
    fold,
    mrn_value,
    name_problem,
    nhs_digits,
    search_name,
)
from mdt.services.patient_standards import EpisodeCard, patient_scorecard
from mdt.services.policy import RECORD_ROLES
from mdt.services.record_sections import PathwaySection, pathway_sections
from mdt.services.record_views import (
    SummaryRow,
    TimelineEntry,
    clinical_summary,
    timeline,
)
from mdt.services.settings import setting


@dataclass(frozen=True)
class PatientRecord:
    patient: PatientModel
    instances: list[PathwayInstanceModel]
    open_tasks: list[HumanTaskModel]
    history: list[HumanTaskModel]
    summary: list[SummaryRow]
    timeline: list[TimelineEntry]
    scorecard: list[EpisodeCard]
    # One per pathway the patient has been on, the latest first: the page shows each apart.
    sections: list[PathwaySection]


# Administrative sex as the PAS records it (the FHIR and HL7 v2 codes for each are fixed).
SEXES = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"}
# A hospital number: letters and digits (a slash or hyphen inside), stored in capitals.
_MRN = re.compile(r"[A-Z0-9](?:[A-Z0-9/-]{0,18}[A-Z0-9])?")
# The registration's fields in the order the form asks them: every problem is reported at
# once, in this order (the error summary reads top to bottom like the page).
REGISTRATION_FIELDS = (
    "nhs_number",
    "mrn",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "address_lines",
    "postcode",
    "wants_letter_copies",
    "consultant_name",
    "gp_practice_code",
    "gp_practice",
    "gp_practice_address_lines",
    "pathway_key",
)


@dataclass(frozen=True)
class Identity:
    """Who the hospital knows the patient as, beyond the NHS number and names. ``sex`` is
    one of SEXES; "" means the question was asked and not answered (None: not asked, as an
    API client that does not send it)."""

    sex: str | None = None
    mrn: str | None = None
    consultant_name: str | None = None


class DuplicateIdentifierError(DuplicatePatientError):
    """The NHS number or hospital number belongs to a registered patient; ``field`` says
    which, ``existing_id`` which patient (the surviving record after a merge)."""

    def __init__(self, message: str, existing_id: int, field: str):
        self.field = field
        super().__init__(message, existing_id)


def in_form_order(errors: dict[str, str]) -> dict[str, str]:
    """Problems in the order the registration form asks (unknown fields last)."""
    rank = {name: index for index, name in enumerate(REGISTRATION_FIELDS)}
    return dict(sorted(errors.items(), key=lambda item: rank.get(item[0], len(rank))))


def _name(errors: dict[str, str], field: str, raw: str | None, what: str, limit: int) -> str:
    """A name or other free text as it will be stored (NFC), or a problem in ``errors``."""
    problem = name_problem(raw)
    text = clean_name(raw)
    if problem:
        errors[field] = problem
    elif len(text) > limit:
        errors[field] = f"{what} must be {limit} characters or fewer"
    return text


def registration_problems(
    nhs: str,
    given_name: str,
    family_name: str,
    date_of_birth: date | None,
    gp_practice: str | None,
    contact: ContactDetails,
    identity: Identity,
    date_of_birth_unreal: bool = False,
) -> tuple[dict[str, str], ContactDetails]:
    """Every problem with a registration at once, in form order, and the contact details
    tidied."""
    contact, contact_errors = checked(contact)
    errors = {}
    problem = nhs_number.problem_with(nhs, bool(setting("MDT_ALLOW_TEST_NHS_NUMBERS")))
    if problem:
        errors["nhs_number"] = problem
    mrn = mrn_value(identity.mrn)
    if mrn and not _MRN.fullmatch(mrn):
        errors["mrn"] = "Hospital number (MRN) must be letters and numbers, 20 characters or fewer"
    if not _name(errors, "given_name", given_name, "First name", 100):
        errors.setdefault("given_name", "Enter the patient's first name")
    if not _name(errors, "family_name", family_name, "Last name", 100):
        errors.setdefault("family_name", "Enter the patient's last name")
    if date_of_birth_unreal:
        errors["date_of_birth"] = "Date of birth must be a real date"
    elif date_of_birth is None:
        errors["date_of_birth"] = "Enter the patient's date of birth"
    elif date_of_birth > clock.today():
        errors["date_of_birth"] = "Date of birth must be in the past"
    elif date_of_birth.year < 1880:
        errors["date_of_birth"] = "Date of birth must be after 1880"
    if identity.sex == "":
        errors["sex"] = "Select the patient's sex"
    elif identity.sex is not None and identity.sex not in SEXES:
        errors["sex"] = "Sex must be female, male, other or unknown"
    _name(errors, "consultant_name", identity.consultant_name, "Consultant's name", 200)
    _name(errors, "gp_practice", gp_practice, "GP practice name", 200)
    errors.update(contact_errors)
    return in_form_order(errors), contact


def register_patient(
    actor: Actor,
    nhs: str,
    given_name: str,
    family_name: str,
    date_of_birth: date | None,
    gp_practice: str | None,
    start: bool = True,
    contact: ContactDetails | None = None,
    identity: Identity | None = None,
    date_of_birth_unreal: bool = False,
    pathway_key: str | None = None,
) -> PatientModel:
    """Register a patient and start their pathway, in one transaction. ``pathway_key``: the
    published pathway to start (None: the default, ``MDT_DEFAULT_PATHWAY``, or the only one
    published); an unknown or unpublished one is reported with the other problems. ``contact``: their
    address, GP practice code and address, and whether they want copies of letters;
    ``identity``: sex, hospital number, consultant. ``date_of_birth_unreal``: what was typed
    is no date (31 February), reported with every other problem at once.

    The NHS number is stored as ASCII digits whatever script it was typed in, names as NFC
    text with their folded ``search_name``, and the NHS number and hospital number are
    recorded as identifiers the patient has had. A number already registered (or retired by
    a merge into a registered record) is a DuplicateIdentifierError naming that record, also
    when two registrations race (the database's unique NHS number decides)."""
    if not actor.has_role(Role.COORDINATOR, Role.CNS):
        raise PermissionDeniedError("Only coordinators and nurses register patients.")
    identity = identity or Identity()
    errors, contact = registration_problems(
        nhs,
        given_name,
        family_name,
        date_of_birth,
        gp_practice,
        contact or ContactDetails(),
        identity,
        date_of_birth_unreal,
    )
    if start:
        choices = startable_pathways()
        pathway_key = pathway_key or default_pathway_key(choices)
        problem = pathway_key_problem(pathway_key, choices)
        if problem:
            errors = in_form_order({**errors, "pathway_key": problem})
    number = nhs_number.normalise(nhs)
    mrn = mrn_value(identity.mrn) or None
    # Someone already registered comes first, whatever else is wrong: there is nothing
    # to correct, only their record to open.
    _refuse_duplicates(None if "nhs_number" in errors else number, None if "mrn" in errors else mrn)
    if errors:
        raise InvalidInputError(errors)
    assert date_of_birth is not None
    given, family = clean_name(given_name), clean_name(family_name)
    patient = PatientModel(
        nhs_number=number,
        given_name=given,
        family_name=family,
        search_name=search_name(given, family),
        date_of_birth=date_of_birth,
        sex=identity.sex or None,
        mrn=mrn,
        consultant_name=clean_name(identity.consultant_name) or None,
        gp_practice=clean_name(gp_practice) or None,
        created_by_id=actor.user_id,
    )
    apply_contact(patient, contact)
    db.session.add(patient)
    try:
        db.session.flush()
    except IntegrityError:
        # Registered by someone else between our check and our insert.
        db.session.rollback()
        _refuse_duplicates(number, mrn)
        raise
    for system, value in (("nhs", number), ("mrn", mrn)):
        if value:
            db.session.add(
                PatientIdentifierModel(
                    patient_id=patient.id, system=system, value=value, source="registration"
                )
            )
    record_event(
        actor,
        "patient.registered",
        patient_id=patient.id,
        object_type="patient",
        object_id=patient.id,
    )
    if start:
        assert pathway_key is not None
        begin_pathway(actor, patient.id, pathway_key)
    db.session.commit()
    return patient


def surviving_record(patient_id: int) -> int:
    """The record a patient's data now lives on: itself, or where merges folded it."""
    seen = {patient_id}
    while True:
        onward = db.session.scalar(
            select(PatientModel.merged_into_id).where(PatientModel.id == patient_id)
        )
        if onward is None or onward in seen:
            return patient_id
        seen.add(onward)
        patient_id = onward


def holder_of(system: str, value: str) -> int | None:
    """The (surviving) patient an NHS number ('nhs') or hospital number ('mrn') belongs
    to, now or before a merge or a correction; None when nobody has had it."""
    column = PatientModel.nhs_number if system == "nhs" else PatientModel.mrn
    found = db.session.scalar(select(PatientModel.id).where(column == value).limit(1))
    if found is None:
        found = db.session.scalar(
            select(PatientIdentifierModel.patient_id)
            .where(PatientIdentifierModel.system == system, PatientIdentifierModel.value == value)
            .limit(1)
        )
    return None if found is None else surviving_record(found)


def _refuse_duplicates(number: str | None, mrn: str | None) -> None:
    existing = holder_of("nhs", number) if number else None
    if number and existing is not None:
        spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
        raise DuplicateIdentifierError(
            f"A patient with NHS number {spaced} is already registered.", existing, "nhs_number"
        )
    existing = holder_of("mrn", mrn) if mrn else None
    if existing is not None:
        raise DuplicateIdentifierError(
            f"Hospital number {mrn} belongs to a patient already registered.", existing, "mrn"
        )


def pathway_problem(patient_id: int) -> str | None:
    """Why the patient's latest pathway is paused (it could not start or could not go on),
    or None when it is not."""
    latest = db.session.scalars(
        select(PathwayInstanceModel)
        .where(PathwayInstanceModel.patient_id == patient_id)
        .order_by(PathwayInstanceModel.started_at.desc(), PathwayInstanceModel.id.desc())
        .limit(1)
    ).first()
    if latest is None or latest.status != InstanceStatus.ERROR:
        return None
    return latest.error_message or "Unknown error"


def view_patient(actor: Actor, patient_id: int) -> PatientRecord:
    if not actor.has_role(*RECORD_ROLES):
        raise PermissionDeniedError("Your role does not give access to patient records.")
    patient = db.session.get(PatientModel, patient_id)
    if patient is None:
        raise NotFoundError("No such patient")
    instances = list(
        db.session.scalars(
            select(PathwayInstanceModel)
            .where(PathwayInstanceModel.patient_id == patient_id)
            .order_by(PathwayInstanceModel.started_at.desc())
        )
    )
    tasks = list(
        db.session.scalars(
            select(HumanTaskModel)
            .where(HumanTaskModel.patient_id == patient_id)
            .order_by(HumanTaskModel.created_at.desc(), HumanTaskModel.id.desc())
        )
    )
    record_event(
        actor, "patient.viewed", patient_id=patient_id, object_type="patient", object_id=patient_id
    )
    db.session.commit()
    history = [t for t in tasks if t.status != TaskStatus.READY]
    sections = pathway_sections(patient_id, instances, tasks)
    if len(sections) == 1:  # one pathway: the whole record is its section
        only = sections[0]
        summary, events, scorecard = only.summary, only.timeline, only.scorecard
    else:
        summary = clinical_summary(
            (t for t in history if t.status == TaskStatus.COMPLETED),
            episodes_of([i.id for i in instances]),
        )
        events, scorecard = timeline(patient_id, history), patient_scorecard(patient_id)
    return PatientRecord(
        patient=patient,
        instances=instances,
        open_tasks=[t for t in tasks if t.status == TaskStatus.READY],
        history=history,
        summary=summary,
        timeline=events,
        scorecard=scorecard,
        sections=sections,
    )


@dataclass(frozen=True)
class PathwayView:
    """A patient's current (or last) pathway episode and its tasks."""

    instance: PathwayInstanceModel
    open_tasks: list[HumanTaskModel]
    completed_tasks: list[HumanTaskModel]


def read_patient(actor: Actor, patient_id: int, part: str = "details") -> PatientModel:
    """One patient, for a role that may see records; every read is audited with what part
    of the record was read (the API's details, pathway or FHIR export)."""
    if not actor.has_role(*RECORD_ROLES):
        raise PermissionDeniedError("Your role does not give access to patient records.")
    patient = db.session.get(PatientModel, patient_id)
    if patient is None:
        raise NotFoundError("No such patient")
    record_event(
        actor,
        "patient.viewed",
        patient_id=patient_id,
        object_type="patient",
        object_id=patient_id,
        detail={"part": part},
    )
    db.session.commit()
    return patient


def patient_pathway(actor: Actor, patient_id: int, key: str | None = None) -> PathwayView:
    """The patient's latest pathway on ``key``; without one, their latest on the default
    pathway (``MDT_DEFAULT_PATHWAY``, where events are recorded) if they were ever on it,
    else their latest."""
    read_patient(actor, patient_id, "pathway")
    query = (
        select(PathwayInstanceModel)
        .join(PathwayInstanceModel.pathway_version)
        .where(PathwayInstanceModel.patient_id == patient_id)
    )
    if key:
        query = query.where(PathwayVersionModel.key == key)
    preferred = case((PathwayVersionModel.key == str(setting("MDT_DEFAULT_PATHWAY")), 0), else_=1)
    instance = db.session.scalar(
        query.order_by(
            preferred, PathwayInstanceModel.started_at.desc(), PathwayInstanceModel.id.desc()
        ).limit(1)
    )
    if instance is None:
        raise NotFoundError("This patient has no pathway.")
    tasks = list(
        db.session.scalars(
            select(HumanTaskModel)
            .where(HumanTaskModel.instance_id == instance.id)
            .order_by(HumanTaskModel.created_at, HumanTaskModel.id)
        )
    )
    return PathwayView(
        instance,
        [t for t in tasks if t.status == TaskStatus.READY],
        [t for t in tasks if t.status == TaskStatus.COMPLETED],
    )


# Where a word starts inside a folded name: after a space, a hyphen or an apostrophe
# ("smith-jones", "o'brien"), so "jones" and "brien" find them.
_WORD_BREAKS = (" ", "-", "'", "\u2019")
_QUERY_WORDS = re.compile(r"[\s,;]+")
_ORDINAL = re.compile(r"(?<=[0-9])(st|nd|rd|th)\b", re.IGNORECASE)
_DATE_FORMATS = (
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%d %m %Y",
    "%Y-%m-%d",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d %Y",
    "%b %d %Y",
)
# A partial NHS number needs its first three digits: fewer would list patients at random.
MIN_NHS_PREFIX = 3


def typed_date(text: str) -> date | None:
    """A date of birth as staff type it: 12/03/1950, 12-3-1950, 12 March 1950, 12th Mar
    1950, 1950-03-12 (any script's digits); None when it is not one."""
    plain = "".join(
        str(int(ch)) if ch.isdecimal() else ch for ch in unicodedata.normalize("NFKC", text)
    )
    plain = " ".join(_ORDINAL.sub("", plain.replace(",", " ")).split())
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(plain, pattern).date()
        except ValueError:
            continue
    return None


def _like_escaped(text: str) -> str:
    """``text`` matched literally by LIKE ... ESCAPE '\\': a typed % or _ is no wildcard."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _starts_a_word(word: str) -> ColumnElement[bool]:
    """The folded name has a word starting with ``word`` (already folded)."""
    escaped = _like_escaped(word)
    column = PatientModel.search_name
    # Both without apostrophes too: "obrien" finds O'Brien, typed with any apostrophe. Only
    # names holding one are rewritten (the rewrite on every row doubled a name search).
    bare = func.replace(func.replace(column, "'", ""), "\u2019", "")
    bare_word = _like_escaped(word.replace("'", "").replace("\u2019", ""))
    return or_(
        column.like(f"{escaped}%", escape="\\"),
        *(column.like(f"%{mark}{escaped}%", escape="\\") for mark in _WORD_BREAKS),
        and_(
            or_(column.like("%'%"), column.like("%\u2019%")),
            (literal(" ") + bare).like(f"% {bare_word}%", escape="\\"),
        ),
    )


def _readings(text: str) -> list[Select[int, int | None]]:
    """What the typed text can mean, each its own query for (id, merged_into_id) so that
    each uses its own index: an NHS number (whole, or its start), a hospital number, an old
    NHS or hospital number (from the identifiers a patient has had), a date of birth, or
    names (a scan of the folded names: a word-start anywhere cannot use a B-tree index)."""
    digits = nhs_digits(text)
    mrn = mrn_value(text)
    patients = select(PatientModel.id, PatientModel.merged_into_id)
    readings: list[Select[int, int | None]] = []

    def had(system: str, values: list[str]) -> None:
        readings.append(
            patients.join(
                PatientIdentifierModel, PatientIdentifierModel.patient_id == PatientModel.id
            ).where(
                PatientIdentifierModel.system == system, PatientIdentifierModel.value.in_(values)
            )
        )

    all_digits = re.fullmatch(r"[0-9]+", digits) is not None
    if all_digits and MIN_NHS_PREFIX <= len(digits) <= 10:
        readings.append(
            patients.where(
                PatientModel.nhs_number.between(digits.ljust(10, "0"), digits.ljust(10, "9"))
            )
        )
        if len(digits) == 10:
            had("nhs", [digits])
    one_word = len(text.split()) == 1
    if mrn and len(mrn) <= 20 and (one_word or any(ch.isdigit() for ch in mrn)):
        # Stored in capitals by registration; as received by other feeds.
        spellings = sorted({mrn, text.strip(), text.strip().lower()})
        readings.append(patients.where(PatientModel.mrn.in_(spellings)))
        had("mrn", spellings)
    born = typed_date(text)
    if born is not None:
        readings.append(patients.where(PatientModel.date_of_birth == born))
    elif not all_digits:
        words = [word for word in _QUERY_WORDS.split(fold(text)) if word]
        if words:
            # Ids alone: SQLite reads them from the search_name index (about half the pages
            # of the table); PostgreSQL scans the table either way.
            named = select(PatientModel.id).where(*(_starts_a_word(word) for word in words))
            readings.append(patients.where(PatientModel.id.in_(named)))
    return readings


def matching_ids(text: str) -> Select[tuple[int]]:
    """The ids of the (surviving) patients that ``text`` finds: every reading of it, and
    for a record merged into another, the record it was merged into instead."""
    readings = _readings(text) or [
        select(PatientModel.id, PatientModel.merged_into_id).where(literal(False))
    ]
    hits = (union(*readings) if len(readings) > 1 else readings[0]).subquery("hits")
    chain = select(hits.c.id, hits.c.merged_into_id).cte("matched", recursive=True)
    onward = aliased(PatientModel)
    chain = chain.union(
        select(onward.id, onward.merged_into_id).join(chain, onward.id == chain.c.merged_into_id)
    )
    return select(chain.c.id).where(chain.c.merged_into_id.is_(None))


def patient_matches(text: str) -> ColumnElement[bool]:
    """What staff type to find a patient, as a condition on the patient table (see
    find_patients for what it finds)."""
    return PatientModel.id.in_(matching_ids(text))


def find_patients(actor: Actor, query: str, limit: int = 50) -> list[PatientModel]:
    """Patients by what staff type, audited with what was typed and how many were found:

    - names in any order, each word the start of a word of the name, accents and case
      ignored ("Edith Cavell", "cavell edith", "cav edi", "Élise" for "Elise");
    - an NHS number with or without spaces, or its start from 3 digits ("999 246");
    - a date of birth (12/03/1950, 12 March 1950, 1950-03-12);
    - a hospital number (MRN), whole;
    - an old NHS number or hospital number (retired by a merge or corrected): the record it
      now belongs to. Records merged into another are never listed themselves.

    What is typed is literal: % and _ are no wildcards.
    """
    if not actor.has_role(*RECORD_ROLES):
        raise PermissionDeniedError("Your role does not give access to patient records.")
    query = query.strip()[:200]
    if not query:
        return []
    patients = list(
        db.session.scalars(
            select(PatientModel)
            .where(patient_matches(query))
            .order_by(PatientModel.family_name, PatientModel.given_name, PatientModel.id)
            .limit(limit)
        )
    )
    record_event(actor, "patient.searched", detail={"query": query, "results": len(patients)})
    db.session.commit()
    return patients
