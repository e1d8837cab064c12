"""One way to read a patient's identity wherever it arrives (registration, search, the API,
a PAS message): NHS numbers become ASCII digits, names are NFC text without invisible
controls, and a folded form of the name serves search in any order.

Why: a number typed in fullwidth or Arabic-Indic digits is the same number to a person and
must be the same to the database; a right-to-left override or a zero-width space makes a name
look like another one, so such names are refused rather than stored.
"""

from __future__ import annotations

import re
import unicodedata

# Bidirectional embeddings, overrides and isolates, zero-width characters, the word joiner,
# the byte order mark and the soft hyphen: invisible, and able to change how a name reads.
_INVISIBLE = re.compile("[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_SEPARATORS = re.compile(r"[\s\-]+")
_SPACES = re.compile(r"\s+")


def nhs_digits(raw: str | None) -> str:
    """What staff or a system typed as an NHS number, as ASCII: NFKC folds fullwidth digits,
    ``int`` reads any script's decimal digits, and spaces and hyphens go."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or ""))
    return "".join(str(int(ch)) if ch.isdecimal() else ch for ch in text)


def name_problem(raw: str | None) -> str | None:
    """Why a name cannot be stored as typed, or None."""
    if raw and _INVISIBLE.search(raw):
        return "Names cannot contain hidden formatting characters; type the name again"
    if raw and any(unicodedata.category(ch) == "Cc" for ch in raw):
        return "Names cannot contain control characters"
    return None


def clean_name(raw: str | None) -> str:
    """A name as it will be stored and printed: NFC, single spaces, trimmed. Letters and
    their case are kept exactly as written."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", raw or "")).strip()


def fold(text: str | None) -> str:
    """Text for matching only: compatibility-decomposed, accents dropped, case folded,
    single spaces (so "Élise" finds "elise" and "ELISE")."""
    decomposed = unicodedata.normalize("NFKD", _INVISIBLE.sub("", text or ""))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", bare.casefold()).strip()


def search_name(given_name: str, family_name: str) -> str:
    """What the patient's ``search_name`` column holds: both names folded, given first."""
    return fold(f"{given_name} {family_name}")[:210]


def mrn_value(raw: str | None) -> str:
    """A hospital number as stored and compared: NFKC, no spaces, capitals (the PAS and the
    registration screen may write one number differently)."""
    return "".join(unicodedata.normalize("NFKC", raw or "").upper().split())
