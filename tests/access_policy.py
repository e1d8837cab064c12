"""Who may use each route: the reviewed access policy.

`tests/test_access_matrix.py` checks that the application declares exactly this for every
route of its URL map (a new route fails until it is added here, with a reason to admit each
role), and then requests every route as every role to prove the declaration is enforced.
Changing this file is a governance decision: say why in the commit.
"""

from __future__ import annotations

from collections.abc import Callable

from mdt.models.roles import Role

PUBLIC = "public"  # no sign-in: the sign-in page and static assets
ANY = "any"  # any signed-in account, whatever its roles (nothing patient-identifiable)

CLINICAL = frozenset({Role.COORDINATOR, Role.CNS, Role.ONCOLOGIST, Role.PALLIATIVE})
# Managers see patient records and tasks to oversee the service and the standards.
RECORDS = CLINICAL | {Role.MANAGER}
COORDINATOR = frozenset({Role.COORDINATOR})
MANAGER = frozenset({Role.MANAGER})
ADMIN = frozenset({Role.ADMIN})
PREPARERS = CLINICAL | {Role.MDT_MEMBER}
MEETING_READERS = PREPARERS | {Role.MANAGER}

POLICY: dict[str, str | frozenset[str]] = {
    # Accounts: administrators only; they see no patient data.
    "admin.users": ADMIN,
    "admin.new_user": ADMIN,
    "admin.edit_user": ADMIN,
    "admin.reset": ADMIN,
    "admin.toggle_active": ADMIN,
    "assets.nhsuk_assets": PUBLIC,
    "assets.vendor": PUBLIC,
    "assets.favicon": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": ANY,
    "home.index": ANY,
    "notifications.index": ANY,
    "notifications.read_all": ANY,
    # The pathway diagrams and forms hold no patient data.
    "pathways.library": ANY,
    "pathways.diagram": ANY,
    "pathways.file": ANY,
    # Moving running patients to another version is a pathway change: managers.
    "pathways.move": MANAGER,
    "pathways.move_all": MANAGER,
    # So is editing a draft, and restarting a paused pathway; the operations view is theirs.
    "pathways.start_draft": MANAGER,
    "pathways.edit": MANAGER,
    # The form designer is part of editing a draft: managers only.
    "decision_tables.tables": MANAGER,
    "decision_tables.add": MANAGER,
    "decision_tables.table": MANAGER,
    "decision_tables.save": MANAGER,
    "form_designer.forms": MANAGER,
    "form_designer.new_form": MANAGER,
    "form_designer.form": MANAGER,
    "form_designer.post_new_form": MANAGER,
    "form_designer.post_form": MANAGER,
    "form_designer.preview": MANAGER,
    "form_designer.check": MANAGER,
    "pathways.operations_view": MANAGER,
    "pathways.retry": MANAGER,
    "pathways.compare": ANY,
    "audit.search": MANAGER,
    # The MDT is the whole team's: every core member (clinicians, MDT members such as
    # radiology and pathology) and the managers who oversee it see the meetings and lists.
    # Deaths the PAS reports: the MDT coordinators confirm or reject them.
    "pas.deaths": COORDINATOR,
    "pas.confirm": COORDINATOR,
    "pas.reject": COORDINATOR,
    "meetings.index": MEETING_READERS,
    "meetings.show": MEETING_READERS,
    "meetings.listing": MEETING_READERS,
    "meetings.present": MEETING_READERS,
    "meetings.prepare": MEETING_READERS,
    "meetings.printable": MEETING_READERS,
    "meetings.list_pdf": MEETING_READERS,
    "meetings.minutes_pdf": MEETING_READERS,
    # Those who prepare say a patient is ready to present (not the managers).
    "meetings.ready": PREPARERS,
    # The coordinators run them: the diary, the list, attendance, outcomes and GP letters.
    "meetings.new_series": COORDINATOR,
    "meetings.next_meeting": COORDINATOR,
    "meetings.extra_form": COORDINATOR,
    "meetings.new_meeting": COORDINATOR,
    "meetings.changes": COORDINATOR,
    "meetings.reschedule": COORDINATOR,
    "meetings.cancel": COORDINATOR,
    "meetings.add_patient": COORDINATOR,
    "meetings.reorder": COORDINATOR,
    "meetings.remove_patient": COORDINATOR,
    "meetings.circulate_list": COORDINATOR,
    "meetings.attendance": COORDINATOR,
    "meetings.remove_attendance": COORDINATOR,
    "meetings.close": COORDINATOR,
    "meetings.outcome": COORDINATOR,
    "meetings.gp_letter_pdf": COORDINATOR,
    "meetings.gp_letter_sent": COORDINATOR,
    "patients.search": RECORDS,
    "patients.show": RECORDS,
    "patients.care_plan": RECORDS,
    "patients.care_plan_pdf": RECORDS,
    # Registering patients and reporting events are clinical acts, not managers'.
    "patients.register": frozenset({Role.COORDINATOR, Role.CNS}),
    "patients.new_event": CLINICAL,
    # Starting a registered patient on one more pathway: the coordinators, who register.
    "patients.start_pathway": COORDINATOR,
    # A new pathway from nothing: managers own the pathways.
    "pathways.new_pathway": MANAGER,
    "patients.closings": MANAGER,
    "patients.correct_closing": MANAGER,
    "tasks.my_tasks": RECORDS,
    "tasks.show": RECORDS,
    "tasks.submit": RECORDS,
    "tasks.assignment": RECORDS,
    # Giving several tasks at once to a colleague: those who reassign tasks.
    "tasks.give_selected": frozenset({Role.COORDINATOR, Role.MANAGER}),
    # A nurse's caseload ("My patients"); coordinators and managers see any nurse's, and move
    # caseloads for cover and handover. Naming a key worker: coordinators, nurses, managers.
    "caseloads.mine": frozenset({Role.CNS, Role.COORDINATOR, Role.MANAGER}),
    "caseloads.handover": frozenset({Role.COORDINATOR, Role.MANAGER}),
    "caseloads.move": frozenset({Role.COORDINATOR, Role.MANAGER}),
    "caseloads.key_worker": frozenset({Role.COORDINATOR, Role.CNS, Role.MANAGER}),
    "caseloads.save_key_worker": frozenset({Role.COORDINATOR, Role.CNS, Role.MANAGER}),
    # Reports aggregate every patient: service managers.
    "reports.standards": MANAGER,
    "reports.kpi": MANAGER,
    "reports.meetings": MANAGER,
    "reports.workload": MANAGER,
    "reports.standards_csv": MANAGER,
    "reports.trend_csv": MANAGER,
    "reports.kpi_csv": MANAGER,
    "reports.meetings_csv": MANAGER,
    "reports.outcomes_csv": MANAGER,
    "reports.attendance_csv": MANAGER,
    "reports.workload_csv": MANAGER,
    # Your own account and API tokens.
    "account.show": ANY,
    "account.new_token": ANY,
    "account.revoke": ANY,
    "account.change_password": ANY,
    "account.digest": ANY,
    # The API: the same rules as the screens it mirrors.
    "api-docs.openapi_json": PUBLIC,  # the description holds no patient data
    "api_docs": ANY,
    "api_patients.search": RECORDS,
    "api_patients.show": RECORDS,
    "api_patients.pathway": RECORDS,
    "api_patients.fhir": RECORDS,
    "api_patients.register": frozenset({Role.COORDINATOR, Role.CNS}),
    # PAS demographic updates as FHIR Patients: those who register patients.
    "api_fhir_patient.put_patient": frozenset({Role.COORDINATOR, Role.CNS}),
    "api_patients.event": CLINICAL,
    "api_patients.start_pathway": COORDINATOR,
    "api_patients.events": CLINICAL,
    "api_patients.standards": RECORDS,
    "api_tasks.search": RECORDS,
    "api_tasks.show": RECORDS,
    "api_tasks.complete": RECORDS,
    "api_meetings.index": MEETING_READERS,
    "api_meetings.show": MEETING_READERS,
    "api_pathways.index": ANY,
    "api_pathways.bpmn": ANY,
    # Changing the pathway is the managers' (clinical safety: see docs/security.md H5).
    "api_pathways.upload": MANAGER,
    "api_pathways.validate": MANAGER,
    "api_pathways.publish": MANAGER,
    "api_pathways.test_run": MANAGER,
    "api_pathways.save_files": MANAGER,
    "api_reports.standards": MANAGER,
}

# Within what a route admits, the services narrow some actions to the object in hand: given
# the role a task belongs to, who may open it and who may complete it.
TASK_RULES: dict[str, Callable[[str], frozenset[str]]] = {
    # Its own role; coordinators (they chase tasks) and managers (oversight). Whoever it is
    # assigned to may also open it (not exercised here: the task is unassigned).
    "tasks.show": lambda role: frozenset({role, Role.COORDINATOR, Role.MANAGER}),
    # Only its own role completes it: a clinical act.
    "tasks.submit": lambda role: frozenset({role}),
    "api_tasks.show": lambda role: frozenset({role, Role.COORDINATOR, Role.MANAGER}),
    "api_tasks.complete": lambda role: frozenset({role}),
}
