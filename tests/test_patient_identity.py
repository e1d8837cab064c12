"""Identity at registration and search that finds people (issues 23 and 24).

Registration asks for and stores sex, hospital number, consultant, address and GP practice;
an NHS number typed in any script's digits is one number (checked by the nhs-number package,
the test range refused in every script, registered once); names with hidden controls are
refused and names are stored as written (NFC). Search finds people by names in any order and
partial, by NHS number whole or its start, by date of birth, by hospital number, and by the
old numbers of merged records, with typed wildcards taken literally.
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from mdt.extensions import db
from mdt.models import AuditEventModel, PatientIdentifierModel, PatientModel, UserModel
from mdt.services import patients as patient_service
from mdt.services.actor import SYSTEM, Actor, actor_for
from mdt.services.api_tokens import create_token
from mdt.services.errors import DuplicatePatientError, InvalidInputError
from mdt.services.patient_identity import search_name
from mdt.services.patients import Identity, find_patients, register_patient

from .conftest import Auth

# Valid numbers (the nhs-number package's check): three starting 999 246, one outside.
EDITH, OTHER_246, THIRD_246 = "9992460008", "9992460016", "9992460024"
ELSEWHERE = "9992470003"
REAL_RANGE = "9434765919"
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def spaced(number: str) -> str:
    return f"{number[:3]} {number[3:6]} {number[6:]}"


@pytest.fixture
def coordinator(make_user: Any) -> Actor:
    return actor_for(make_user("coordinator", username="coord"))


def _register(actor: Actor, number: str, given: str, family: str, **kwargs: Any) -> PatientModel:
    return register_patient(
        actor,
        number,
        given,
        family,
        kwargs.pop("born", date(1950, 3, 12)),
        None,
        start=False,
        identity=Identity(**kwargs) if kwargs else None,
    )


@pytest.fixture
def people(coordinator: Actor) -> dict[str, PatientModel]:
    return {
        "edith": _register(coordinator, EDITH, "Edith", "Cavell", mrn="rxh1234567"),
        "elise": _register(coordinator, OTHER_246, "Élise", "Ducros", born=date(1961, 7, 4)),
        "sean": _register(coordinator, THIRD_246, "Seán", "O'Brien", born=date(1970, 1, 2)),
        "mary": _register(coordinator, ELSEWHERE, "Mary", "Smith-Jones", born=date(1944, 2, 29)),
    }


def _found(actor: Actor, query: str) -> list[str]:
    return [p.nhs_number for p in find_patients(actor, query)]


def test_names_in_any_order_partial_accents_and_case_folded(coordinator, people) -> None:
    for query in ("Edith Cavell", "Cavell Edith", "cav edi", "CAVELL, Edith", "cavell", "EDI"):
        assert _found(coordinator, query) == [EDITH], query
    for query in ("elise", "ÉLISE", "Elise Ducros", "duc"):
        assert _found(coordinator, query) == [OTHER_246], query
    assert _found(coordinator, "sean o'brien") == [THIRD_246]  # "Seán" folds to "sean"
    assert _found(coordinator, "brien") == [THIRD_246]  # a word after the apostrophe
    assert _found(coordinator, "OBrien") == [THIRD_246]  # or typed without it
    assert _found(coordinator, "sean o\u2019brien") == [THIRD_246]  # any apostrophe
    assert _found(coordinator, "jones mary") == [ELSEWHERE]  # after the hyphen
    # Every typed word must start a word of the name: the middle of a word does not count.
    assert _found(coordinator, "vell") == []
    assert _found(coordinator, "edith ducros") == []


def test_nhs_number_whole_spaced_or_its_start(coordinator, people) -> None:
    assert _found(coordinator, EDITH) == [EDITH]
    assert _found(coordinator, spaced(EDITH)) == [EDITH]
    assert _found(coordinator, f"{EDITH[:3]}-{EDITH[3:6]}-{EDITH[6:]}") == [EDITH]
    assert _found(coordinator, EDITH.translate(FULLWIDTH)) == [EDITH]
    assert _found(coordinator, spaced(EDITH).translate(ARABIC_INDIC)) == [EDITH]
    assert sorted(_found(coordinator, "999 246")) == [EDITH, OTHER_246, THIRD_246]
    assert _found(coordinator, "999 2460 01") == [OTHER_246]
    assert _found(coordinator, "99") == []  # fewer than 3 digits lists nobody
    assert _found(coordinator, "999 248") == []


def test_date_of_birth_typed_every_usual_way(coordinator, people) -> None:
    for query in ("12/03/1950", "12/3/1950", "12-03-1950", "12.03.1950", "12 March 1950",
                  "12 mar 1950", "12th March 1950", "March 12, 1950", "1950-03-12"):  # fmt: skip
        assert _found(coordinator, query) == [EDITH], query
    assert _found(coordinator, "29/02/1944") == [ELSEWHERE]
    assert _found(coordinator, "31/02/1950") == []


def test_hospital_number_exact_in_any_case(coordinator, people) -> None:
    assert people["edith"].mrn == "RXH1234567"  # stored in capitals
    for query in ("RXH1234567", "rxh1234567", " Rxh1234567 "):
        assert _found(coordinator, query) == [EDITH], query
    assert _found(coordinator, "RXH123") == []  # exact: no partial hospital numbers


def test_old_identifiers_find_the_surviving_record_and_merged_ones_are_not_listed(
    coordinator, people
) -> None:
    survivor, merged, older = people["edith"], people["elise"], people["sean"]
    # A PAS merge: Élise's record was folded into Edith's, Seán's into Élise's before that.
    merged.merged_into_id = survivor.id
    older.merged_into_id = merged.id
    db.session.add(
        PatientIdentifierModel(patient_id=survivor.id, system="mrn", value="OLD42", source="merge")
    )
    db.session.commit()
    assert _found(coordinator, OTHER_246) == [EDITH]  # the merged record's NHS number
    assert _found(coordinator, spaced(THIRD_246)) == [EDITH]  # two merges away
    assert _found(coordinator, "old42") == [EDITH]  # a retired hospital number
    assert _found(coordinator, "Élise Ducros") == [EDITH]  # the merged name too
    assert sorted(_found(coordinator, "999 246")) == [EDITH]  # listed once, never the merged
    # Registering a number retired by a merge is a duplicate of the surviving record.
    with pytest.raises(DuplicatePatientError) as raised:
        _register(coordinator, THIRD_246, "Someone", "Else")
    assert raised.value.existing_id == survivor.id


def test_typed_wildcards_are_literal_and_searches_are_audited(coordinator, people) -> None:
    for query in ("%", "_", "%%", "%a%", "_dith", "\\"):
        assert _found(coordinator, query) == [], query
    searched = list(
        db.session.scalars(
            select(AuditEventModel)
            .where(AuditEventModel.action == "patient.searched")
            .order_by(AuditEventModel.id)
        )
    )
    assert [(e.detail["query"], e.detail["results"]) for e in searched[-6:]] == [
        ("%", 0),
        ("_", 0),
        ("%%", 0),
        ("%a%", 0),
        ("_dith", 0),
        ("\\", 0),
    ]
    assert all(e.actor_name == "coord" for e in searched)


def test_the_search_page_and_the_api_find_the_same(
    coordinator, people, auth: Auth, client: FlaskClient
) -> None:
    auth.login("coord")
    page = client.get("/patients", query_string={"q": "cav edi"}).get_data(as_text=True)
    assert "CAVELL, Edith" in page and "1 patient found" in page and "RXH1234567" in page
    page = client.get("/patients", query_string={"q": "%"}).get_data(as_text=True)
    assert "No patient matches" in page and "CAVELL" not in page
    _, secret = create_token(SYSTEM, coordinator.user_id, "tests")
    headers = {"Authorization": f"Bearer {secret}"}
    found = client.get("/api/v1/patients", query_string={"q": "Cavell Edith"}, headers=headers)
    assert [p["nhs_number"] for p in found.json] == [EDITH]
    partial = client.get("/api/v1/patients", query_string={"nhs_number": "999 246"},
                         headers=headers)  # fmt: skip
    assert sorted(p["nhs_number"] for p in partial.json) == [EDITH, OTHER_246, THIRD_246]
    by_date = client.get("/api/v1/patients", query_string={"q": "12 March 1950"}, headers=headers)
    assert [p["nhs_number"] for p in by_date.json] == [EDITH]
    assert client.get("/api/v1/patients", query_string={"q": "%"}, headers=headers).json == []
    names = client.get("/api/v1/patients", query_string={"nhs_number": "Cavell"}, headers=headers)
    assert names.status_code == 422


# -- registration -------------------------------------------------------------------------


def test_an_nhs_number_in_any_digits_registers_once(coordinator) -> None:
    first = _register(coordinator, spaced(REAL_RANGE).translate(FULLWIDTH), "Ada", "Wide")
    assert first.nhs_number == REAL_RANGE  # stored as ASCII
    for typed in (REAL_RANGE.translate(ARABIC_INDIC), spaced(REAL_RANGE), REAL_RANGE):
        with pytest.raises(DuplicatePatientError) as raised:
            _register(coordinator, typed, "Ada", "Again")
        assert raised.value.existing_id == first.id
    assert db.session.query(PatientModel).count() == 1
    identifiers = db.session.execute(
        select(PatientIdentifierModel.system, PatientIdentifierModel.value,
               PatientIdentifierModel.source)
    ).all()  # fmt: skip
    assert identifiers == [("nhs", REAL_RANGE, "registration")]


def test_the_test_range_is_refused_in_every_script(coordinator, app) -> None:
    app.config["MDT_ALLOW_TEST_NHS_NUMBERS"] = False
    try:
        for typed in (EDITH, EDITH.translate(FULLWIDTH), spaced(EDITH).translate(ARABIC_INDIC)):
            with pytest.raises(InvalidInputError) as raised:
                _register(coordinator, typed, "Ada", "Test")
            assert "test numbers" in raised.value.errors["nhs_number"], typed
        # A wrong check digit is wrong in every script.
        with pytest.raises(InvalidInputError) as raised:
            _register(coordinator, "9434765918".translate(FULLWIDTH), "Ada", "Test")
        assert "check digit" in raised.value.errors["nhs_number"]
        assert _register(coordinator, REAL_RANGE.translate(FULLWIDTH), "Ada", "Real").id
    finally:
        app.config["MDT_ALLOW_TEST_NHS_NUMBERS"] = True


@pytest.mark.parametrize(
    "given, family",
    [
        ("Jo\u200bhn", "Smith"),  # zero-width space
        ("John", "\u202eSmith"),  # right-to-left override
        ("John", "Sm\u2066ith\u2069"),  # isolates
        ("Jo\ufeffhn", "Smith"),  # byte order mark
        ("John\u200d", "Smith"),  # zero-width joiner
    ],
)
def test_names_with_hidden_controls_are_refused(coordinator, given: str, family: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        _register(coordinator, EDITH, given, family)
    field = "given_name" if given != "John" else "family_name"
    assert "hidden formatting" in raised.value.errors[field]
    # "John" never has to find "Jo\u200bhn": such a name is never stored.
    assert db.session.query(PatientModel).count() == 0
    _register(coordinator, EDITH, "John", "Smith")
    assert _found(coordinator, "John Smith") == [EDITH]


def test_names_are_kept_exactly_as_written(
    coordinator, pathway, auth: Auth, client: FlaskClient
) -> None:
    written = [("Mary", "McDonald"), ("Seán", "O'Brien"), ("Zoë", "de la Cruz"),
               ("Zoe\u0308", "van der Berg")]  # fmt: skip
    numbers = [EDITH, OTHER_246, THIRD_246, ELSEWHERE]
    _, secret = create_token(SYSTEM, coordinator.user_id, "tests")
    headers = {"Authorization": f"Bearer {secret}"}
    for (given, family), number in zip(written, numbers, strict=True):
        made = client.post(
            "/api/v1/patients",
            json={"nhs_number": number, "given_name": given, "family_name": family,
                  "date_of_birth": "1960-01-01"},
            headers=headers,
        )  # fmt: skip
        assert made.status_code == 201, made.json
        # NFC: a decomposed "e" and diaeresis is stored as the one letter "ë".
        assert made.json["given_name"] == given.replace("e\u0308", "ë")
        assert made.json["family_name"] == family
        patient = db.session.get(PatientModel, made.json["id"])
        assert patient.search_name == search_name(patient.given_name, family)
    assert _found(coordinator, "zoe cruz") == [THIRD_246]
    assert _found(coordinator, "mcdonald") == [EDITH]
    auth.login("coord")
    for number, (given, family) in zip(numbers, written, strict=True):
        patient_id = db.session.scalar(
            select(PatientModel.id).where(PatientModel.nhs_number == number)
        )
        page = html.unescape(client.get(f"/patients/{patient_id}/care-plan").get_data(True))
        as_stored = unicodedata.normalize("NFC", given)
        assert f"Your care plan: {as_stored} {family}" in page


FULL_FORM = {
    "nhs_number": spaced(REAL_RANGE).translate(FULLWIDTH),
    "mrn": "rxh 765 432",
    "given_name": "Edith",
    "family_name": "Cavell",
    "date_of_birth-day": "4",
    "date_of_birth-month": "12",
    "date_of_birth-year": "1965",
    "sex": "female",
    "address_lines": "14 Ashgrove Terrace\r\nLeeds",
    "postcode": "ls14ap",
    "wants_letter_copies": "yes",
    "consultant_name": "Dr Amara  Okafor",
    "gp_practice_code": "b86001",
    "gp_practice": "Riverside Surgery",
    "gp_practice_address_lines": "12 Riverside Road\nLeeds LS2 7HY",
}


def test_registration_stores_and_shows_the_new_fields(
    pathway, make_user, auth: Auth, client: FlaskClient, clock
) -> None:
    make_user("coordinator", username="coord")
    auth.login("coord")
    form = client.get("/patients/new").get_data(as_text=True)
    for field in ("nhs_number", "mrn", "given_name", "family_name", "consultant_name",
                  "gp_practice_code", "postcode"):  # fmt: skip
        assert re.search(rf'id="field-{field}"[^>]*autocomplete="off"', form), field
    assert [label for label in ("Female", "Male", "Other", "Unknown") if label in form] == [
        "Female", "Male", "Other", "Unknown"
    ]  # fmt: skip
    response = auth.post("/patients/new", FULL_FORM)
    assert response.status_code == 302, response.get_data(as_text=True)
    patient = db.session.scalar(select(PatientModel))
    assert patient.nhs_number == REAL_RANGE
    assert (patient.sex, patient.mrn, patient.consultant_name) == (
        "female", "RXH765432", "Dr Amara Okafor"
    )  # fmt: skip
    assert (patient.postcode, patient.gp_practice_code) == ("LS1 4AP", "B86001")
    assert patient.search_name == "edith cavell"
    assert sorted(
        db.session.execute(
            select(PatientIdentifierModel.system, PatientIdentifierModel.value).where(
                PatientIdentifierModel.patient_id == patient.id,
                PatientIdentifierModel.source == "registration",
            )
        ).all()
    ) == [("mrn", "RXH765432"), ("nhs", REAL_RANGE)]
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    banner = page[page.index("app-patient-banner") : page.index("</section>")]
    for shown in ("943 476 5919", "RXH765432", "Female", "Dr Amara Okafor",
                  "Riverside Surgery (B86001)"):  # fmt: skip
        assert shown in banner, shown
    # The care plan PDF of a patient whose number was typed in fullwidth digits.
    pdf = client.get(f"/patients/{patient.id}/care-plan.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert f"care-plan-{REAL_RANGE}.pdf" in pdf.headers["Content-Disposition"]

    # The same person again, the number in Arabic-Indic digits: the page links to the record.
    again = auth.post(
        "/patients/new",
        {**FULL_FORM, "nhs_number": REAL_RANGE.translate(ARABIC_INDIC), "mrn": ""},
        "/patients/new",
    )
    text = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "A patient with NHS number 943 476 5919 is already registered." in text
    assert f'href="/patients/{patient.id}"' in text and "Open the existing record" in text
    # Already registered comes first, whatever else is wrong: the record is what they need.
    both = auth.post(
        "/patients/new",
        {**FULL_FORM, "nhs_number": spaced(REAL_RANGE), "mrn": "", "postcode": "nowhere"},
        "/patients/new",
    )
    assert both.status_code == 409 and "Open the existing record" in both.get_data(as_text=True)
    # Another NHS number with the same hospital number is refused on the hospital number.
    other = auth.post("/patients/new", {**FULL_FORM, "nhs_number": EDITH}, "/patients/new")
    text = other.get_data(as_text=True)
    assert other.status_code == 409 and 'href="#field-mrn"' in text
    assert "Hospital number RXH765432 belongs to a patient already registered." in text
    assert f'<a href="/patients/{patient.id}">Open the record with this hospital number' in text
    assert db.session.query(PatientModel).count() == 1


def test_every_problem_at_once_in_form_order(pathway, make_user, auth: Auth) -> None:
    make_user("coordinator", username="coord")
    auth.login("coord")
    response = auth.post(
        "/patients/new",
        {
            **FULL_FORM,
            "nhs_number": "943 476 5918",
            "mrn": "RX#1",
            "given_name": "",
            "family_name": "Ca\u202evell",
            "date_of_birth-day": "31",
            "date_of_birth-month": "2",
            "sex": "",
            "postcode": "LS6 XX1",
            "gp_practice_code": "8600X",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    start = page.index("nhsuk-error-summary__list")
    summary = page[start : page.index("</ul>", start)]
    anchors = re.findall(r'href="#([^"]+)"', summary)
    assert anchors == [
        "field-nhs_number",
        "field-mrn",
        "field-given_name",
        "field-family_name",
        "field-date_of_birth-day",
        "field-postcode",
        "field-gp_practice_code",
    ]
    assert "check digit" in summary and "Date of birth must be a real date" in summary
    assert "hidden formatting" in summary
    assert 'value="RX#1"' in page and 'value="LS6 XX1"' in page  # kept as typed
    assert db.session.query(PatientModel).count() == 0


def test_the_api_answers_409_on_a_duplicate_also_when_two_registrations_race(
    pathway, make_user, client: FlaskClient, monkeypatch, clock
) -> None:
    user = make_user("coordinator", username="api-coord")
    headers = {"Authorization": f"Bearer {create_token(SYSTEM, user.id, 'tests')[1]}"}
    body = {"nhs_number": REAL_RANGE.translate(FULLWIDTH), "given_name": "Ada",
            "family_name": "Api", "date_of_birth": "1961-02-03", "sex": "female",
            "mrn": "k123", "consultant_name": "Dr Okafor"}  # fmt: skip
    made = client.post("/api/v1/patients", json=body, headers=headers)
    assert made.status_code == 201, made.json
    assert (made.json["nhs_number"], made.json["mrn"], made.json["sex"]) == (
        REAL_RANGE, "K123", "female"
    )  # fmt: skip
    assert made.json["consultant_name"] == "Dr Okafor"
    again = client.post("/api/v1/patients", json={**body, "nhs_number": spaced(REAL_RANGE)},
                        headers=headers)  # fmt: skip
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    assert again.json["error"]["details"]["existing_patient_id"] == made.json["id"]
    assert "nhs_number" in again.json["error"]["details"]

    # A registration that raced another: our check found nobody, the insert meets the
    # database's unique NHS number. Still a 409 naming the record, never a 500.
    real = patient_service.holder_of
    calls = {"n": 0}

    def nobody_yet(system: str, value: str) -> int | None:
        calls["n"] += 1
        return None if calls["n"] == 1 else real(system, value)

    monkeypatch.setattr(patient_service, "holder_of", nobody_yet)
    raced = client.post("/api/v1/patients", json={**body, "mrn": None}, headers=headers)
    assert raced.status_code == 409, raced.json
    assert raced.json["error"]["details"]["existing_patient_id"] == made.json["id"]
    assert db.session.query(PatientModel).count() == 1

    refused = client.post("/api/v1/patients", json={**body, "given_name": "Jo\u200bhn",
                          "nhs_number": EDITH, "mrn": None}, headers=headers)  # fmt: skip
    assert refused.status_code == 422 and "given_name" in refused.json["error"]["details"]


def test_two_registrations_at_the_same_moment_one_registers_the_other_is_told(
    app, coordinator, monkeypatch
) -> None:
    """Both check that the number is free before either saves: the database's unique NHS
    number decides, and the loser hears whose record it is (not a server error)."""
    barrier = threading.Barrier(2, timeout=20)
    real = patient_service.holder_of
    waited = threading.local()

    def check_then_wait(system: str, value: str) -> int | None:
        found = real(system, value)
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait()  # both have checked before either saves
        return found

    monkeypatch.setattr(patient_service, "holder_of", check_then_wait)
    outcomes: list[Any] = []

    def register(typed: str) -> None:
        with app.app_context():
            try:
                actor = actor_for(db.session.get(UserModel, coordinator.user_id))
                outcomes.append(_register(actor, typed, "Ada", "Race").id)
            except Exception as error:  # what each thread met is the result
                outcomes.append(error)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=register, args=(typed,))
        for typed in (REAL_RANGE.translate(FULLWIDTH), REAL_RANGE.translate(ARABIC_INDIC))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    [registered] = [o for o in outcomes if isinstance(o, int)]
    [refused] = [o for o in outcomes if not isinstance(o, int)]
    assert isinstance(refused, DuplicatePatientError), repr(refused)
    assert refused.existing_id == registered
    assert db.session.query(PatientModel).count() == 1


def test_migration_0017_folds_the_names_of_patients_registered_before(tmp_path) -> None:
    """Upgraded with patients in the table, they are found by name as new ones are."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    from mdt import create_app

    from .conftest import ROOT

    url = f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
    fresh = create_app({"TESTING": True, "SECRET_KEY": "m" * 40, "SQLALCHEMY_DATABASE_URI": url})
    migrations = str(ROOT / "migrations")
    engine = create_engine(url)
    with fresh.app_context():
        upgrade(directory=migrations, revision="0016")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO patient (nhs_number, given_name, family_name, date_of_birth, "
                    "created_at) VALUES ('9990000018', 'ÉLISE', 'Nguyễn-Ó Súilleabháin', "
                    "'1960-01-01', '2026-01-01 09:00:00')"
                )
            )
        upgrade(directory=migrations, revision="0017")
        with engine.connect() as connection:
            folded = connection.execute(text("SELECT search_name FROM patient")).scalar_one()
        assert folded == search_name("ÉLISE", "Nguyễn-Ó Súilleabháin")
        assert folded == "elise nguyen-o suilleabhain"
        db.session.remove()
        db.engine.dispose()
    engine.dispose()
