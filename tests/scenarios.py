"""Synthetic patients driven through the secondary breast cancer pathway.

Each scenario is a list of steps run by two drivers: the bare engine
(tests/engine/test_scenarios_engine.py) and the application's services with a database
(tests/test_scenarios_app.py). Answers not given are the form's example answers (first
option, lowest value), which raise no concern.

Steps:
  ("ready", {task name: (role, due working days)})  exactly these tasks are waiting
  ("do", task name, {answers})                       complete the task
  ("event", message, {payload})                      progression or treatment change
  ("close", reason)                                  death, discharge or transfer
  ("timer",)                                         a timer is waiting (next review)
"""

from __future__ import annotations

from typing import Any

Step = tuple[Any, ...]

DIAGNOSIS = {
    "index_date": "2026-11-02",
    "sites": ["C78.7", "C79.5"],
    "de_novo": False,
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "ecog": 1,
}
NO_CONCERNS = {
    "trigger": "diagnosis",
    "offer": "01",
    "physical": 1,
    "practical": 0,
    "emotional": 2,
    "family": 0,
    "spiritual": 0,
    "distress": 2,
    "uncontrolled_symptoms": False,
    "of_working_age_or_working": False,
    "wants_family_support": False,
}
HIGH_NEEDS = {
    **NO_CONCERNS,
    "emotional": 7,
    "practical": 6,
    "family": 7,
    "distress": 8,
    "of_working_age_or_working": True,
}
ONCOLOGY = {"surprise_question": "yes", "trial": "considered_not_suitable", "treatment_line": 1}

START = [
    ("ready", {"Register secondary diagnosis": ("coordinator", 1)}),
    ("do", "Register secondary diagnosis", DIAGNOSIS),
    ("ready", {"Allocate a CNS key worker": ("coordinator", 2)}),
    ("timer",),
    ("do", "Allocate a CNS key worker", {"key_worker_name": "Alex Patel"}),
    (
        "ready",
        {"List for MDT review": ("coordinator", 2), "First contact with key worker": ("cns", 5)},
    ),
    ("do", "First contact with key worker", {}),
    (
        "ready",
        {"List for MDT review": ("coordinator", 2), "Holistic needs assessment": ("cns", 10)},
    ),
]
MDT = [
    ("do", "List for MDT review", {"clinical_question": "First-line treatment?"}),
    ("do", "Record MDT outcome", {"discussion": "discussed", "performance_status": 1}),
    ("do", "Send the MDT outcome to the GP", {"patient_informed": True}),
]
PLAN = [
    ("ready", {"Treatment planning consultation": ("oncologist", 10)}),
    ("do", "Treatment planning consultation", ONCOLOGY),
    ("ready", {"Agree personalised care plan": ("cns", 5)}),
    ("do", "Agree personalised care plan", {"format": ["printed"]}),
    ("ready", {"Inform GP of the plan": ("coordinator", 1)}),
    ("do", "Inform GP of the plan", {"content": ["diagnosis", "plan", "key_worker"]}),
]

NO_EXTRA_NEEDS: list[Step] = [
    *START,
    ("do", "Holistic needs assessment", NO_CONCERNS),
    ("ready", {"List for MDT review": ("coordinator", 2)}),
    *MDT,
    *PLAN,
    ("ready", {}),
    ("timer",),
]

HIGH_DISTRESS_FINANCIAL_FAMILY: list[Step] = [
    *START,
    ("do", "Holistic needs assessment", HIGH_NEEDS),
    (
        "ready",
        {
            "List for MDT review": ("coordinator", 2),
            "Refer for psychological and peer support": ("cns", 5),
            "Refer for financial and employment advice": ("cns", 5),
            "Offer family support": ("cns", 5),
        },
    ),
    (
        "do",
        "Refer for psychological and peer support",
        {"referred": "referred", "services": ["psychology", "peer_support"]},
    ),
    (
        "do",
        "Refer for financial and employment advice",
        {"referred": "referred", "services": ["benefits_advice"]},
    ),
    ("do", "Offer family support", {"referred": "referred", "services": ["talking_guidance"]}),
    ("ready", {"List for MDT review": ("coordinator", 2)}),
    *MDT,
    *PLAN,
    ("ready", {}),
]

CHANGE = [
    ("do", "Holistic needs assessment", {**NO_CONCERNS, "trigger": "progression"}),
    ("ready", {"List for MDT review": ("coordinator", 2)}),
    *MDT,
]
PROGRESSES_TWICE_AND_CHANGES_TREATMENT: list[Step] = [
    *NO_EXTRA_NEEDS,
    ("event", "progression", {"date": "2027-01-10", "sites": ["C78.0"]}),
    ("ready", {"Holistic needs assessment": ("cns", 10)}),
    *CHANGE,
    ("ready", {"Treatment planning consultation": ("oncologist", 10)}),
    ("do", "Treatment planning consultation", {**ONCOLOGY, "treatment_line": 2}),
    ("ready", {"Update personalised care plan": ("cns", 5)}),
    ("do", "Update personalised care plan", {"format": ["digital"]}),
    ("ready", {"Inform GP of the change": ("coordinator", 1)}),
    ("do", "Inform GP of the change", {"content": ["change"]}),
    ("ready", {}),
    ("event", "progression", {"date": "2027-04-02", "sites": ["C79.3"]}),
    ("ready", {"Holistic needs assessment": ("cns", 10)}),
    *CHANGE,
    ("do", "Treatment planning consultation", {**ONCOLOGY, "treatment_line": 3}),
    ("do", "Update personalised care plan", {}),
    ("do", "Inform GP of the change", {"content": ["change"]}),
    ("ready", {}),
    ("event", "treatment_change", {"line": 4, "decision_to_treat_date": "2027-05-01"}),
    ("ready", {"Holistic needs assessment": ("cns", 10)}),
    *CHANGE,
    ("ready", {"Update personalised care plan": ("cns", 5)}),
    ("do", "Update personalised care plan", {}),
    ("do", "Inform GP of the change", {"content": ["change", "plan"]}),
    ("ready", {}),
]

PALLIATIVE_TRIGGERED: list[Step] = [
    *START,
    ("do", "Holistic needs assessment", NO_CONCERNS),
    *MDT,
    ("do", "Treatment planning consultation", {**ONCOLOGY, "surprise_question": "no"}),
    ("do", "Agree personalised care plan", {}),
    ("do", "Inform GP of the plan", {}),
    ("ready", {"Refer to specialist palliative care": ("cns", 2)}),
    (
        "do",
        "Refer to specialist palliative care",
        {"triggers": ["surprise_question"], "urgency": "urgent"},
    ),
    ("ready", {"Specialist palliative care assessment": ("palliative", 5)}),
    ("do", "Specialist palliative care assessment", {"out_of_hours_recorded": True}),
    ("ready", {"Advance care planning conversation": ("palliative", 20)}),
    (
        "do",
        "Advance care planning conversation",
        {"preferred_place_of_care": "home", "preferred_place_of_death": "hospice"},
    ),
    ("ready", {"Share the advance care plan": ("coordinator", 2)}),
    ("do", "Share the advance care plan", {"shared_with": ["gp", "community_team"]}),
    ("ready", {}),
    ("timer",),
]

DIES_MID_PATHWAY: list[Step] = [
    *START,
    ("do", "Holistic needs assessment", NO_CONCERNS),
    ("close", "death"),
    ("ready", {}),
]

SCENARIOS: dict[str, list[Step]] = {
    "no extra needs": NO_EXTRA_NEEDS,
    "high distress, financial and family concerns": HIGH_DISTRESS_FINANCIAL_FAMILY,
    "progresses twice and changes treatment": PROGRESSES_TWICE_AND_CHANGES_TREATMENT,
    "palliative needs trigger referral and advance care planning": PALLIATIVE_TRIGGERED,
    "dies mid-pathway": DIES_MID_PATHWAY,
}
