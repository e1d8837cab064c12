"""The eleven standards of care for people with secondary breast cancer, as codes.

Source: shared/standards-of-care.txt (Breast Cancer Care); codes from the clinical reference.
"""

STANDARDS: dict[str, str] = {
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
