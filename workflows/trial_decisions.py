"""What the test run's graph (``trial_graph.py``) knows of business rule tasks: the data a
decision table reads (its input expressions, and each rule's test as the DMN engine builds
it, so the test run answers forms on either side of a threshold) and the names it sets (its
outputs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from workflows.dmn import decision_ids, parse_decision_file, table_expressions
from workflows.errors import PathwayInvalidError
from workflows.xml_safety import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    from workflows.trial_graph import PathwayGraph

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"


@dataclass(frozen=True)
class DecisionCode:
    reads: tuple[str, ...]  # input expressions: what the table reads from the task's data
    tests: tuple[str, ...]  # each rule's input tests and outputs, as the engine evaluates them
    sets: tuple[str, ...]  # the outputs' names


def read_decisions(files: Mapping[str, bytes]) -> dict[str, DecisionCode]:
    """Each decision's code, by decision id (files that cannot be read are the checks' to
    report: they add nothing here)."""
    trees = {}
    for name, raw in files.items():
        try:
            trees[name] = parse_decision_file(raw, name, DEFAULT_MAX_BYTES)
        except PathwayInvalidError:
            continue
    found = {}
    for decision_id, (_, decision) in decision_ids(trees).items():
        reads: list[str] = []
        tests: list[str] = []
        for table in decision.iter(etree.Element):
            if etree.QName(table).localname != "decisionTable":
                continue
            for expression in table_expressions(table):
                kind = etree.QName(expression.element).localname
                if not expression.source:
                    continue
                (reads if kind == "inputExpression" else tests).append(expression.source)
        sets = tuple(
            (output.get("name") or output.get("label") or "").split(".")[0]
            for output in decision.iter(etree.Element)
            if etree.QName(output).localname == "output"
        )
        found[decision_id] = DecisionCode(tuple(reads), tuple(tests), tuple(n for n in sets if n))
    return found


def add_decision_tasks(graph: PathwayGraph, decisions: Mapping[str, DecisionCode]) -> None:
    """Give each business rule task of ``graph`` its table's code and outputs."""
    from workflows.trial_graph import Expression

    for node in list(graph.nodes.values()):
        if node.kind != "businessRuleTask" or node.decision is None:
            continue
        code = decisions.get(node.decision)
        if code is None:
            continue
        for source in code.reads:
            graph.expressions.append(Expression("expression", source, node.scope, node.id))
        for source in code.tests:
            graph.expressions.append(Expression("decision", source, node.scope, node.id))
        graph.other_names.update(code.sets)
