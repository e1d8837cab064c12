"""A pathway's profile (`profile.json`, file kind "profile"): what generic code needs to know
about one pathway version in its own words (task ids, form fields), so no module names a
field of any pathway's forms.

It says the pathway's title and short name; the rows of the record summary; the care plan's
sections and out-of-hours contact; what the index date is; which role is the key worker, the
task that allocates one and the fields with their name and phone; the MDT list's columns
(the referral's question, the needs-assessment scores and the business rule task whose decision
table says which of them count);
the conditions the FHIR export reports; and that its measures are in `measures.json` (one
source: the standards report reads that file). A pathway without a profile works with
generic defaults (`generic_profile`). Checked on upload: the JSON Schema, then every task,
form, field and role it names against the pathway. docs/pathway-authoring.md explains it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from mdt.extensions import db
from mdt.models import PathwayFileModel, PathwayStatus, PathwayVersionModel
from mdt.models.roles import TASK_ROLES
from mdt.services.profile_schema import PROFILE_SCHEMA
from workflows import CompiledPathway, PathwayInvalidError, Problem, decision_tasks

PROFILE_FILE = "profile.json"
PROFILE_KIND = "profile"
# The product's own name, where no pathway names the service (no "pathway" in it: the
# header's "Pathways" link is found by that word).
GENERIC_TITLE = "Multidisciplinary care"


@dataclass(frozen=True)
class SummaryItem:
    label: str
    fields: tuple[str, ...]
    every_answer: bool = False
    source: str = ""


@dataclass(frozen=True)
class Referrals:
    """A care plan section listing the support a patient accepted."""

    forms: tuple[str, ...]
    when_field: str
    when_equals: Any
    answer_field: str
    otherwise: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CarePlanSection:
    heading: str
    field: str | None = None
    wording: dict[str, str] | None = None  # None: the answer as written
    referrals: Referrals | None = None


@dataclass(frozen=True)
class CarePlan:
    agreed_field: str | None = None
    out_of_hours_field: str | None = None
    sections: tuple[CarePlanSection, ...] = ()


@dataclass(frozen=True)
class IndexDate:
    task: str
    field: str
    wording: str


@dataclass(frozen=True)
class KeyWorker:
    role: str
    task: str
    name_field: str
    phone_field: str | None
    title: str


@dataclass(frozen=True)
class Needs:
    """The needs-assessment scores shown on the MDT list, and the business rule task whose
    decision table says what they lead to. No threshold: the table is its only source."""

    form: str
    fields: tuple[str, ...]
    decision_task: str | None = None


@dataclass(frozen=True)
class ConditionCode:
    display: str
    snomed: str
    snomed_display: str


@dataclass(frozen=True)
class Conditions:
    fields: tuple[str, ...]
    system: str
    prefixes: tuple[str, ...]
    codes: dict[str, ConditionCode]
    otherwise: ConditionCode


@dataclass(frozen=True)
class Profile:
    title: str
    short_name: str
    declared: bool = True  # False: the generic defaults of a pathway without profile.json
    email_subject_prefix: str | None = None
    episode_labels: dict[str, str] = field(default_factory=dict)
    summary: tuple[SummaryItem, ...] | None = None  # None: one row per form (generic)
    index_date: IndexDate | None = None
    key_worker: KeyWorker | None = None
    care_plan: CarePlan = CarePlan()
    question_field: str | None = None
    outcome_field: str | None = None
    informed_field: str | None = None
    needs: Needs | None = None
    conditions: Conditions | None = None

    @property
    def index_wording(self) -> str:
        return self.index_date.wording if self.index_date else "the pathway's index date"


def generic_profile(title: str) -> Profile:
    """What a pathway without a profile gets: its own title, a summary of its forms, no care
    plan sections, no key worker task, no MDT list columns."""
    return Profile(title=title, short_name=title, declared=False)


def parse_profile(raw: bytes) -> Profile:
    """A profile from its file (already checked: ValueError/KeyError/TypeError otherwise)."""
    doc = json.loads(raw)
    plan = doc.get("care_plan") or {}
    mdt_list = doc.get("mdt_list") or {}
    return Profile(
        title=doc["title"],
        short_name=doc["short_name"],
        email_subject_prefix=doc.get("email_subject_prefix"),
        episode_labels=dict(doc.get("episode_labels", {})),
        summary=_summary(doc["summary"]) if "summary" in doc else None,
        index_date=IndexDate(**doc["index_date"]) if "index_date" in doc else None,
        key_worker=_key_worker(doc["key_worker"]) if "key_worker" in doc else None,
        care_plan=CarePlan(
            agreed_field=plan.get("agreed_field"),
            out_of_hours_field=plan.get("out_of_hours_field"),
            sections=tuple(_section(s) for s in plan.get("sections", [])),
        ),
        question_field=mdt_list.get("question_field"),
        outcome_field=mdt_list.get("outcome_field"),
        informed_field=mdt_list.get("informed_field"),
        needs=_needs(mdt_list["needs"]) if "needs" in mdt_list else None,
        conditions=_conditions(doc["conditions"]) if "conditions" in doc else None,
    )


def _summary(items: list[dict[str, Any]]) -> tuple[SummaryItem, ...]:
    return tuple(
        SummaryItem(
            i["label"], tuple(i["fields"]), bool(i.get("every_answer")), i.get("source", "")
        )
        for i in items
    )


def _key_worker(doc: dict[str, Any]) -> KeyWorker:
    return KeyWorker(
        doc["role"], doc["task"], doc["name_field"], doc.get("phone_field"), doc["title"]
    )


def _section(doc: dict[str, Any]) -> CarePlanSection:
    ref = doc.get("referrals")
    referrals = (
        Referrals(
            tuple(ref["forms"]),
            ref["when"]["field"],
            ref["when"]["equals"],
            ref["answer_field"],
            dict(ref.get("otherwise", {})),
        )
        if ref
        else None
    )
    return CarePlanSection(doc["heading"], doc.get("field"), doc.get("wording"), referrals)


def _needs(doc: dict[str, Any]) -> Needs:
    return Needs(doc["form"], tuple(doc["fields"]), doc.get("decision_task"))


def _conditions(doc: dict[str, Any]) -> Conditions:
    return Conditions(
        tuple(doc["fields"]),
        doc["system"],
        tuple(doc["prefixes"]),
        {code: ConditionCode(**c) for code, c in doc["codes"].items()},
        ConditionCode(**doc["otherwise"]),
    )


# -- checks on upload ---------------------------------------------------------------


def _where(path: Any) -> str:
    return "/".join(str(p) for p in path) or "(the file)"


def profile_problems(
    raw: bytes, pathway: CompiledPathway, file_names: frozenset[str] = frozenset()
) -> list[Problem]:
    """Every problem with a profile: its JSON Schema, then what it names in the pathway. Each
    problem names the file and the place in it (e.g. care_plan/sections/2/field)."""
    try:
        doc = json.loads(raw)
    except ValueError as error:
        return [Problem(f"The profile is not valid JSON: {error}.", file=PROFILE_FILE)]
    shape = sorted(Draft202012Validator(PROFILE_SCHEMA).iter_errors(doc), key=lambda e: e.path)
    if shape:
        return [
            Problem(f"{_where(e.absolute_path)}: {e.message}", file=PROFILE_FILE)
            for e in shape[:20]
        ]
    checks = _Checks(pathway)
    checks.run(doc, file_names)
    return [Problem(message, file=PROFILE_FILE) for message in checks.found]


class _Checks:
    """What a valid-looking profile names, looked up in the compiled pathway."""

    def __init__(self, pathway: CompiledPathway) -> None:
        self.forms: dict[str, dict[str, Any]] = {
            name: schema for name, schema in pathway.forms.items() if isinstance(schema, dict)
        }
        self.tasks = {info.bpmn_id: info for info in pathway.user_tasks.values()}
        self.decision_tasks = decision_tasks(pathway)
        self.episode_kinds = {pathway.first_episode} | {
            e.episode for e in pathway.events.values() if e.episode
        }
        self.found: list[str] = []

    def _fields(self, form: str) -> dict[str, Any]:
        return self.forms.get(form, {}).get("properties") or {}

    def _any_field(self, path: str, name: str) -> None:
        if not any(name in self._fields(form) for form in self.forms):
            self.found.append(f"{path}: no form of this pathway has a field '{name}'.")

    def _form(self, path: str, form: str) -> bool:
        if form not in self.forms:
            self.found.append(f"{path}: this pathway has no form '{form}'.")
            return False
        return True

    def _task_form(self, path: str, task: str) -> str | None:
        info = self.tasks.get(task)
        if info is None:
            self.found.append(f"{path}: no user task '{task}' in the diagrams.")
            return None
        if not info.form:
            self.found.append(f"{path}: the task '{task}' has no form.")
        return info.form

    def _field_of(self, path: str, form: str | None, name: str, kind: str = "") -> None:
        prop = self._fields(form or "").get(name)
        if form and prop is None:
            self.found.append(f"{path}: the form '{form}' has no field '{name}'.")
        elif prop is not None and kind == "date" and prop.get("format") != "date":
            self.found.append(f"{path}: '{name}' is not a date field.")

    def run(self, doc: dict[str, Any], file_names: frozenset[str]) -> None:
        if "measures" in doc and doc["measures"] not in file_names:
            self.found.append(f"measures: the pathway has no file '{doc['measures']}'.")
        for n, item in enumerate(doc.get("summary", [])):
            for name in item["fields"]:
                self._any_field(f"summary/{n}/fields", name)
        for kind in doc.get("episode_labels", {}):
            if kind not in self.episode_kinds:
                self.found.append(f"episode_labels: the pathway has no episode of kind '{kind}'.")
        self._index_date(doc.get("index_date"))
        self._key_worker(doc.get("key_worker"))
        self._care_plan(doc.get("care_plan") or {})
        self._mdt_list(doc.get("mdt_list") or {})
        for name in (doc.get("conditions") or {}).get("fields", []):
            self._any_field("conditions/fields", name)

    def _index_date(self, doc: dict[str, Any] | None) -> None:
        if doc is None:
            return
        form = self._task_form("index_date/task", doc["task"])
        self._field_of("index_date/field", form, doc["field"], "date")
        info = self.tasks.get(doc["task"])
        if info is not None and info.properties.get("episodeDateField") != doc["field"]:
            self.found.append(
                f"index_date: the task '{doc['task']}' must date its episode by "
                f"'{doc['field']}' (its episodeDateField property)."
            )

    def _key_worker(self, doc: dict[str, Any] | None) -> None:
        if doc is None:
            return
        if doc["role"] not in {role.value for role in TASK_ROLES}:
            self.found.append(f"key_worker/role: no role '{doc['role']}'.")
        form = self._task_form("key_worker/task", doc["task"])
        self._field_of("key_worker/name_field", form, doc["name_field"])
        if doc.get("phone_field"):
            self._field_of("key_worker/phone_field", form, doc["phone_field"])

    def _care_plan(self, doc: dict[str, Any]) -> None:
        for key in ("agreed_field", "out_of_hours_field"):
            if key in doc:
                self._any_field(f"care_plan/{key}", doc[key])
        for n, section in enumerate(doc.get("sections", [])):
            path = f"care_plan/sections/{n}"
            if "field" in section:
                self._any_field(f"{path}/field", section["field"])
            ref = section.get("referrals")
            if ref:
                forms = [f for f in ref["forms"] if self._form(f"{path}/referrals/forms", f)]
                for form in forms:
                    self._field_of(f"{path}/referrals/when", form, ref["when"]["field"])
                if forms and not any(ref["answer_field"] in self._fields(f) for f in forms):
                    self.found.append(
                        f"{path}/referrals/answer_field: none of its forms has a field "
                        f"'{ref['answer_field']}'."
                    )
                for form in ref.get("otherwise", {}):
                    if form not in ref["forms"]:
                        self.found.append(f"{path}/referrals/otherwise: '{form}' is not listed.")

    def _mdt_list(self, doc: dict[str, Any]) -> None:
        for key in ("question_field", "outcome_field", "informed_field"):
            if key in doc:
                self._any_field(f"mdt_list/{key}", doc[key])
        needs = doc.get("needs")
        if needs and self._form("mdt_list/needs/form", needs["form"]):
            for name in needs["fields"]:
                self._field_of("mdt_list/needs/fields", needs["form"], name)
        task = (needs or {}).get("decision_task")
        if task and task not in self.decision_tasks:
            self.found.append(
                f"mdt_list/needs/decision_task: no business rule task '{task}' applies a "
                "decision table in the diagrams."
            )


def validated_profile(
    raw: bytes | None, pathway: CompiledPathway, file_names: frozenset[str]
) -> Profile | None:
    """The profile of files being published; PathwayInvalidError naming each problem."""
    if raw is None:
        return None
    problems = profile_problems(raw, pathway, file_names)
    if problems:
        raise PathwayInvalidError(problems)
    return parse_profile(raw)


# -- reading a stored version's profile ------------------------------------------------

_PROFILES: dict[str, Profile] = {}  # by version sha256; versions are few and never change


def profile_for(version: PathwayVersionModel) -> Profile:
    """The profile of a stored version (checked when it was published). A version published
    before its pathway had a profile borrows the newest profile of the same pathway: its
    patients, who may not be able to move to the new version, keep their record summary, key
    worker and care plan (the forms they answer are the same pathway's). Generic defaults
    only when no version of the pathway has one."""
    source = profile_source(version)
    raw = _own_profile(source)
    found = _PROFILES.get(source.sha256)
    if found is None:
        found = parse_profile(raw) if raw is not None else generic_profile(version.title)
        if raw is not None:  # a generic default may be replaced by a later profile
            _PROFILES[source.sha256] = found
    return found


def profile_source(version: PathwayVersionModel) -> PathwayVersionModel:
    """The version whose profile applies to ``version``: its own, or the newest of its
    pathway with one (see ``profile_for``). What the profile names (a decision task, say) is
    that version's."""
    if _own_profile(version) is not None:
        return version
    return _newest_with_profile(version.key) or version


_OWN: dict[str, bytes | None] = {}  # by version sha256: its own profile file, if any


def _own_profile(version: PathwayVersionModel) -> bytes | None:
    """The version's own profile file: read once per process (versions never change), and
    alone, not with the version's other files (megabytes of diagrams, on every page)."""
    if version.sha256 not in _OWN:
        _OWN[version.sha256] = db.session.scalar(
            select(PathwayFileModel.content).where(
                PathwayFileModel.pathway_version_id == version.id,
                PathwayFileModel.kind == PROFILE_KIND,
            )
        )
    return _OWN[version.sha256]


def _newest_with_profile(key: str) -> PathwayVersionModel | None:
    return db.session.scalar(
        select(PathwayVersionModel)
        .join(PathwayFileModel, PathwayFileModel.pathway_version_id == PathwayVersionModel.id)
        .where(
            PathwayVersionModel.key == key,
            PathwayVersionModel.status != PathwayStatus.DRAFT,
            PathwayFileModel.kind == PROFILE_KIND,
        )
        .order_by(PathwayVersionModel.version.desc())
        .limit(1)
    )


def service_profile(key: str) -> Profile:
    """What the layout, e-mails and new meetings call the service: the profile of pathway
    ``key``'s published version; the generic product's without one (or when the database
    cannot say, e.g. on an error page)."""
    generic = Profile(title=GENERIC_TITLE, short_name="", declared=False)
    try:
        version = db.session.scalar(
            select(PathwayVersionModel)
            .where(
                PathwayVersionModel.key == key,
                PathwayVersionModel.status == PathwayStatus.PUBLISHED,
            )
            .order_by(PathwayVersionModel.version.desc())
            .limit(1)
        )
    except SQLAlchemyError:
        return generic
    profile = profile_for(version) if version is not None else generic
    return profile if profile.declared else generic


def shipped_title(raw: bytes | None) -> str:
    """The title of a profile file as shipped (the API's title is set before any database is
    read); the generic product name without one."""
    try:
        return str(json.loads(raw)["title"]) if raw else GENERIC_TITLE
    except (ValueError, KeyError, TypeError):
        return GENERIC_TITLE
