"""Workflow state without its spec.

SpiffWorkflow embeds the whole spec in every serialized state (two thirds of it for
our pathway). We store the spec once per pathway version and each patient's state
without it, tagged with our own format number so a future change can migrate.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from workflows.errors import EngineError

# 1: JSON text. 2: the same JSON, zlib-compressed and base64-encoded behind "z2:" (a patient's
# state is highly repetitive: about a fifth of the size). Both are read; 2 is written.
STATE_FORMAT = 2
FORMAT_KEY = "state_format"
_COMPRESSED = "z2:"


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(
        self, dct: dict[str, Any], spec: Any = None, subprocess_specs: dict[str, Any] | None = None
    ) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpeclessWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER = _make_serializer()


class StateTooLargeError(EngineError):
    """The state written out is larger than one patient's pathway may keep."""


def dump_state(workflow: BpmnWorkflow, max_bytes: int | None = None) -> str:
    dct = _SERIALIZER.to_dict(workflow)
    dct[_SERIALIZER.VERSION_KEY] = _SERIALIZER.VERSION
    dct[FORMAT_KEY] = STATE_FORMAT
    text = json.dumps(dct, separators=(",", ":"))
    if max_bytes is not None and len(text) > max_bytes:
        raise StateTooLargeError(
            f"The pathway's data grew to {len(text):,} characters; at most {max_bytes:,} "
            "may be kept for one patient"
        )
    return encode_state(text)


def encode_state(text: str) -> str:
    """Stored form of a state's JSON text (format 2)."""
    return _COMPRESSED + base64.b64encode(zlib.compress(text.encode(), 6)).decode("ascii")


def decode_state(state: str) -> str:
    """The JSON text of a stored state, whichever format it was written in."""
    if state.startswith(_COMPRESSED):
        return zlib.decompress(base64.b64decode(state[len(_COMPRESSED) :])).decode()
    return state


def _decode(state: str) -> dict[str, Any]:
    dct: dict[str, Any] = json.loads(decode_state(state))
    return dct


def load_state(state: str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    dct = _decode(state)
    state_format = dct.pop(FORMAT_KEY, None)
    if state_format not in (1, STATE_FORMAT):
        raise EngineError(f"Unknown workflow state format {state_format!r}")
    version = dct.pop(_SERIALIZER.VERSION_KEY)
    if version in MIGRATIONS:
        MIGRATIONS[version](dct)
    return _SERIALIZER.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
