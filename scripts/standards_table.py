"""Rewrite the standards table in docs/pathway.md from the diagrams (run after changing them)."""

from __future__ import annotations

from pathlib import Path

from mdt.models.roles import TASK_ROLES, role_for_lane
from mdt.models.standards import STANDARDS
from mdt.services.pathways import TIMER_HELPERS
from workflows import compile_pathway

ROOT = Path(__file__).resolve().parent.parent


def table() -> str:
    bpmn = {p.name: p.read_bytes() for p in sorted((ROOT / "bpmn").glob("*.bpmn"))}
    forms = {p.name: p.read_bytes() for p in sorted((ROOT / "bpmn" / "forms").glob("*.json"))}
    pathway = compile_pathway(
        bpmn,
        forms,
        role_for_lane=role_for_lane,
        known_roles=[r.value for r in TASK_ROLES],
        known_standards=STANDARDS,
        timer_helpers=TIMER_HELPERS,
    )
    lines = ["| code | standard | evidenced by (process › task `id`) |", "|---|---|---|"]
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


if __name__ == "__main__":
    doc = ROOT / "docs" / "pathway.md"
    text = doc.read_text()
    start = text.index("| code | standard |")
    end = text.index("\n\n## How it runs")
    doc.write_text(text[:start] + table() + text[end:])
    print("docs/pathway.md standards table rewritten")
