"""The legacy default standards: the eleven standards of care for people with secondary
breast cancer, as codes.

A pathway declares the standards it measures in its own measures.json ("standards": code ->
title; the shipped pathway's bpmn/measures.json declares these eleven). A version stored
before pathways declared their own has a measures.json without the declaration: it measures
these (``mdt.services.measures.declared_standards``), and the screens that show a standard
outside any pathway's context name it from here.

Source: shared/standards-of-care.txt (Breast Cancer Care); codes from the clinical reference.
"""

LEGACY_STANDARDS: dict[str, str] = {
    "IS1": "CNS information and support at diagnosis and onwards",
    "IS2": "A CNS as key worker",
    "IS3": "Holistic needs assessment at diagnosis, progression and treatment change",
    "IS4": "Referral to supportive, psychological and peer support services",
    "IS5": "Referral for financial and employment advice",
    "TC1": "Personalised treatment and care plan",
    "TC2": "Treatment and care reviewed by the MDT",
    "TC3": "Communication with the GP and other teams",
    "PC1": "Timely palliative and supportive care",
    "PC2": "Support for talking to those closest, and for the family",
    "PC3": "Advance and end-of-life care planning",
}

STANDARDS = LEGACY_STANDARDS  # the name the engine's task-property check and screens import
