"""A draft's decision tables (.dmn files), as the decision table editor changes them.

Each change goes through the draft's own save (``pathway_drafts.update_draft``): managers
only, audited, and a draft someone else saved since the editor opened it is reported, not
overwritten. Whether a table is valid is the pathway checks' business (``workflows.dmn``):
a draft keeps what the manager saved, valid or not, and says what is wrong.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape, quoteattr

from mdt.models import PathwayVersionModel
from mdt.services.actor import Actor
from mdt.services.errors import ConflictError, InvalidInputError
from mdt.services.pathway_drafts import FILE_NAME, update_draft, validate_version
from mdt.services.pathways import get_version

DECISION_ID = re.compile(r"[a-z][a-z0-9_]{1,59}")


def draft_tables(version: PathwayVersionModel) -> list[str]:
    return sorted(f.name for f in version.files if f.kind == "dmn")


def table_text(version: PathwayVersionModel, name: str) -> str | None:
    stored = next((f for f in version.files if f.name == name and f.kind == "dmn"), None)
    return stored.content.decode("utf-8", errors="replace") if stored is not None else None


def table_problems(actor: Actor, version: PathwayVersionModel, name: str) -> list[dict]:
    """The draft's problems in this file (the whole draft is checked: a business rule task
    names a decision, a table is test-run with the forms' sample answers)."""
    return [p for p in validate_version(actor, version.id).problems if p.get("file") == name]


def starter_table(decision_id: str, title: str) -> str:
    """A new table a manager fills in: one input, one output, one rule that always
    applies, laid out so dmn-js can draw it."""
    name = quoteattr(title)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" id="{decision_id}_definitions" name={name} namespace="http://mdt-pathways/dmn">
  <decision id="{decision_id}" name={name}>
    <decisionTable id="{decision_id}_table" hitPolicy="FIRST">
      <input id="{decision_id}_in1" label="Score">
        <inputExpression id="{decision_id}_in1_expr" typeRef="integer">
          <text>score</text>
        </inputExpression>
      </input>
      <output id="{decision_id}_out1" label="Result" name="{decision_id}_result" typeRef="boolean" />
      <rule id="{decision_id}_rule1">
        <description>{escape("Always applies: replace with your rules")}</description>
        <inputEntry id="{decision_id}_rule1_in1">
          <text>-</text>
        </inputEntry>
        <outputEntry id="{decision_id}_rule1_out1">
          <text>False</text>
        </outputEntry>
      </rule>
    </decisionTable>
  </decision>
  <dmndi:DMNDI>
    <dmndi:DMNDiagram id="{decision_id}_diagram">
      <dmndi:DMNShape id="{decision_id}_shape" dmnElementRef="{decision_id}">
        <dc:Bounds height="80" width="180" x="160" y="100" />
      </dmndi:DMNShape>
    </dmndi:DMNDiagram>
  </dmndi:DMNDI>
</definitions>
"""


def add_table(
    actor: Actor, version_id: int, decision_id: str, title: str, expected_sha256: str
) -> tuple[PathwayVersionModel, str]:
    """Add a new decision table to a draft, in ``<decision id>.dmn``; returns the draft and
    the file's name."""
    version = get_version(version_id)
    errors = {}
    decision_id = decision_id.strip()
    name = f"{decision_id}.dmn"
    files = {f.name: f.content for f in version.files}
    if not DECISION_ID.fullmatch(decision_id):
        errors["decision_id"] = (
            "Enter an id of 2 to 60 lower-case letters, digits and underscores, starting with a "
            "letter, like hna_referrals"
        )
    elif name in files or any(f'id="{decision_id}"'.encode() in c for c in files.values()):
        errors["decision_id"] = f"The draft already has {decision_id}: choose another id"
    if not title.strip() or len(title) > 200:
        errors["title"] = "Enter a title of up to 200 characters"
    if errors:
        raise InvalidInputError(errors)
    files[name] = starter_table(decision_id, title.strip()).encode()
    return update_draft(actor, version_id, files, expected_sha256), name


def save_table(
    actor: Actor, version_id: int, name: str, text: str, expected_sha256: str
) -> PathwayVersionModel:
    """Write one decision table into the draft, as the editor saved it."""
    version = get_version(version_id)
    files = {f.name: f.content for f in version.files}
    if not FILE_NAME.fullmatch(name) or not name.endswith(".dmn"):
        raise InvalidInputError({"xml": f"{name} is not a decision table's file name"})
    if name not in files:
        raise ConflictError(f"The draft no longer has {name}: someone removed it.")
    if not text.strip():
        raise InvalidInputError({"xml": "The decision table is empty"})
    files[name] = text.encode()
    return update_draft(actor, version_id, files, expected_sha256)
