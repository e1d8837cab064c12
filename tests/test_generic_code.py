"""Generic code knows no pathway's fields: what the record, care plan, MDT list, reports, FHIR
export, GP letters and every template show of a pathway comes from its profile
(`bpmn/profile.json`, docs/pathway-authoring.md "Pathway profile").

The test collects every field the secondary breast cancer forms declare and fails when one
appears in the product's code or templates as a string literal (Python) or a quoted string or
attribute access (Jinja). Names that are also the product's own words are allowed: the
attributes of its own tables (``patient.key_worker_name``, ``meeting_listing.clinical_question``,
``pathway_instance.index_date`` are columns, filled from the fields a profile names) and the
few below, each with why.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mdt.extensions import db

ROOT = Path(__file__).resolve().parent.parent
# Demo and benchmark data are written for the shipped pathway on purpose.
NOT_GENERIC = {"mdt/services/demo.py", "mdt/services/demo_history.py"}
SCANNED = ("mdt/services", "mdt/web", "mdt/models")
ALLOWED = {
    "format": "JSON Schema's own keyword (a date field's format)",
    "summary": "the record's summary, a screen of the product",
    "changes": "a pathway migration's changes; the route that moves or cancels a meeting",
    "changed": "a pathway migration's changed tasks",
    "discussion": "the kind of an MDT listing (discussion or standard of care)",
    "family": "FHIR's HumanName.family",
    "recommendation": "the part of the GP letter a form's x-letter-part chooses",
    "informs_patient": "the part of the GP letter a form's x-letter-part chooses",
    "recorded_on": "when an episode was recorded (the scorecard)",
    "notes": "a field of the product's own form for closing a pathway (patient_events)",
}
_JINJA = re.compile(
    r"""\.([A-Za-z_]\w*)"""  # attribute access: data.er_status
    r"""|['"]([A-Za-z_]\w*)['"]"""  # a quoted name: data.get('er_status'), data['er_status']
)


def _properties(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                found.update(value)
            _properties(value, found)
    elif isinstance(node, list):
        for value in node:
            _properties(value, found)
    return found


def pathway_fields(forms: Path = ROOT / "bpmn" / "forms") -> set[str]:
    """Every field the pathway's forms declare, less the product's own words."""
    fields: set[str] = set()
    for path in forms.glob("*.json"):
        _properties(json.loads(path.read_text()), fields)
    own = {attr.key for mapper in db.Model.registry.mappers for attr in mapper.attrs}  # type: ignore[attr-defined]
    own |= {column.name for table in db.metadata.tables.values() for column in table.columns}
    return fields - own - set(ALLOWED)


def _literals(tree: ast.AST) -> Iterator[tuple[int, str]]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


def python_uses(fields: set[str], root: Path = ROOT) -> list[str]:
    found = []
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if name in NOT_GENERIC:
                continue
            for line, value in sorted(_literals(ast.parse(path.read_text(), name))):
                if value in fields:
                    found.append(f"{name}:{line}: {value!r}")
    return found


def template_uses(fields: set[str], root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted((root / "templates").rglob("*.html")):
        name = path.relative_to(root).as_posix()
        for number, text in enumerate(path.read_text().splitlines(), 1):
            for match in _JINJA.finditer(text):
                word = match.group(1) or match.group(2)
                if word in fields:
                    found.append(f"{name}:{number}: {word}")
    return found


def test_no_generic_module_or_template_names_a_field_of_the_pathways_forms(app) -> None:
    fields = pathway_fields()
    assert {"er_status", "treatment_intent", "distress"} <= fields  # the scan sees the forms
    assert python_uses(fields) == []
    assert template_uses(fields) == []


def test_the_scan_finds_a_field_named_in_code_or_a_template(app, tmp_path: Path) -> None:
    """The check can fail: the code as it was before profiles is caught, as Python (a
    summary's field list, a form's answer read by name) and as a template."""
    fields = pathway_fields()
    services = tmp_path / "mdt" / "services"
    services.mkdir(parents=True)
    (services / "record_views.py").write_text(
        '"""The summary."""\nSUMMARY_ITEMS = [("ER", ("er_status",))]\n'
        'def hna(data):\n    return data.get("distress")\n'
    )
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "listing.html").write_text(
        "{{ t.data.get('recommendation') }} {{ data.treatment_intent }}\n"
    )
    assert python_uses(fields, tmp_path) == [
        "mdt/services/record_views.py:2: 'er_status'",
        "mdt/services/record_views.py:4: 'distress'",
    ]
    assert template_uses(fields, tmp_path) == ["templates/listing.html:1: treatment_intent"]


def test_only_the_product_s_own_words_are_allowed(app) -> None:
    """An allowed word must still be a field of the forms (or the entry is dead) and must not
    be one of the profile's field names for a section of the care plan or the summary."""
    declared: set[str] = set()
    for path in (ROOT / "bpmn" / "forms").glob("*.json"):
        _properties(json.loads(path.read_text()), declared)
    assert set(ALLOWED) <= declared
    profile = json.loads((ROOT / "bpmn" / "profile.json").read_text())
    summarised = {name for item in profile["summary"] for name in item["fields"]}
    assert not summarised & set(ALLOWED)


# The shipped pathway's own words: generic code and templates say "the pathway", "episode",
# "key worker"; the profile says "secondary diagnosis". "--secondary" (a button's style) is not
# a word of the pathway.
PATHWAY_WORDS = re.compile(r"(?<![\w-])(secondary|breast|metasta\w*)", re.IGNORECASE)
# The default pathway's key: configuration (MDT_DEFAULT_PATHWAY), what the API's examples show.
ALLOWED_WORDS = ("secondary-breast-cancer",)


def _pathway_words(text: str) -> list[str]:
    for allowed in ALLOWED_WORDS:
        text = text.replace(allowed, "")
    return [m.group(1) for m in PATHWAY_WORDS.finditer(text)]


def wording_uses(root: Path = ROOT) -> list[str]:
    """The shipped pathway's words in generic Python strings (not docstrings) and templates."""
    found = []
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if name in NOT_GENERIC:
                continue
            for line, value in sorted(_literals(ast.parse(path.read_text(), name))):
                found += [f"{name}:{line}: {word}" for word in _pathway_words(value)]
    for path in sorted((root / "templates").rglob("*.html")):
        name = path.relative_to(root).as_posix()
        for number, text in enumerate(path.read_text().splitlines(), 1):
            found += [f"{name}:{number}: {word}" for word in _pathway_words(text)]
    return found


def test_no_generic_module_or_template_uses_the_pathway_s_own_words(app) -> None:
    assert wording_uses() == []


def test_the_wording_scan_finds_the_pathway_s_words(tmp_path: Path) -> None:
    """The check can fail: the episode label and the report's introduction as they were."""
    services = tmp_path / "mdt" / "services"
    services.mkdir(parents=True)
    (services / "episodes.py").write_text(
        '"""Episodes of secondary breast cancer care (a docstring may say so)."""\n'
        'LABELS = {"diagnosis": "New secondary diagnosis"}\n'
        'KEY = "secondary-breast-cancer"\n'
    )
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "standards.html").write_text(
        '<p>People with Breast cancer, metastatic sites</p>\n<a class="nhsuk-button--secondary">\n'
    )
    assert wording_uses(tmp_path) == [
        "mdt/services/episodes.py:2: secondary",
        "templates/standards.html:1: Breast",
        "templates/standards.html:1: metastatic",
    ]
