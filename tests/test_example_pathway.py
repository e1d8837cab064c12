"""The lymphoedema clinic shipped in bpmn/examples/lymphoedema: a second pathway, unrelated to
the first, made of files only (BPMN, forms, measures and a profile). Published as the demo
does, a patient registered on it runs through its tasks, its 6-week timer and its rule for
the garment, and its own measures reach the scorecard and the standards report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from mdt import clock as app_clock
from mdt.extensions import db
from mdt.models import (
    InstanceStatus,
    PathwayFileModel,
    PathwayInstanceModel,
    PathwayVersionModel,
)
from mdt.services.actor import SYSTEM
from mdt.services.demo import EXAMPLE_PATHWAYS
from mdt.services.pathway_choice import start_another_pathway
from mdt.services.pathways import publish_files, read_pathway_directory
from mdt.services.patient_standards import patient_scorecard
from mdt.services.scheduler import fire_due
from mdt.services.standards_report import ReportQuery, measure_cases, standards_report

from .conftest import ROOT, Auth
from .helpers import NHS_NUMBERS, complete_with_examples, new_patient, ready_task, ready_tasks
from .scenarios import Day

EXAMPLE = ROOT / "bpmn" / "examples" / "lymphoedema"
KEY, TITLE = EXAMPLE_PATHWAYS["lymphoedema"]


def _publish() -> Any:
    return publish_files(SYSTEM, KEY, TITLE, *read_pathway_directory(EXAMPLE))


def _instance(patient_id: int) -> PathwayInstanceModel:
    db.session.expire_all()
    instance = db.session.scalar(
        select(PathwayInstanceModel).where(PathwayInstanceModel.patient_id == patient_id)
    )
    assert instance is not None
    return instance


def test_the_example_is_files_only_and_stays_out_of_the_main_pathway() -> None:
    names = {p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*") if p.is_file()}
    assert names and all(n.endswith((".bpmn", ".json", ".dmn")) for n in names), names
    bpmn, forms = read_pathway_directory(ROOT / "bpmn")
    assert not set(bpmn) & {n.rsplit("/", 1)[-1] for n in names if n.endswith(".bpmn")}
    assert "limb-assessment.schema.json" not in forms


def test_published_it_carries_its_profile_measures_and_forms(pathway: Any) -> None:
    version = _publish()
    kinds = {
        f.name: f.kind
        for f in db.session.scalars(
            select(PathwayFileModel).where(PathwayFileModel.pathway_version_id == version.id)
        )
    }
    assert kinds["lymphoedema_clinic.bpmn"] == "bpmn"
    assert kinds["profile.json"] == "profile" and kinds["measures.json"] == "measures"
    assert kinds["limb-assessment.schema.json"] == "form"
    assert kinds["garment_class.dmn"] == "dmn"


def _through_the_clinic(patient_id: int, nurse: Any, coordinator: Any, clock: Any) -> None:
    complete_with_examples(
        coordinator,
        ready_task(patient_id, "Register the lymphoedema referral"),
        referral_date=Day(-2),
    )
    complete_with_examples(
        coordinator,
        ready_task(patient_id, "Allocate a lymphoedema therapist"),
        therapist_name="Lee Lymph",
        allocated_on=Day(0),
    )
    complete_with_examples(
        nurse,
        ready_task(patient_id, "Assess the limbs"),
        assessed_on=Day(0),
        affected_volume_ml=2760,
        other_volume_ml=2300,  # 20% over: a garment
    )
    fitting = ready_task(patient_id, "Fit the compression garment")
    # The rule's answer is in the task's instructions: 20% is class 2.
    assert "20.0%" in (fitting.instructions or "") and "class 2" in (fitting.instructions or "")
    complete_with_examples(nurse, fitting, fitted_on=Day(0), plan_agreed_on=Day(0))
    assert [t.name for t in ready_tasks(patient_id)] == []
    clock.tick(timedelta(days=43))
    assert fire_due(app_clock.now()) == 1
    complete_with_examples(nurse, ready_task(patient_id, "Review at 6 weeks"), reviewed_on=Day(0))
    complete_with_examples(
        nurse,
        ready_task(patient_id, "Discharge from the clinic"),
        discharged_on=Day(0),
        gp_letter="sent",
    )


def test_a_patient_goes_through_the_clinic_and_its_measures_are_counted(
    pathway: Any, make_user: Any, actor: Any, clock: Any
) -> None:
    _publish()
    coordinator = actor(make_user("coordinator"))
    nurse = actor(make_user("cns"))
    make_user("cns", username="lee-lymph")  # the therapist named (x-user-role: cns)
    patient = new_patient(coordinator, 0, start=False)
    start_another_pathway(coordinator, patient.id, KEY)
    _through_the_clinic(patient.id, nurse, coordinator, clock)
    instance = _instance(patient.id)
    assert instance.status == InstanceStatus.COMPLETED
    [card] = patient_scorecard(patient.id)
    statuses = {row.measure.key: row.view.status.value for row in card.rows}
    assert statuses == {"ly_therapist": "met", "ly_assessment": "met", "ly_gp_letter": "met"}

    manager = actor(make_user("manager"))
    today = app_clock.today()
    query = ReportQuery.parse(
        (today - timedelta(days=90)).isoformat(), today.isoformat(), None, KEY
    )
    report = standards_report(manager, query)
    figures = {f.measure.key: (f.achieved, f.counted) for f in report.figures}
    assert figures == {"ly_therapist": (1, 1), "ly_assessment": (1, 1), "ly_gp_letter": (1, 1)}
    # titled with the standards the clinic declares, not the breast cancer ones
    assert [(code, title) for code, title, _ in report.by_standard()] == [
        ("LY1", "A named lymphoedema nurse for every referral"),
        ("LY2", "Limbs assessed and a treatment plan agreed"),
        ("LY3", "The GP kept informed"),
    ]
    _, rows = measure_cases(manager, "ly_assessment", query)
    assert [r.patient_id for r in rows] == [patient.id]
    # The default pathway's report does not count the clinic's cases.
    main = standards_report(manager, ReportQuery(query.since, query.until))
    assert all(f.counted == 0 for f in main.figures)
    assert "ly_assessment" not in {f.measure.key for f in main.figures}


def test_no_garment_needed_goes_straight_to_discharge(
    pathway: Any, make_user: Any, actor: Any, clock: Any
) -> None:
    _publish()
    coordinator = actor(make_user("coordinator"))
    nurse = actor(make_user("cns"))
    make_user("cns", username="lee-lymph")
    patient = new_patient(coordinator, 1, start=False)
    start_another_pathway(coordinator, patient.id, KEY)
    complete_with_examples(
        coordinator,
        ready_task(patient.id, "Register the lymphoedema referral"),
        referral_date=Day(0),
    )
    complete_with_examples(
        coordinator,
        ready_task(patient.id, "Allocate a lymphoedema therapist"),
        therapist_name="Lee Lymph",
    )
    complete_with_examples(
        nurse,
        ready_task(patient.id, "Assess the limbs"),
        affected_volume_ml=2350,
        other_volume_ml=2300,  # 2%: advice only
    )
    assert [t.name for t in ready_tasks(patient.id)] == ["Discharge from the clinic"]


def test_registered_on_the_clinic_from_the_screen(
    pathway: Any, make_user: Any, auth: Auth, client: FlaskClient, clock: Any
) -> None:
    _publish()
    make_user("coordinator", username="coord")
    auth.login("coord")
    page = client.get("/patients/new").get_data(as_text=True)
    assert f'value="{KEY}"' in page and TITLE in page
    response = auth.post(
        "/patients/new",
        {"nhs_number": NHS_NUMBERS[2], "given_name": "Ada", "family_name": "Clinic",
         "date_of_birth-day": "3", "date_of_birth-month": "2", "date_of_birth-year": "1961",
         "pathway_key": KEY},
    )  # fmt: skip
    assert response.status_code == 302
    patient_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    assert _instance(patient_id).pathway_version.key == KEY
    record = client.get(f"/patients/{patient_id}").get_data(as_text=True)
    assert "Register the lymphoedema referral" in record


def test_the_demo_publishes_the_example_and_puts_a_patient_on_both(app: Any) -> None:
    runner = app.test_cli_runner()
    for _ in range(2):  # running it again adds nothing
        result = runner.invoke(args=["mdt", "seed-demo"])
        assert result.exit_code == 0, result.output
    published = db.session.scalars(
        select(PathwayVersionModel.key).where(PathwayVersionModel.status == "published")
    ).all()
    assert sorted(published) == [KEY, "secondary-breast-cancer"]
    rows = db.session.execute(
        select(PathwayInstanceModel.patient_id, PathwayVersionModel.key).join(
            PathwayInstanceModel.pathway_version
        )
    ).all()
    on_clinic = [patient for patient, key in rows if key == KEY]
    assert len(on_clinic) == 1
    assert (on_clinic[0], "secondary-breast-cancer") in [tuple(row) for row in rows]
