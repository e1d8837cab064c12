"""What each standard of care is measured by: the KPIs of the standards dashboard.

Each KPI counts *cases*: rows of the task table for the tasks that show a need arose (an
HNA is due, a referral is needed, a GP letter is due). The pathway decides applicability —
a psychological referral task only exists when the HNA found distress or emotional concern
of 4 or more — so the report never re-implements the diagram's rules. A case is met when
the evidence (the case task itself, or a later task in the same called process) was done
within the KPI's period and, where the KPI says so, the form recorded what it should.

Periods and targets are local settings (`MDT_KPI_DAYS`, `MDT_KPI_TARGETS`); the defaults are
below. The clinical reference lists the measures (shared/clinical-reference.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Clock(StrEnum):
    # From the date the secondary diagnosis was confirmed: the episode's index date, which
    # the registration form's ``index_date`` field sets on the instance.
    INDEX = "index"
    TASK = "task"  # from the moment the case task appeared
    DUE = "due"  # by the case task's own due date (set by the pathway)


@dataclass(frozen=True)
class Condition:
    """What the evidence form must record for the case to count as met."""

    field: str
    # The field must hold one of these; empty: any non-empty text; "yes" fields are booleans.
    values: tuple[str, ...] = ()
    missed_label: str = ""
    yes: bool = False


@dataclass(frozen=True)
class Kpi:
    key: str
    code: str
    title: str
    case_tasks: tuple[str, ...]
    clock: Clock
    days: int | None  # the period for INDEX and TASK clocks; None: no time limit
    target: int  # percent
    evidence_tasks: tuple[str, ...] = ()  # empty: the case task itself is the evidence
    condition: Condition | None = None
    note: str = ""  # what the period counts, shown beside it

    @property
    def evidence(self) -> tuple[str, ...]:
        return self.evidence_tasks or self.case_tasks


# How a case's call path tells which event it followed (for the cohort filter).
COHORT_CALL_PATHS = {
    "progression": ("progression_subprocess",),
    "treatment_change": ("treatment_change_subprocess",),
}
COHORTS = {
    "all": "All patients",
    "new": "New secondary diagnoses",
    "progression": "Progressions",
    "treatment_change": "Treatment changes",
}

KPIS: tuple[Kpi, ...] = (
    Kpi(
        "is1_first_contact",
        "IS1",
        "First contact with the CNS key worker",
        ("cns_first_contact",),
        Clock.INDEX,
        14,
        90,
        note="days from the confirmed secondary diagnosis",
    ),
    Kpi(
        "is2_key_worker",
        "IS2",
        "Named CNS key worker allocated",
        ("allocate_key_worker",),
        Clock.INDEX,
        7,
        95,
        note="days from the confirmed secondary diagnosis",
    ),
    Kpi(
        "is3_hna",
        "IS3",
        "Holistic needs assessment offered at diagnosis, progression and treatment change",
        ("holistic_needs_assessment_task",),
        Clock.TASK,
        28,
        80,
        condition=Condition("offer", ("01", "02", "03", "05"), "Recorded as not offered"),
        note="days from the event",
    ),
    Kpi(
        "is4_psychological",
        "IS4",
        "Psychological and peer support referral when distress or emotional concern is 4+",
        ("refer_psychological",),
        Clock.TASK,
        14,
        90,
        note="days from the needs assessment",
    ),
    Kpi(
        "is5_financial",
        "IS5",
        "Financial and employment advice referral when needed",
        ("refer_financial",),
        Clock.TASK,
        14,
        90,
        note="days from the needs assessment",
    ),
    Kpi(
        "tc1_care_plan",
        "TC1",
        "Personalised care plan agreed",
        ("care_plan", "progression_care_plan", "treatment_change_care_plan"),
        Clock.TASK,
        14,
        90,
        note="days from the treatment planning consultation",
    ),
    Kpi(
        "tc1_trials",
        "TC1",
        "MDT outcomes with clinical trial eligibility considered",
        ("record_mdt_outcome",),
        Clock.TASK,
        None,
        80,
        condition=Condition(
            "trial_considered", ("eligible", "not_eligible"), "Trials not considered"
        ),
    ),
    Kpi(
        "tc2_mdt",
        "TC2",
        "Discussed by the MDT",
        ("mdt_referral",),
        Clock.TASK,
        28,
        90,
        evidence_tasks=("record_mdt_outcome",),
        note="days from the referral to the MDT outcome",
    ),
    Kpi(
        "tc3_mdt_gp",
        "TC3",
        "GP sent the MDT outcome by the end of the next working day",
        ("mdt_gp_letter",),
        Clock.DUE,
        None,
        95,
    ),
    Kpi(
        "tc3_plan_gp",
        "TC3",
        "GP told of the care plan or its change by the end of the next working day",
        ("inform_gp", "progression_inform_gp", "treatment_change_inform_gp"),
        Clock.DUE,
        None,
        95,
    ),
    Kpi(
        "pc1_palliative",
        "PC1",
        "Referral to specialist palliative care after a trigger",
        ("refer_palliative",),
        Clock.TASK,
        7,
        90,
        note="days from the trigger (ECOG 3+, surprise question, symptoms, MDT)",
    ),
    Kpi(
        "pc1_out_of_hours",
        "PC1",
        "Out-of-hours contacts recorded at the palliative care assessment",
        ("palliative_assessment",),
        Clock.TASK,
        None,
        95,
        condition=Condition(
            "out_of_hours_recorded", missed_label="Out-of-hours contacts not recorded", yes=True
        ),
    ),
    Kpi(
        "pc2_family",
        "PC2",
        "Family support offered when needed",
        ("refer_family",),
        Clock.TASK,
        14,
        90,
        note="days from the needs assessment",
    ),
    Kpi(
        "pc3_acp",
        "PC3",
        "Advance care planning conversation documented",
        ("acp_conversation",),
        Clock.TASK,
        28,
        80,
        note="days from the palliative care assessment",
    ),
    Kpi(
        "pc3_place",
        "PC3",
        "Preferred place of care recorded in the advance care plan",
        ("acp_conversation",),
        Clock.TASK,
        None,
        90,
        condition=Condition("preferred_place_of_care", (), "Preferred place of care not recorded"),
    ),
)
KPIS_BY_KEY = {kpi.key: kpi for kpi in KPIS}
