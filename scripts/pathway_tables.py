"""Rewrite the generated tables in docs/pathway.md from the diagrams (run after changing them):
the standards each task evidences, and what each task waits for before it can start; and the
table of measures in docs/standards-report.md from bpmn/measures.json.

tests/test_docs.py checks that the document holds exactly what this prints.
"""

from __future__ import annotations

import json
from pathlib import Path

from mdt.config import DEFAULT_PATHWAY_SETTINGS
from mdt.models.roles import TASK_ROLES, role_for_lane
from mdt.models.standards import STANDARDS
from mdt.services.measure_words import describe
from mdt.services.measures import parse_measures
from mdt.services.pathways import TIMER_HELPERS
from workflows import CompiledPathway, compile_pathway
from workflows.dependencies import prerequisites_of_files

ROOT = Path(__file__).resolve().parent.parent
STANDARDS_START, WAITS_START = "| code | standard |", "| task | role | starts after any of |"
MEASURES_START = "| measure | who is counted |"


def _files() -> tuple[dict[str, bytes], dict[str, bytes]]:
    bpmn = {p.name: p.read_bytes() for p in sorted((ROOT / "bpmn").glob("*.bpmn"))}
    bpmn.update({p.name: p.read_bytes() for p in sorted((ROOT / "bpmn").glob("*.dmn"))})
    forms = {p.name: p.read_bytes() for p in sorted((ROOT / "bpmn" / "forms").glob("*.json"))}
    return bpmn, forms


def _compiled() -> CompiledPathway:
    bpmn, forms = _files()
    return compile_pathway(
        bpmn,
        forms,
        role_for_lane=role_for_lane,
        known_roles=[r.value for r in TASK_ROLES],
        known_standards=STANDARDS,
        timer_helpers=TIMER_HELPERS,
    )


def standards_table() -> str:
    pathway = _compiled()
    lines = [f"{STANDARDS_START} evidenced by (process › task `id`) |", "|---|---|---|"]
    for code, label in STANDARDS.items():
        tasks = sorted(
            {
                (i.process_id, i.bpmn_id, i.name)
                for i in pathway.user_tasks.values()
                if code in i.standards
            }
        )
        cells = "<br>".join(f"{pid} › {name} `{bid}`" for pid, bid, name in tasks)
        lines.append(f"| {code} | {label} | {cells} |")
    return "\n".join(lines)


def waits_table() -> str:
    pathway = _compiled()
    waits = prerequisites_of_files(_files()[0])
    lines = [f"{WAITS_START} due (working days) |", "|---|---|---|---|"]
    for (process_id, task_id), found in sorted(waits.items()):
        info = pathway.task_info(process_id, task_id)
        if info is None:
            continue
        after = "<br>".join(dict.fromkeys(w.describe() for w in found))
        lines.append(
            f"| {process_id} › {info.name} `{task_id}` | {info.role} | {after} | "
            f"{info.due_working_days if info.due_working_days is not None else ''} |"
        )
    return "\n".join(lines)


def measures_table() -> str:
    """Every measure as the report runs it, with the default periods and settings."""
    pathway = _compiled()
    measures = parse_measures((ROOT / "bpmn" / "measures.json").read_bytes())
    lines = [
        f"{MEASURES_START} clock starts | deadline | evidence (stops the clock) | target |",
        "|---|---|---|---|---|---|",
    ]
    labels = _episode_labels(pathway)
    for m in measures:
        words = describe(m, pathway, {}, DEFAULT_PATHWAY_SETTINGS, labels)
        lines.append(
            f"| **{m.code}** {m.title} `{m.key}` | {words.counted} | {words.starts} | "
            f"{words.deadline} | {words.evidence} | {m.target}% |"
        )
    return "\n".join(lines)


def _episode_labels(pathway: CompiledPathway) -> dict[str, str]:
    """What the shipped pathway calls each kind of episode, as ``episodes.episode_labels``
    reads it from its profile (no database here)."""
    own = json.loads((ROOT / "bpmn" / "profile.json").read_bytes()).get("episode_labels", {})
    labels = {pathway.first_episode: own.get(pathway.first_episode) or pathway.first_episode}
    for event in pathway.events.values():
        if event.episode:
            labels.setdefault(event.episode, own.get(event.episode) or event.label)
    return labels


def _replace(text: str, start: str, table: str) -> str:
    begin = text.index(start)
    end = text.index("\n\n", begin)
    return text[:begin] + table + text[end:]


if __name__ == "__main__":
    doc = ROOT / "docs" / "pathway.md"
    text = _replace(doc.read_text(), STANDARDS_START, standards_table())
    doc.write_text(_replace(text, WAITS_START, waits_table()))
    report = ROOT / "docs" / "standards-report.md"
    report.write_text(_replace(report.read_text(), MEASURES_START, measures_table()))
    print("docs/pathway.md and docs/standards-report.md tables rewritten")
