"""Synthetic patients driven through the secondary breast cancer pathway.

Each scenario is a list of steps run by two drivers: the bare engine
(tests/engine/test_scenarios_engine.py) and the application's services with a database
(tests/test_scenarios_app.py), each from several starting instants (tests/timing.py). Answers
not given are the form's example answers (first option, lowest value, today's date), which
raise no concern. Dates are relative to the day the step runs: ``Day(-3)`` is three days ago;
``None`` leaves a question unanswered.

Steps:
  ("ready", {task name: (role, due working days)})  exactly these tasks are waiting; each is
                                                     due that many working days after it
                                                     appeared, as the diagram declares
  ("do", task name, {answers})                       complete the task
  ("event", name, {answers})                         record an event the pathway declares
  ("wait", days)                                     the clock moves on; due timers fire
  ("timers", n)                                      n timers are waiting
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

Step = tuple[Any, ...]


@dataclass(frozen=True)
class Day:
    """A date relative to the day the step runs (resolved by the driver)."""

    offset: int


def resolve(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers with each ``Day`` turned into the ISO date it stands for today."""
    from mdt import clock

    today = clock.today()
    return {
        key: (today + timedelta(days=value.offset)).isoformat() if isinstance(value, Day) else value
        for key, value in answers.items()
    }


DIAGNOSIS = {
    "index_date": Day(-14),
    "sites": ["C78.7", "C79.5"],
    "de_novo": False,
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "ecog": 1,
    "in_work": "no",
}
NO_CONCERNS = {
    "offer": "01",
    "physical": 1,
    "practical": 0,
    "emotional": 2,
    "family": 0,
    "spiritual": 0,
    "information": 1,
    "distress": 2,
    "uncontrolled_symptoms": False,
    "wants_family_support": False,
}
HIGH_NEEDS = {**NO_CONCERNS, "emotional": 7, "practical": 6, "family": 7, "distress": 8}
ONCOLOGY = {"surprise_question": "yes", "trial": "considered_not_suitable", "treatment_line": 1}
DECLINED = {"outcome": "declined", "reoffer_on": None}

# Everything that starts at once after registration, beside each other.
TRACKS = {
    "Allocate a CNS key worker": ("coordinator", 2),
    "First contact with key worker": ("cns", 5),
    "Holistic needs assessment": ("cns", 10),
    "List for MDT review": ("coordinator", 1),
    "Advance care planning conversation": ("cns", 20),
    "Offer family support": ("cns", 10),
}
FINANCIAL = {"Offer financial and employment advice": ("cns", 10)}
AFTER_OUTCOME = {
    **{name: due for name, due in TRACKS.items() if name != "List for MDT review"},
    "Send the MDT outcome to the GP": ("coordinator", 1),
    "Treatment planning consultation": ("oncologist", 10),
}
PALLIATIVE = {"Refer to specialist palliative care": ("cns", 2)}
REGISTER = [
    ("ready", {"Register secondary diagnosis": ("coordinator", 1)}),
    ("timers", 0),
    ("do", "Register secondary diagnosis", DIAGNOSIS),
    ("ready", TRACKS),
    ("timers", 2),  # the key worker escalation and the first 4-weekly review
]
SUPPORT_ACCEPTED = [
    ("do", "Allocate a CNS key worker", {"key_worker_name": "Alex Patel"}),
    ("do", "First contact with key worker", {}),
    ("do", "Offer family support", {}),
    ("do", "Advance care planning conversation", {"review_date": Day(90)}),
    ("do", "Share the advance care plan", {}),
]
MDT_AND_PLAN = [
    ("do", "List for MDT review", {"clinical_question": "First-line treatment?"}),
    ("do", "Record MDT outcome", {"discussion": "discussed", "performance_status": 1}),
    (
        "ready",
        {
            "Send the MDT outcome to the GP": ("coordinator", 1),
            "Treatment planning consultation": ("oncologist", 10),
        },
    ),
    ("do", "Send the MDT outcome to the GP", {"patient_informed": False}),
    ("do", "Treatment planning consultation", ONCOLOGY),
    ("ready", {"Agree personalised care plan": ("cns", 5)}),
    ("do", "Agree personalised care plan", {"format": ["printed"]}),
    ("ready", {"Inform GP of the plan": ("coordinator", 1)}),
    ("do", "Inform GP of the plan", {"content": ["diagnosis", "plan", "key_worker"]}),
]
REVIEW = {"Key worker review": ("cns", 5)}

NO_EXTRA_NEEDS: list[Step] = [
    *REGISTER,
    *SUPPORT_ACCEPTED,
    ("do", "Holistic needs assessment", NO_CONCERNS),
    ("ready", {"List for MDT review": ("coordinator", 1)}),
    *MDT_AND_PLAN,
    ("ready", {}),
    ("wait", 29),  # the 4-weekly review, whatever else is open
    ("ready", REVIEW),
    ("do", "Key worker review", {"ecog": 1}),
    ("ready", {}),
]

HIGH_DISTRESS_FINANCIAL_FAMILY: list[Step] = [
    *REGISTER,
    *SUPPORT_ACCEPTED,
    ("do", "Holistic needs assessment", HIGH_NEEDS),
    (
        "ready",
        {
            "List for MDT review": ("coordinator", 1),
            "Refer for psychological and peer support": ("cns", 5),
            # Over pension age and not in work, but the assessment found money worries.
            **FINANCIAL,
            # Offered before; the family concern found now offers it again.
            "Offer family support": ("cns", 10),
        },
    ),
    ("do", "Offer family support", {"services": ["children_support"]}),
    ("do", "Refer for psychological and peer support", {"services": ["psychology"]}),
    ("do", "Offer financial and employment advice", {"services": ["benefits_advice", "pip"]}),
    ("ready", {"List for MDT review": ("coordinator", 1)}),
    *MDT_AND_PLAN,
    ("ready", {}),
]

# Declines the assessment and advance care planning, objects to the GP being told: nothing
# else waits, and every offer comes back.
DECLINES_AND_OBJECTS: list[Step] = [
    *REGISTER,
    ("do", "Holistic needs assessment", {"offer": "02", "reoffer_on": Day(21)}),
    ("do", "Advance care planning conversation", DECLINED),
    ("do", "Offer family support", DECLINED),
    ("do", "Allocate a CNS key worker", {"key_worker_name": "Alex Patel"}),
    ("do", "First contact with key worker", {}),
    ("do", "List for MDT review", {"clinical_question": "First-line treatment?"}),
    ("do", "Record MDT outcome", {}),
    (
        "do",
        "Send the MDT outcome to the GP",
        {"outcome": "patient_objects", "patient_informed": False},
    ),
    ("ready", {"Treatment planning consultation": ("oncologist", 10)}),
    ("do", "Treatment planning consultation", ONCOLOGY),
    ("do", "Agree personalised care plan", {}),
    ("do", "Inform GP of the plan", {"outcome": "patient_objects"}),
    ("ready", {}),
    ("wait", 22),  # the assessment comes back on the date agreed
    ("ready", {"Holistic needs assessment": ("cns", 10)}),
    ("wait", 7),  # and the review comes while it is open
    ("ready", {"Holistic needs assessment": ("cns", 10), **REVIEW}),
    ("do", "Key worker review", {}),
    ("do", "Holistic needs assessment", NO_CONCERNS),  # accepted this time
    (
        "event",
        "progression",
        {"progression_date": Day(-2), "mdt_question": "Next line?", "fast_track": False},
    ),
    # Listed for MDT at once; a new assessment beside it; the offers declined are made again.
    (
        "ready",
        {
            "Holistic needs assessment": ("cns", 10),
            "Record MDT outcome": ("coordinator", 10),
            "Advance care planning conversation": ("cns", 20),
            "Offer family support": ("cns", 10),
        },
    ),
]

PALLIATIVE_TRIGGER_AT_REGISTRATION: list[Step] = [
    ("do", "Register secondary diagnosis", {**DIAGNOSIS, "ecog": 3}),
    ("ready", {**TRACKS, **PALLIATIVE}),  # the referral starts at once
    ("do", "Refer to specialist palliative care", {**DECLINED, "reoffer_on": Day(14)}),
    ("ready", TRACKS),
    ("do", "List for MDT review", {"clinical_question": "Palliative input?"}),
    ("do", "Record MDT outcome", {"palliative_referral_recommended": True}),
    # A new trigger re-offers at once, without waiting for the date agreed.
    ("ready", {**AFTER_OUTCOME, **PALLIATIVE}),
    ("do", "Refer to specialist palliative care", {"triggers": ["mdt"], "urgency": "urgent"}),
    ("ready", {**AFTER_OUTCOME, "Specialist palliative care assessment": ("palliative", 5)}),
    ("do", "Specialist palliative care assessment", {"continue_care": "continue"}),
    ("ready", AFTER_OUTCOME),  # under specialist care: no new referral
    ("event", "palliative_concern", {"recorded_on": Day(0), "surprise_question": "no"}),
    ("ready", AFTER_OUTCOME),
    # Discharged from specialist care: the next trigger refers again.
    ("event", "palliative_discharge", {"discharged_on": Day(0)}),
    ("event", "palliative_concern", {"recorded_on": Day(0), "surprise_question": "no"}),
    ("ready", {**AFTER_OUTCOME, **PALLIATIVE}),
]

YOUNG_IN_WORK_DECLINES_ASSESSMENT: list[Step] = [
    ("do", "Register secondary diagnosis", {**DIAGNOSIS, "in_work": "yes"}),
    ("ready", {**TRACKS, **FINANCIAL}),
    ("do", "Holistic needs assessment", {"offer": "02", "reoffer_on": None}),
    (
        "ready",
        {**{k: v for k, v in TRACKS.items() if k != "Holistic needs assessment"}, **FINANCIAL},
    ),
    (
        "do",
        "Offer financial and employment advice",
        {"services": ["special_rules", "employment_rights"]},
    ),
]

PROGRESSES_THEN_CHANGES_TREATMENT: list[Step] = [
    *NO_EXTRA_NEEDS,
    (
        "event",
        "progression",
        {
            "progression_date": Day(-1),
            "new_sites": ["C79.3"],
            "fast_track": True,
            "mdt_question": "Brain metastases: radiotherapy?",
            "ecog": 2,
        },
    ),
    # Listed for MDT at once (fast track); a new assessment; the plan reviewed; support offered.
    (
        "ready",
        {
            "Holistic needs assessment": ("cns", 10),
            "Record MDT outcome": ("coordinator", 10),
            "Review the advance care plan": ("cns", 10),
            "Offer family support": ("cns", 10),
        },
    ),
    ("do", "Offer family support", {}),
    ("do", "Review the advance care plan", {"changed": False, "next_review_date": Day(90)}),
    ("do", "Holistic needs assessment", NO_CONCERNS),
    ("do", "Record MDT outcome", {}),
    ("do", "Send the MDT outcome to the GP", {}),
    ("do", "Treatment planning consultation", {**ONCOLOGY, "treatment_line": 2}),
    ("do", "Agree personalised care plan", {}),
    ("do", "Inform GP of the plan", {"content": ["change"]}),
    ("ready", {}),
    ("wait", 30),
    ("do", "Key worker review", {}),
    (
        "event",
        "treatment_change",
        {
            "decision_to_treat_date": Day(-1),
            "planned_start_date": Day(10),
            "treatment_line": 3,
            "regimen": "Capecitabine",
            "reason": "toxicity",
            "fast_track": False,
            "mdt_question": "Change to capecitabine agreed?",
        },
    ),
    # The consultation for the new line starts at once, beside the MDT and the assessment.
    (
        "ready",
        {
            "Holistic needs assessment": ("cns", 10),
            "Record MDT outcome": ("coordinator", 10),
            "Treatment planning consultation": ("oncologist", 10),
        },
    ),
    ("do", "Treatment planning consultation", {**ONCOLOGY, "treatment_line": 3}),
    ("do", "Record MDT outcome", {}),
    (
        "ready",
        {
            "Holistic needs assessment": ("cns", 10),
            "Agree personalised care plan": ("cns", 5),
            "Send the MDT outcome to the GP": ("coordinator", 1),
        },
    ),
]

DIES: list[Step] = [
    *REGISTER,
    ("do", "Holistic needs assessment", NO_CONCERNS),
    (
        "event",
        "death",
        {
            "date_of_death": Day(-3),
            "place_of_death": "hospice",
            "next_of_kin_name": "Sam Jones",
            "next_of_kin_relationship": "Daughter",
        },
    ),
    # Every track ends at once; the GP is told, appointments cancelled, bereavement offered.
    (
        "ready",
        {
            "Tell the GP and cancel appointments": ("coordinator", 1),
            "Offer bereavement support": ("cns", 5),
        },
    ),
    ("timers", 0),
    ("do", "Offer bereavement support", {"offered_to": "Sam Jones, daughter"}),
    ("do", "Tell the GP and cancel appointments", {}),
    ("ready", {}),
]

TRANSFERRED: list[Step] = [
    *REGISTER,
    (
        "event",
        "transfer",
        {"transfer_date": Day(0), "receiving_organisation": "St Elsewhere NHS Trust"},
    ),
    ("ready", {"Hand over care to the receiving team and the GP": ("cns", 1)}),
    ("do", "Hand over care to the receiving team and the GP", {}),
    ("ready", {}),
]

SCENARIOS: dict[str, list[Step]] = {
    "no extra needs": NO_EXTRA_NEEDS,
    "high distress, financial and family concerns": HIGH_DISTRESS_FINANCIAL_FAMILY,
    "declines, objects, and is offered again": DECLINES_AND_OBJECTS,
    "palliative trigger at registration": [REGISTER[0], *PALLIATIVE_TRIGGER_AT_REGISTRATION],
    "45 and in work, declines the assessment": [REGISTER[0], *YOUNG_IN_WORK_DECLINES_ASSESSMENT],
    "progresses twice and changes treatment": PROGRESSES_THEN_CHANGES_TREATMENT,
    "dies": DIES,
    "transferred": TRANSFERRED,
}
# Born in 1960: over the default pension age (66) at every instant the scenarios run from.
BIRTH_DATES = {"45 and in work, declines the assessment": "1981-05-01"}
DEFAULT_BIRTH_DATE = "1960-01-01"
