"""Every check on an uploaded pathway in one round.

XML safety, the BPMN 2.0 schema, the project's lint, the engine's parse and the engine's
own checks (which process starts the pathway, called processes present) all run, and every
problem they find is reported together: a file the schema refuses is still linted and
parsed as far as it can be, so a manager never fixes fifteen problems only to learn of the
real one. Each problem is in plain English on the shape it is about (``problems.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from workflows.clock import run_now
from workflows.decision_checks import (
    add_decisions,
    check_decisions,
    parse_decisions,
    trial_run_decisions,
)
from workflows.dmn import split_files
from workflows.errors import PathwayInvalidError, Problem
from workflows.lint import NS, LintContext, call_cycles, lint_bpmn, load_forms, sample_data
from workflows.problems import at_shape, engine_problem, sentence, shape_of, xsd_problems
from workflows.references import resolve_references, resolved_ref
from workflows.xml_safety import parse_untrusted_xml

# Engine messages the lint already says better, about the same shape: shown once.
_SAID_BY_LINT = re.compile(
    r"Non-default exclusive outgoing sequence flow|Invalid Script Task|Time Specification|"
    r"Expected a(?:n)? \w+ node|unexpected keyword argument 'node'|no support implemented|"
    r"Service Task must have an operator|No DMN Diagram available"
)


@dataclass
class Checked:
    """What the checks read, for the loader to build a runnable pathway from."""

    trees: dict[str, etree._ElementTree]
    forms: dict[str, Any]
    process_id: str
    spec: Any
    subprocess_specs: dict[str, Any]


def schema_problems(filename: str, tree: etree._ElementTree) -> list[Problem]:
    """Every place a file breaks the BPMN 2.0 (+ Spiff) schema, not only the first."""
    root = tree.getroot()
    VALIDATOR.preprocess(root)
    schema = VALIDATOR.validator
    if schema.validate(root):
        return []
    return xsd_problems(filename, tree, list(schema.error_log))


def _engine_failure(
    error: Exception, filename: str | None, trees: Mapping[str, etree._ElementTree]
) -> Problem:
    if isinstance(error, ValidationException):
        message = str(error.args[0]) if error.args else str(error)
        filename = getattr(error, "file_name", None) or filename
        element_id = getattr(error, "id", None) or None
        line = getattr(error, "line_number", None) or None
    else:  # the parser's own bugs (a TypeError on a reference it cannot find, ...)
        message, element_id, line = repr(error), None, None
    tree = trees.get(filename or "")
    if tree is None and element_id:  # the engine did not say which file: find the id
        filename, tree = next(
            (
                (name, candidate)
                for name, candidate in trees.items()
                if candidate.getroot().xpath("//*[@id=$i]", i=element_id)
            ),
            (filename, None),
        )
    return engine_problem(message, tree, file=filename, element_id=element_id, line=line)


def _on(problem: Problem, element: etree._Element | None) -> Problem:
    return at_shape(problem, shape_of(element), element) if element is not None else problem


def _processes(trees: Mapping[str, etree._ElementTree]) -> dict[str, tuple[str, etree._Element]]:
    found: dict[str, tuple[str, etree._Element]] = {}
    for name, tree in trees.items():
        for process in tree.getroot().xpath("./bpmn:process", namespaces=NS):
            if process.get("id"):
                found.setdefault(process.get("id"), (name, process))
    return found


def _callers(trees: Mapping[str, etree._ElementTree]) -> dict[str, set[str]]:
    """For each called process, the other processes that call it (a process calling itself
    is the lint's to report, and does not stop it starting the pathway)."""
    callers: dict[str, set[str]] = {}
    for _, process in _processes(trees).values():
        for call in process.xpath(".//bpmn:callActivity", namespaces=NS):
            called = resolved_ref(call, call.get("calledElement"))
            if called and called != process.get("id"):
                callers.setdefault(called, set()).add(process.get("id"))
    return callers


def main_process(
    parser: SpiffBpmnParser,
    trees: Mapping[str, etree._ElementTree],
    wanted: str | None,
    cycles_reported: bool,
) -> tuple[str | None, list[Problem]]:
    """The process that starts the pathway: the one asked for, else the one executable
    process no other calls. Otherwise say why none can be chosen, and how to choose."""
    executable = parser.get_process_ids()
    processes = _processes(trees)
    if wanted:
        if wanted in executable:
            return wanted, []
        if wanted in processes:
            name, process = processes[wanted]
            message = (
                f"Process '{wanted}', chosen to start the pathway, is not marked executable: "
                "set isExecutable=\"true\" on it (in Camunda Modeler, tick 'Executable')."
            )
            return None, [_on(Problem(message, file=name), process)]
        choices = ", ".join(f"'{pid}'" for pid in executable) or "none"
        return None, [
            Problem(
                f"No executable process '{wanted}' is in these files to start the pathway; "
                f"choose one of: {choices}."
            )
        ]
    callers = _callers(trees)
    top = [pid for pid in executable if not callers.get(pid)]
    if len(top) == 1:
        return top[0], []
    if len(top) > 1:
        message = (
            f"Several processes could start the pathway ({', '.join(top)}): choose the one "
            "that does (in the editor, 'Starts the pathway'; in the API, process_id)."
        )
        if top[0] not in processes:
            return None, [Problem(message)]
        name, process = processes[top[0]]
        return None, [_on(Problem(message, file=name), process)]
    if executable and cycles_reported:
        return None, []  # the call cycle is the reason, and is already reported
    idle = [(pid, entry) for pid, entry in processes.items() if pid not in executable]
    if not idle:
        return None, [
            Problem(
                "No process to start the pathway: draw it as a process with a start event "
                "(these files hold none, or every process is called by another).",
                file=next(iter(trees), None),
                line=1 if trees else None,
            )
        ]
    return None, [
        _on(
            Problem(
                f"Process '{pid}' is not marked executable, so nothing can start the pathway: "
                'set isExecutable="true" on the process that starts it (in Camunda Modeler, '
                "tick 'Executable' in the process's properties).",
                file=name,
            ),
            process,
        )
        for pid, (name, process) in idle
    ]


def check_pathway(
    bpmn_files: Mapping[str, bytes],
    forms: Mapping[str, bytes],
    *,
    role_for_lane: Callable[[str], str | None],
    known_roles: Iterable[str],
    known_standards: Iterable[str] | None,
    process_id: str | None,
    max_bytes: int,
    timer_helpers: Iterable[str] | Mapping[str, Callable[..., Any]],
    lint: bool,
) -> Checked:
    """Run every check; raise PathwayInvalidError listing every problem at once.

    ``bpmn_files`` holds the decision tables too (names ending .dmn, see ``dmn.py``).

    ``timer_helpers`` are the names a timer may call, or the functions themselves: given the
    functions, a timer that calls one is evaluated with the forms' example answers and its
    due time range-checked."""
    problems: list[Problem] = []
    trees: dict[str, etree._ElementTree] = {}
    bpmn_files, dmn_files = split_files(bpmn_files)
    dmn_trees = parse_decisions(dmn_files, max_bytes, problems)
    for name, raw in bpmn_files.items():
        try:
            tree = parse_untrusted_xml(raw, name, max_bytes)
        except PathwayInvalidError as error:
            problems.extend(error.problems)
            continue
        problems.extend(_guarded(name, "the BPMN schema", partial(schema_problems, name, tree)))
        resolve_references(tree)
        trees[name] = tree
    try:
        schemas, form_problems = load_forms(forms)
    except Exception as error:  # a form check's own failure on hostile input
        schemas, form_problems = {}, _guarded(None, "the form checks", _raise(error))
    lint_problems: list[Problem] = []
    cycles: list[Problem] = []
    ctx: LintContext | None = None
    if lint:
        functions = dict(timer_helpers) if isinstance(timer_helpers, Mapping) else None
        try:
            samples = sample_data(trees, schemas, run_now().date())
        except Exception:  # no samples: timers reading form answers are not evaluated
            samples = {}
        ctx = LintContext(
            role_for_lane=role_for_lane,
            known_roles=frozenset(known_roles),
            known_standards=frozenset(known_standards) if known_standards is not None else None,
            forms=schemas,
            timer_helpers=frozenset(timer_helpers),
            timer_functions=functions,
            sample_data=samples,
        )
        for name, tree in trees.items():
            lint_problems.extend(
                _guarded(
                    name,
                    "the project's checks",
                    partial(lint_bpmn, name, tree.getroot(), ctx),
                )
            )
        cycles = _guarded(None, "the call activities", partial(call_cycles, trees))
        lint_problems.extend(cycles)
        lint_problems.extend(check_decisions(trees, dmn_trees, ctx))
        problems.extend(form_problems + lint_problems)
    linted = {(p.file, p.element_id) for p in lint_problems}

    def add_engine(error: Exception, filename: str | None) -> None:
        problem = _engine_failure(error, filename, trees)
        if problem.file in dmn_trees and problem.file in {p.file for p in lint_problems}:
            return  # the engine's parse of a table the lint already explains, cell by cell
        if _SAID_BY_LINT.search(problem.details or "") and (problem.file, problem.element_id) in (
            linted
        ):
            return
        if problem not in problems:
            problems.append(problem)

    parser = SpiffBpmnParser()
    add_decisions(parser, dmn_trees, add_engine)
    if ctx is not None:  # the test run of each table the lint found nothing wrong with
        faulty = {problem.file for problem in lint_problems}
        problems.extend(trial_run_decisions(parser, dmn_trees, ctx, faulty))
    for name, tree in trees.items():
        try:
            parser.add_bpmn_xml(tree, name)
        except Exception as error:
            add_engine(error, name)
    spec, subprocess_specs = None, {}
    main: str | None = None
    if len(trees) == len(bpmn_files):  # an unreadable file may hold the process that starts
        main, choice_problems = main_process(parser, trees, process_id, bool(cycles))
        problems.extend(choice_problems)
    for pid in parser.get_process_ids():  # each process's first problem, not only main's
        try:
            parser.get_spec(pid)
        except Exception as error:
            add_engine(error, None)
    if main is not None:
        try:
            spec = parser.get_spec(main)
            subprocess_specs = parser.get_subprocess_specs(main, require_call_activity_specs=False)
        except Exception as error:
            add_engine(error, None)
        problems.extend(_missing_called(trees, subprocess_specs))
    if problems or spec is None:
        raise PathwayInvalidError(problems or [Problem("No process to start the pathway.")])
    return Checked(trees, schemas, main or "", spec, subprocess_specs)


def _guarded(filename: str | None, what: str, check: Callable[[], list[Problem]]) -> list[Problem]:
    """A whole check's problems; if the check itself fails on what it was given, one problem
    saying so on the file (never a 500)."""
    try:
        return check()
    except Exception as error:  # a check's own failure on hostile input
        return [
            Problem(
                f"This file could not be checked against {what} (the check failed with "
                f"{type(error).__name__}): simplify the file, or shorten what it holds.",
                file=filename,
                details=repr(error)[:200],
            )
        ]


def _raise(error: Exception) -> Callable[[], list[Problem]]:
    def again() -> list[Problem]:
        raise error

    return again


def _missing_called(
    trees: Mapping[str, etree._ElementTree], subprocess_specs: Mapping[str, Any]
) -> list[Problem]:
    problems = []
    for called in sorted(name for name, sub in subprocess_specs.items() if sub is None):
        message = (
            f"This call activity calls process '{called}', which is in none of the uploaded "
            "files: add the file that defines it, or correct the called element."
        )
        placed = False
        for name, tree in trees.items():
            for call in tree.getroot().xpath(
                ".//bpmn:callActivity[@calledElement=$c]", namespaces=NS, c=called
            ):
                problems.append(_on(Problem(message, file=name), call))
                placed = True
        if not placed:
            problems.append(Problem(sentence(message)))
    return problems
