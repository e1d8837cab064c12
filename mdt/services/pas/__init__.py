"""The patient administration system (PAS) feed: HL7 v2 ADT messages over MLLP and FHIR
Patient updates, one set of use cases for both.

``messages`` stores each message as received, processes it exactly once and builds its
acknowledgement; ``demographics`` finds the registered patient a message is about and keeps
their identity in step; ``merge`` folds a retired record into the surviving one; ``deaths``
holds letters and asks a coordinator to confirm a death the PAS reports; ``listener`` is the
MLLP server (`flask mdt hl7-listener`).
"""

from mdt.services.pas.deaths import (
    confirm_death,
    death_form,
    death_notification,
    letters_held,
    pending_deaths,
    reject_death,
)
from mdt.services.pas.demographics import PasPerson, find_registered
from mdt.services.pas.fhir import apply_fhir_patient
from mdt.services.pas.lookup import PasDetails, pas_details
from mdt.services.pas.messages import PAS_FEED, handle_hl7, message_counts

__all__ = [
    "PAS_FEED",
    "PasDetails",
    "PasPerson",
    "apply_fhir_patient",
    "confirm_death",
    "death_form",
    "death_notification",
    "find_registered",
    "handle_hl7",
    "letters_held",
    "message_counts",
    "pas_details",
    "pending_deaths",
    "reject_death",
]
