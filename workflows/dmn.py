"""Decision tables (DMN 1.3): read safely, checked, and test-run before a pathway is accepted.

A business rule task calls a decision table by id (``spiffworkflow:calledDecisionId``);
SpiffWorkflow's DMN engine runs the table. Every expression a table holds (each input's
expression, each rule's input entries, each output entry) is evaluated by the workflow's
script engine, which is the sandbox (``sandbox.py``): the DMN engine never calls ``eval``.
The engine's parser reads XML with entities on, so decision files are parsed here, safely,
and handed to it as trees.

A pathway's decision files travel with its BPMN files, in the same mapping of file name to
bytes: a name ending ``.dmn`` is a decision file (``split_files``).
"""

from __future__ import annotations

import ast
import copy
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from workflows.errors import PathwayInvalidError, Problem, SandboxCompileError
from workflows.limits import source_problem
from workflows.lint import _plain as plain_compile_error
from workflows.problems import sentence
from workflows.sandbox import (
    SandboxEnvironment,
    SandboxInterrupt,
    calls_not_provided,
    compile_expression,
    data_items,
    sandbox_names,
    time_limit,
)
from workflows.xml_safety import parse_safe_root

DMN13_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"
# The versions SpiffWorkflow's DMN parser reads; dmn-js saves 1.3.
DMN_NAMESPACES = (
    DMN13_NS,
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# UNIQUE: at most one rule may match (the test run checks it). FIRST: the first rule that
# matches, in table order. COLLECT: every matching rule's outputs, as lists.
HIT_POLICIES = ("UNIQUE", "FIRST", "COLLECT")
MAX_RULES = 500
MAX_COLUMNS = 30
# The test run: at most this many values tried per input, and combinations per table.
MAX_SAMPLES_PER_INPUT = 12
MAX_COMBINATIONS = 2000
# ... and at most this many cells evaluated in all (rules x columns x combinations), so a big
# table is tested with fewer combinations rather than refused as slow.
MAX_CELL_EVALUATIONS = 200_000
TEST_RUN_SECONDS = 5.0
# Where the DMN engine replaces "?" by the input's value (outside quotes), as it does.
_QUESTION_MARK = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")
_TYPE_NUMBERS = {"integer", "long", "number", "double"}


def is_decision_file(name: str) -> bool:
    return name.lower().endswith(".dmn")


def split_files(files: Mapping[str, bytes]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """A pathway's diagram files: (BPMN files, decision files)."""
    bpmn = {name: raw for name, raw in files.items() if not is_decision_file(name)}
    dmn = {name: raw for name, raw in files.items() if is_decision_file(name)}
    return bpmn, dmn


def parse_decision_file(raw: bytes, filename: str, max_bytes: int) -> etree._ElementTree:
    """One uploaded .dmn file, parsed with no DTD, entities or network; PathwayInvalidError
    when it is not well-formed or not DMN."""
    root = parse_safe_root(raw, filename, max_bytes)
    if etree.QName(root).localname != "definitions" or etree.QName(root).namespace not in (
        DMN_NAMESPACES
    ):
        raise PathwayInvalidError(
            [
                Problem(
                    "Not a DMN 1.3 file (the root must be dmn:definitions): save the decision "
                    "table from the decision table editor or a DMN modelling tool.",
                    file=filename,
                    line=root.sourceline,
                )
            ]
        )
    return etree.ElementTree(root)


def _ns(root: etree._Element) -> dict[str, str]:
    return {"dmn": etree.QName(root).namespace or DMN13_NS}


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    found = [c for c in element if isinstance(c.tag, str) and _local(c) == "text"]
    return found[0].text if found else None


def decisions_of(tree: etree._ElementTree) -> list[etree._Element]:
    root = tree.getroot()
    return list(root.xpath("./dmn:decision", namespaces=_ns(root)))


def decision_ids(trees: Mapping[str, etree._ElementTree]) -> dict[str, tuple[str, etree._Element]]:
    """Every decision the files define: id -> (file, element)."""
    found: dict[str, tuple[str, etree._Element]] = {}
    for name, tree in trees.items():
        for decision in decisions_of(tree):
            if decision.get("id"):
                found.setdefault(decision.get("id"), (name, decision))
    return found


def output_names(trees: Mapping[str, etree._ElementTree]) -> dict[str, tuple[str, ...]]:
    """For each decision id, the names its outputs set in the task's data."""
    names: dict[str, tuple[str, ...]] = {}
    for decision_id, (_, decision) in decision_ids(trees).items():
        names[decision_id] = tuple(
            output.get("name") or output.get("label") or ""
            for output in decision.iter(etree.Element)
            if _local(output) == "output"
        )
    return names


# -- the expressions a table holds -------------------------------------------------------------


@dataclass(frozen=True)
class TableExpression:
    """One piece of Python in a table, as the DMN engine will evaluate it."""

    element: etree._Element  # the inputExpression, inputEntry or outputEntry
    what: str  # how a manager would name the cell
    source: str  # what the engine evaluates
    written: str  # what the cell holds


def entry_expression(input_expression: str, entry: str) -> tuple[str, str | None]:
    """What the DMN engine evaluates for an input entry (SpiffWorkflow's DMNEngine.evaluate):
    with a "?", the entry with the input's value in its place; an entry that is itself an
    expression, compared for equality with the input; else (">= 4", "in (1, 2)") the input
    followed by the entry. Returns (expression, the input expression also evaluated or None).
    """
    replaced = _QUESTION_MARK.sub("dmninputexpr", entry)
    if "dmninputexpr" in replaced:
        return replaced, input_expression
    try:
        ast.parse(entry)
    except SyntaxError:
        return input_expression + entry, None
    return f"({input_expression}) == ({entry})", None


def table_expressions(table: etree._Element) -> Iterator[TableExpression]:
    ns = _ns(table.getroottree().getroot())
    inputs = table.xpath("./dmn:input", namespaces=ns)
    outputs = table.xpath("./dmn:output", namespaces=ns)
    sources: list[str] = []
    for number, column in enumerate(inputs, start=1):
        expression = column.find("dmn:inputExpression", namespaces=ns)
        label = column.get("label") or f"input {number}"
        source = (_text(expression) or "").strip()
        sources.append(source)
        yield TableExpression(
            expression if expression is not None else column,
            f"The expression of input '{label}'",
            source,
            source,
        )
    for row, rule in enumerate(table.xpath("./dmn:rule", namespaces=ns), start=1):
        entries = rule.xpath("./dmn:inputEntry", namespaces=ns)
        for column, entry in enumerate(entries):
            text = (_text(entry) or "").strip()
            if not text or text == "-" or column >= len(sources):
                continue
            label = inputs[column].get("label") or f"input {column + 1}"
            source, _ = entry_expression(sources[column] or "None", text)
            yield TableExpression(entry, f"Rule {row}, input '{label}'", source, text)
        for column, entry in enumerate(rule.xpath("./dmn:outputEntry", namespaces=ns)):
            text = (_text(entry) or "").strip()
            label = (
                (outputs[column].get("label") or outputs[column].get("name"))
                if column < len(outputs)
                else f"output {column + 1}"
            )
            yield TableExpression(entry, f"Rule {row}, output '{label}'", text, text)


# -- checks ------------------------------------------------------------------------------------


class _Reporter:
    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[Problem] = []

    def report(self, element: etree._Element, message: str, details: str | None = None) -> None:
        # The row or column a manager sees (a cell's own id means nothing to them).
        owner: etree._Element | None = element
        while owner is not None and (owner.get("id") is None or _local(owner) not in _KINDS):
            owner = owner.getparent()
        self.problems.append(
            Problem(
                sentence(message),
                file=self.filename,
                line=element.sourceline,
                element_id=owner.get("id") if owner is not None else None,
                element_name=(owner.get("name") or owner.get("label"))
                if owner is not None
                else None,
                element_type=_KINDS.get(_local(owner)) if owner is not None else None,
                details=details,
            )
        )


_KINDS = {
    "decision": "decision",
    "decisionTable": "decision table",
    "rule": "rule",
    "input": "input",
    "output": "output",
}


def lint_decision_file(
    filename: str, tree: etree._ElementTree, helpers: frozenset[str]
) -> list[Problem]:
    """What is wrong with one decision file: its shape (one decision table per decision, a
    supported hit policy, every cell present) and every expression (size, sandbox, calls)."""
    reporter = _Reporter(filename)
    root = tree.getroot()
    ns = _ns(root)
    decisions = decisions_of(tree)
    if not decisions:
        reporter.report(root, "This file holds no decision: add a decision table.")
    for decision in decisions:
        tables = decision.xpath("./dmn:decisionTable", namespaces=ns)
        if len(tables) != 1 or len(decision) > len(tables) + _extras(decision):
            reporter.report(
                decision,
                "Each decision must be one decision table (literal expressions and decisions "
                "that require other decisions are not supported).",
            )
        for table in tables:
            _lint_table(reporter, table, ns, helpers)
    return reporter.problems


def _extras(decision: etree._Element) -> int:
    """Children of a decision that are not its logic: descriptions, extensions, requirements."""
    allowed = ("description", "extensionElements", "variable", "question", "allowedAnswers")
    return sum(1 for c in decision if not isinstance(c.tag, str) or _local(c) in allowed)


def _lint_table(
    reporter: _Reporter, table: etree._Element, ns: Mapping[str, str], helpers: frozenset[str]
) -> None:
    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    if policy not in HIT_POLICIES or table.get("aggregation"):
        reporter.report(
            table,
            f"Hit policy {policy}{' ' + table.get('aggregation', '') if table.get('aggregation') else ''}"
            f" is not supported: use {', '.join(HIT_POLICIES)}.",
        )
    inputs = table.xpath("./dmn:input", namespaces=ns)
    outputs = table.xpath("./dmn:output", namespaces=ns)
    rules = table.xpath("./dmn:rule", namespaces=ns)
    if not outputs:
        reporter.report(table, "The table has no output: add the column it decides.")
    if len(inputs) + len(outputs) > MAX_COLUMNS:
        reporter.report(table, f"The table has more than {MAX_COLUMNS} columns: split it.")
    if len(rules) > MAX_RULES:
        reporter.report(table, f"The table has {len(rules)} rules; at most {MAX_RULES}.")
    for output in outputs:
        name = output.get("name") or output.get("label") or ""
        if not re.fullmatch(
            r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*(\.[A-Za-z][A-Za-z0-9_]*)*", name
        ):
            reporter.report(
                output,
                f"Output '{name}' needs a name the pathway can read, like needs_referral "
                "(letters, digits and _, starting with a letter).",
            )
    for row, rule in enumerate(rules, start=1):
        cells = (
            len(rule.xpath("./dmn:inputEntry", namespaces=ns)),
            len(rule.xpath("./dmn:outputEntry", namespaces=ns)),
        )
        if cells != (len(inputs), len(outputs)):
            reporter.report(
                rule,
                f"Rule {row} has {cells[0]} input and {cells[1]} output cells; the table has "
                f"{len(inputs)} inputs and {len(outputs)} outputs.",
            )
    for expression in table_expressions(table):
        _lint_expression(reporter, expression, helpers)


def _lint_expression(
    reporter: _Reporter, expression: TableExpression, helpers: frozenset[str]
) -> None:
    what, source = expression.what, expression.source
    if not expression.written:
        reporter.report(
            expression.element,
            f"{what} is empty: write an expression"
            + (" (None for no value)." if _local(expression.element) == "outputEntry" else "."),
        )
        return
    too_big = source_problem(source, "eval")
    if too_big:
        reporter.report(expression.element, f"{what} {too_big}.")
        return
    try:
        compile_expression(source)
    except SandboxCompileError as error:
        reporter.report(
            expression.element,
            f"{what} ('{_short(expression.written)}') is not an allowed expression: "
            + plain_compile_error(str(error)),
            details=str(error),
        )
        return
    known = helpers | {"dmninputexpr"}
    for name in calls_not_provided(source, "eval", known):
        reporter.report(
            expression.element,
            f"{what} calls {name}(), which pathway expressions do not have (it would fail for "
            "the first patient who got here).",
        )


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reference_problems(
    bpmn_trees: Mapping[str, etree._ElementTree],
    decisions: Mapping[str, tuple[str, etree._Element]],
) -> list[Problem]:
    """Every business rule task must name a decision one of the pathway's .dmn files holds."""
    problems = []
    known = ", ".join(f"'{d}'" for d in sorted(decisions)) or "none (upload a .dmn file)"
    for filename, tree in bpmn_trees.items():
        for task in tree.getroot().iter(f"{{{BPMN_NS}}}businessRuleTask"):
            refs = task.xpath(
                "./bpmn:extensionElements/spiffworkflow:calledDecisionId",
                namespaces={"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS},
            )
            ref = (refs[0].text or "").strip() if refs else ""
            if ref in decisions:
                continue
            message = (
                f"This business rule task calls decision '{ref}', which no decision file of "
                f"the pathway holds; the decisions are: {known}."
                if ref
                else "This business rule task names no decision table: choose one "
                f"(spiffworkflow:calledDecisionId); the decisions are: {known}."
            )
            problems.append(
                Problem(
                    message,
                    file=filename,
                    line=(refs[0] if refs else task).sourceline,
                    element_id=task.get("id"),
                    element_name=task.get("name"),
                    element_type="business rule task",
                )
            )
    return problems


# -- the test run ------------------------------------------------------------------------------


def sandboxed_script_engine(helpers: Mapping[str, Callable[..., Any]]) -> PythonScriptEngine:
    """The script engine a decision is test-run with: the sandbox, as the pathway engine's."""
    return PythonScriptEngine(environment=SandboxEnvironment(helpers))


class _TrialTask:
    """The little of a workflow task the DMN engine reads (data, the script engine) and its
    errors describe (the task spec's name, the workflow's file)."""

    def __init__(self, data: dict[str, Any], script_engine: PythonScriptEngine, name: str):
        self.data = data
        self.task_spec = SimpleNamespace(bpmn_name=name, name=name)
        self.workflow = SimpleNamespace(
            script_engine=script_engine, spec=SimpleNamespace(file=name), parent_workflow=None
        )
        self.workflow.top_workflow = self.workflow


def trial_run_decision(
    filename: str,
    tree: etree._ElementTree,
    table: Any,
    *,
    helpers: Mapping[str, Callable[..., Any]],
    samples: Mapping[str, Any],
    today: date,
    title: str = "",
    seconds: float | None = None,
) -> list[Problem]:
    """Run one parsed decision table (SpiffWorkflow's ``DecisionTable``) against its declared
    inputs: first as written, with the pathway's sample data (each form's ordinary answers)
    and values for what the forms do not set; then with each input given every value its
    column declares or compares with. A rule that fails, an output that cannot be stored, or
    two rules of a UNIQUE table matching at once, is a problem on that rule's line."""
    reporter = _Reporter(filename)
    seconds = TEST_RUN_SECONDS if seconds is None else seconds
    elements = {
        e.get("id"): e for e in tree.getroot().iter(etree.Element) if e.get("id") is not None
    }
    engine = sandboxed_script_engine(helpers)
    candidates = [_candidates(column, today) for column in table.inputs]
    written = _written_data(table, candidates, samples, helpers)
    base = written if written is not None else dict(samples)
    valued = copy.copy(table)
    valued.inputs = [copy.copy(column) for column in table.inputs]
    valued.rules = [_rule_on(rule, valued.inputs) for rule in table.rules]
    for number, column in enumerate(valued.inputs):
        column.expression = f"dmn_value_{number}"
    plain = [(column.expression or "").strip() for column in table.inputs]
    trials = [(table, base)] if written is not None else []
    cells = max(1, len(table.rules) * (len(table.inputs) + len(table.outputs)))
    budget = max(10, MAX_CELL_EVALUATIONS // cells)
    for values in itertools.islice(_combinations(candidates), budget):
        data = dict(base)
        for number, value in enumerate(values):
            data[f"dmn_value_{number}"] = value
            if plain[number].isidentifier():  # an output may read the input's variable
                data[plain[number]] = value
        trials.append((valued, data))
    seen: set[str | None] = set()
    try:
        with time_limit(seconds):
            for subject, data in trials:
                problem = _try_once(subject, data, engine, table, title)
                if problem is not None and problem[0] not in seen:
                    seen.add(problem[0])
                    rule_id, message, details = problem
                    where = elements.get(rule_id) if rule_id else None
                    reporter.report(
                        where if where is not None else tree.getroot(), message, details
                    )
                if len(seen) >= 5:
                    break
    except SandboxInterrupt:
        reporter.report(
            elements.get(table.id, tree.getroot()),
            f"The test run of this decision table took longer than {seconds:g} s: an expression "
            "in it is too slow.",
        )
    return reporter.problems


def _rule_on(rule: Any, inputs: list[Any]) -> Any:
    """A copy of ``rule`` whose input entries read ``inputs`` (the valued copies)."""
    copied = copy.copy(rule)
    copied.inputEntries = []
    for number, entry in enumerate(rule.inputEntries):
        moved = copy.copy(entry)
        moved.input = inputs[number] if number < len(inputs) else entry.input
        copied.inputEntries.append(moved)
    return copied


def _try_once(
    subject: Any, data: Mapping[str, Any], engine: PythonScriptEngine, original: Any, title: str
) -> tuple[str | None, str, str | None] | None:
    title = title or original.name or original.id
    task = _TrialTask(dict(data), engine, title)
    shown = _shown_inputs(subject, original, data)
    matched: list[Any] = []
    try:
        everything = copy.copy(subject)
        everything.hit_policy = "FIRST"  # every matching rule, to check UNIQUE
        matched = DMNEngine(everything).decide(task)
        for rule in matched if subject.hit_policy == "COLLECT" else matched[:1]:
            _check_outputs(rule.output_as_dict(task))
    except SandboxInterrupt:
        raise
    except Exception as error:  # the engine wraps every sandbox failure; say which rule
        row = _row_of(error)
        rule = original.rules[row - 1] if row and row <= len(original.rules) else None
        if rule is None and matched:
            rule = original.rules[subject.rules.index(matched[0])]
        return (
            rule.id if rule is not None else original.id,
            f"The test run of decision table '{title}' failed "
            f"{f'on rule {row} ' if row else ''}with {shown}: {_reason(error)}",
            repr(error)[:300],
        )
    if subject.hit_policy == "UNIQUE" and len(matched) > 1:
        rows = [subject.rules.index(rule) + 1 for rule in matched]
        return (
            original.rules[rows[1] - 1].id,
            f"Rules {rows[0]} and {rows[1]} both match {shown}, and the hit policy is UNIQUE: "
            "make the rules exclusive, or use the hit policy FIRST.",
            None,
        )
    return None


def _check_outputs(outputs: Mapping[str, Any]) -> None:
    for name, value in outputs.items():
        if data_items(value) > 10_000:
            raise ValueError(f"output '{name}' is too large to keep")
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"output '{name}' is a {type(value).__name__}, which cannot be stored"
            ) from None


def _row_of(error: BaseException) -> int | None:
    """The rule the DMN engine was testing, from the note it adds ("... on row 3")."""
    notes = [*(getattr(error, "__notes__", None) or []), *(getattr(error, "notes", None) or [])]
    for note in [*notes, str(error)]:
        found = re.search(r"on row (\d+)", str(note))
        if found:
            return int(found.group(1))
    return None


def _reason(error: BaseException) -> str:
    inner = getattr(error, "error", None) or error.__cause__ or error.__context__
    text = str(error).rstrip(". ")
    if inner is not None and str(inner) and str(inner) not in text:
        text = f"{text} ({type(inner).__name__}: {inner})"
    return _short(text, 300)


def _shown_inputs(subject: Any, original: Any, data: Mapping[str, Any]) -> str:
    if subject is original:
        return "the pathway's sample answers"
    parts = [
        f"{column.label or column.name or f'input {n + 1}'} = {data.get(f'dmn_value_{n}')!r}"
        for n, column in enumerate(original.inputs)
    ]
    return ", ".join(parts) or "no inputs"


def _written_data(
    table: Any,
    candidates: list[list[Any]],
    samples: Mapping[str, Any],
    helpers: Mapping[str, Any],
) -> dict[str, Any] | None:
    """Data to run the table as written: the samples, and for an input that is a plain
    variable the samples lack (one a script sets), its first value. None when an input reads
    something else the samples do not hold (data the registration gives): the runs with
    each input's values still test every rule."""
    known = sandbox_names() | set(helpers)
    base = dict(samples)
    for column, values in zip(table.inputs, candidates, strict=False):
        source = (column.expression or "").strip()
        if source.isidentifier() and source not in base and source not in known:
            base[source] = values[0] if values else None
    for column in table.inputs:
        if _free_names(column.expression or "") - known - set(base):
            return None
    return base


def _free_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _combinations(candidates: list[list[Any]]) -> Iterable[tuple[Any, ...]]:
    """Every combination when there are few; else each input's values in turn, the others
    at their first value."""
    total = 1
    for values in candidates:
        total *= max(len(values), 1)
    if total <= MAX_COMBINATIONS:
        return itertools.product(*[values or [None] for values in candidates])
    firsts = [values[0] if values else None for values in candidates]
    varied = []
    for number, values in enumerate(candidates):
        for value in values:
            varied.append((*firsts[:number], value, *firsts[number + 1 :]))
    return varied


def _candidates(column: Any, today: date) -> list[Any]:
    """The values a test run gives one input: its declared values (inputValues), else what
    its type and its rules' entries suggest (each number compared with, and one either side;
    each string; True and False)."""
    declared = getattr(column, "dmn_values", None)
    if declared:
        return list(declared)[:MAX_SAMPLES_PER_INPUT]
    type_ref = (column.typeRef or "").lower()
    numbers: list[Any] = []
    strings: list[Any] = []
    for text in getattr(column, "dmn_entries", []):
        for value in _constants(text):
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                numbers.extend([value - 1, value, value + 1])
            elif isinstance(value, str):
                strings.append(value)
    if type_ref == "boolean":
        values: list[Any] = [True, False, None]
    elif type_ref in _TYPE_NUMBERS:
        values = [*numbers, 0]
        if type_ref in ("integer", "long"):
            values = [int(v) for v in values]
    elif type_ref == "string":
        values = [*strings, ""]
    elif type_ref == "date":
        values = [*strings, today.isoformat()]
    else:
        values = [*numbers, *strings, True, False, None]
    unique: list[Any] = []
    for value in values:
        if not any(value == seen and type(value) is type(seen) for seen in unique):
            unique.append(value)
    return unique[:MAX_SAMPLES_PER_INPUT]


def _constants(text: str) -> list[Any]:
    try:
        tree = ast.parse(_QUESTION_MARK.sub("dmninputexpr", text.strip()), mode="eval")
    except SyntaxError:
        try:
            tree = ast.parse("dmninputexpr " + text.strip(), mode="eval")
        except SyntaxError:
            return []
    found: list[Any] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            found.append(node.value)
        elif (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
        ):
            found.append(-node.operand.value)
    return found


def annotate_inputs(tree: etree._ElementTree, table: Any) -> None:
    """Give the engine's parsed inputs what the test run reads from the XML: each column's
    declared values (inputValues) and its rules' entries."""
    root = tree.getroot()
    ns = _ns(root)
    elements = root.xpath(".//dmn:decisionTable[@id=$i]", namespaces=ns, i=table.id)
    if not elements:
        return
    columns = elements[0].xpath("./dmn:input", namespaces=ns)
    rules = elements[0].xpath("./dmn:rule", namespaces=ns)
    for number, column in enumerate(table.inputs):
        entries = []
        for rule in rules:
            cells = rule.xpath("./dmn:inputEntry", namespaces=ns)
            if number < len(cells):
                text = (_text(cells[number]) or "").strip()
                if text and text != "-":
                    entries.append(text)
        column.dmn_entries = entries
        column.dmn_values = []
        if number < len(columns):
            declared = columns[number].find("dmn:inputValues", namespaces=ns)
            text = (_text(declared) or "").strip()
            if text:
                try:
                    column.dmn_values = list(ast.literal_eval(f"[{text}]"))
                except (ValueError, SyntaxError, RecursionError, MemoryError):
                    column.dmn_values = []
