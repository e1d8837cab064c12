"""The decision tables' part of the checks on an uploaded pathway (``checking.py``): read
each .dmn file safely, lint it, check every business rule task's decision exists, give the
tables to the engine's parser, and test-run each one."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from lxml import etree
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from workflows.clock import run_now
from workflows.dmn import (
    annotate_inputs,
    decision_ids,
    lint_decision_file,
    parse_decision_file,
    reference_problems,
    trial_run_decision,
)
from workflows.errors import PathwayInvalidError, Problem
from workflows.lint import LintContext
from workflows.sandbox import default_helpers

# dmn-js's annotation column: text for people, which SpiffWorkflow's parser does not know.
_FOR_PEOPLE = ("annotation", "annotationEntry")


def parse_decisions(
    files: Mapping[str, bytes], max_bytes: int, problems: list[Problem]
) -> dict[str, etree._ElementTree]:
    trees = {}
    for name, raw in files.items():
        try:
            trees[name] = parse_decision_file(raw, name, max_bytes)
        except PathwayInvalidError as error:
            problems.extend(error.problems)
    return trees


def check_decisions(
    bpmn_trees: Mapping[str, etree._ElementTree],
    dmn_trees: Mapping[str, etree._ElementTree],
    ctx: LintContext,
) -> list[Problem]:
    """The lint of every decision file, and of every business rule task's reference."""
    helpers = frozenset(default_helpers()) | ctx.timer_helpers
    problems: list[Problem] = []
    for name, tree in dmn_trees.items():
        try:
            problems.extend(lint_decision_file(name, tree, helpers))
        except Exception as error:  # a check's own failure on hostile input
            problems.append(_unchecked(name, error))
    seen: dict[str, str] = {}
    for name, tree in dmn_trees.items():
        root = tree.getroot()
        for decision_id in decision_ids({name: tree}):
            if decision_id in seen:
                problems.append(
                    Problem(
                        f"Decision '{decision_id}' is also in {seen[decision_id]}: give each "
                        "decision its own id.",
                        file=name,
                        line=root.sourceline,
                    )
                )
            seen.setdefault(decision_id, name)
        if len(decision_ids({name: tree})) > 1:
            problems.append(
                Problem(
                    "A decision file holds one decision table: put each table in its own file.",
                    file=name,
                    line=root.sourceline,
                )
            )
    problems.extend(reference_problems(bpmn_trees, decision_ids(dmn_trees)))
    return problems


def add_decisions(
    parser: SpiffBpmnParser,
    dmn_trees: Mapping[str, etree._ElementTree],
    on_error: Callable[[Exception, str | None], None],
) -> None:
    """Give the engine's parser the tables, as trees already parsed safely."""
    for name, tree in dmn_trees.items():
        root = _without_annotations(tree.getroot())
        try:
            parser.add_dmn_xml(root, name)
        except Exception as error:
            on_error(error, name)


def _without_annotations(root: etree._Element) -> etree._Element:
    found = [e for e in root.iter(etree.Element) if etree.QName(e).localname in _FOR_PEOPLE]
    if not found:
        return root
    copied = etree.fromstring(etree.tostring(root))  # our own serialisation: safe to read
    for element in list(copied.iter(etree.Element)):
        if etree.QName(element).localname in _FOR_PEOPLE and element.getparent() is not None:
            element.getparent().remove(element)
    return copied


def trial_run_decisions(
    parser: SpiffBpmnParser,
    dmn_trees: Mapping[str, etree._ElementTree],
    ctx: LintContext,
    skip: Collection[str | None],
) -> list[Problem]:
    """Run each table (of the files the lint passed) against its declared inputs."""
    helpers: dict[str, Callable[..., Any]] = default_helpers()
    helpers.update(ctx.timer_functions or {})
    problems: list[Problem] = []
    for dmn_parser in list(parser.dmn_parsers.values()):
        name = dmn_parser.filename
        if name in skip or name not in dmn_trees:
            continue
        try:
            dmn_parser.parse()
            table = dmn_parser.decision.decisionTables[0]
            annotate_inputs(dmn_trees[name], table)
            problems.extend(
                trial_run_decision(
                    name,
                    dmn_trees[name],
                    table,
                    helpers=helpers,
                    samples=ctx.sample_data,
                    today=run_now().date(),
                    title=dmn_parser.decision.name or dmn_parser.decision.id,
                )
            )
        except Exception as error:  # the parser's failure is the engine's to report
            if type(error).__name__ != "ValidationException":
                problems.append(_unchecked(name, error))
    return problems


def _unchecked(name: str | None, error: Exception) -> Problem:
    return Problem(
        f"This decision file could not be checked (the check failed with "
        f"{type(error).__name__}): simplify it.",
        file=name,
        details=repr(error)[:200],
    )
