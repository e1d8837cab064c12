"""The project's own checks on a pathway, beyond what XSD and the engine's parser catch.

SpiffWorkflow accepts a diagram whose conditions are not Python, whose timers are
unquoted, or whose gateways can dead-end; those only fail when a patient reaches
them. Every check here names the element and line so an editor can point at it.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree

from workflows.clock import run_at, run_now
from workflows.errors import EngineError, Problem, SandboxCompileError
from workflows.form_lint import form_problems
from workflows.limits import (
    EARLIEST_TIMER_DATE,
    LATEST_TIMER_DATE,
    MAX_LOOP,
    MAX_TIMER_DAYS,
    helper_argument_problem,
    loop_count_problem,
    name_problem,
    source_problem,
    template_problem,
    timer_value_problem,
)
from workflows.problems import SHAPE_KINDS, local_name, sentence, shape_of
from workflows.references import resolved_ref
from workflows.sandbox import (
    SandboxEnvironment,
    SandboxInterrupt,
    calls_not_provided,
    compile_expression,
    compile_script,
    default_helpers,
    sandbox_names,
    time_limit,
)
from workflows.trial_answers import CodeMentions, answer_sets

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FORM_PROPERTY = "formJsonSchemaFilename"
# A timer's helper call is run once at upload; the engine's own limit per run is 2 s, so a
# call slower than that would be stopped when it runs anyway.
TIMER_CHECK_SECONDS = 2.0
# Tasks a person completes: the engine waits at a plain bpmn:task as at a manual task, so it
# needs a role like any other (or nobody could ever move the patient on).
HUMAN_TASKS = ("userTask", "manualTask", "task")
UNSUPPORTED = {
    "serviceTask": "Service tasks call external systems and are not supported; use a user task.",
    "sendTask": "Send tasks are not supported; use a message throw event.",
    "complexGateway": "Complex gateways are not supported; use exclusive or parallel gateways.",
}


@dataclass(frozen=True)
class LintContext:
    role_for_lane: Callable[[str], str | None]
    known_roles: frozenset[str]
    known_standards: frozenset[str] | None
    forms: Mapping[str, Any]
    # Helpers a timer may call instead of a literal, e.g. working_days_from_now(2).
    timer_helpers: frozenset[str] = frozenset()
    # The helpers themselves, when the caller gives them: a timer that calls one is then
    # evaluated at upload with ``sample_data`` (the forms' ordinary answers, by the variable
    # each form's answers land in) and its due time range-checked.
    timer_functions: Mapping[str, Callable[..., Any]] | None = None
    sample_data: Mapping[str, Any] = field(default_factory=dict)


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def properties_of(element: etree._Element) -> dict[str, str]:
    props = element.xpath(
        "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS
    )
    return {p.get("name"): p.get("value", "") for p in props}


def extension_text(element: etree._Element, name: str) -> str | None:
    found = element.xpath(f"./bpmn:extensionElements/spiffworkflow:{name}", namespaces=NS)
    return found[0].text if found and found[0].text else None


def lanes_by_element(process: etree._Element) -> dict[str, str]:
    lanes = {}
    for lane in process.xpath(".//bpmn:lane", namespaces=NS):
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            lanes[(ref.text or "").strip()] = lane.get("name") or lane.get("id")
    return lanes


class _Linter:
    def __init__(self, filename: str, root: etree._Element, ctx: LintContext):
        self.filename, self.root, self.ctx = filename, root, ctx
        self.problems: list[Problem] = []

    def report(self, element: etree._Element, message: str, details: str | None = None) -> None:
        """A problem on the shape a manager sees that holds ``element`` (an event holds its
        event definition, a flow its condition), at the line of ``element`` itself."""
        owner = shape_of(element)
        if owner is None:  # a definition nothing on the diagram refers to
            owner = element
            while owner is not None and owner.get("id") is None:
                owner = owner.getparent()
        self.problems.append(
            Problem(
                sentence(message),
                file=self.filename,
                line=element.sourceline,
                element_id=owner.get("id") if owner is not None else None,
                element_name=owner.get("name") if owner is not None else None,
                element_type=SHAPE_KINDS.get(local_name(owner)) if owner is not None else None,
                details=details,
            )
        )

    def run(self) -> list[Problem]:
        for process in self.root.xpath("./bpmn:process", namespaces=NS):
            lanes = lanes_by_element(process)
            self.guarded(process, self.check_process, process)
            for element in process.iter(etree.Element):
                self.guarded(element, self.check_element, element, lanes)
        for child in self.root:
            if not isinstance(child.tag, str) or local(child) == "process":
                continue
            for element in child.iter(etree.Element):  # payloads and correlations of messages
                self.guarded(element, self.check_expression_place, element)
        for message in self.root.xpath("./bpmn:message", namespaces=NS):
            self.guarded(message, self.check_recordable_message, message)
        return self.problems

    def guarded(self, element: etree._Element, check: Callable[..., Any], *args: Any) -> None:
        """Run one check; whatever it raises becomes a problem on ``element``, never a 500."""
        try:
            check(*args)
        except Exception as error:  # a check's own failure on hostile input
            self.report(
                element,
                "This element could not be checked (the check failed with "
                f"{type(error).__name__}): simplify it, or shorten what it holds.",
                details=_short_text(repr(error)),
            )

    def check_process(self, process: etree._Element) -> None:
        problem = name_problem("process_id", process.get("id"), "The process id")
        if problem:
            self.report(process, problem)

    def check_recordable_message(self, message: etree._Element) -> None:
        """A message staff record from the patient's page: its form, who may record it,
        and, when it starts an episode or ends care, the form's date field that says when."""
        props = properties_of(message)
        for kind, value, what in (
            ("message_name", message.get("name") or message.get("id"), "The message's name"),
            ("message_label", props.get("label"), "The message's label"),
            ("episode", props.get("episode"), "The message's episode"),
            ("closes", props.get("closes"), "The message's closes property"),
        ):
            problem = name_problem(kind, value, what)
            if problem:
                self.report(message, problem)
        form_name = props.get(FORM_PROPERTY)
        if not form_name:
            return
        schema = self.ctx.forms.get(form_name)
        if schema is None:
            self.report(message, f"Message form '{form_name}' is not among the uploaded forms.")
            return
        unknown = set(split_codes(props.get("roles"), lower=True)) - self.ctx.known_roles
        if not props.get("roles") or unknown:
            self.report(
                message,
                "Message needs a 'roles' property naming who may record it "
                f"({', '.join(sorted(self.ctx.known_roles))})"
                + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "."),
            )
        if props.get("episode") and props.get("closes"):
            self.report(message, "A message either starts an episode or ends care, not both.")
        date_field = props.get("episodeDateField") or props.get("closeDateField")
        if props.get("episode") or props.get("closes"):
            field = schema.get("properties", {}).get(date_field or "", {})
            if field.get("format") != "date" or date_field not in schema.get("required", []):
                self.report(
                    message,
                    "Say which required date field of the form gives the clinical date "
                    "(episodeDateField or closeDateField).",
                )
        variable = extension_text(message, "messageVariable")
        if props.get("episode") and variable != "episode":
            self.report(
                message,
                "A message that starts an episode must put its payload in the variable "
                "'episode' (spiffworkflow:messageVariable), so the tasks it starts belong to it.",
            )

    def check_element(self, element: etree._Element, lanes: Mapping[str, str]) -> None:
        name = local(element)
        if name in UNSUPPORTED:
            self.report(element, UNSUPPORTED[name])
        elif name in HUMAN_TASKS:
            self.check_human_task(element, lanes)
        elif name in ("exclusiveGateway", "inclusiveGateway"):
            self.check_gateway(element)
        elif name in ("timeDuration", "timeDate", "timeCycle"):
            self.check_timer(element, name)
        elif name == "scriptTask":
            self.check_script_task(element)
        elif name == "messageEventDefinition":
            self.check_message(element)
        elif name == "timerEventDefinition":
            self.check_timer_name(element)
        elif name == "standardLoopCharacteristics":
            self.check_standard_loop(element)
        elif name == "loopCardinality":
            if self.check_expression(element, element.text, "Multi-instance cardinality"):
                problem = loop_count_problem(element.text, "Multi-instance cardinality")
                if problem:
                    self.report(element, problem)
        else:
            self.check_expression_place(element)
        if name not in ("scriptTask",):
            for script_kind in ("preScript", "postScript"):
                self.check_script(element, extension_text(element, script_kind), script_kind)
        instructions = extension_text(element, "instructionsForEndUser")
        if instructions:
            problem = template_problem(instructions)
            if problem:
                self.report(element, f"Instructions cannot be shown: {problem}.")
        elif name in HUMAN_TASKS:  # without instructions, the documentation is rendered
            documentation = element.xpath("./bpmn:documentation", namespaces=NS)
            text = documentation[0].text if documentation else None
            problem = template_problem(text) if text else None
            if problem:
                self.report(
                    element,
                    f"The task's documentation, shown as its instructions, cannot be shown: "
                    f"{problem}.",
                )

    def check_expression_place(self, element: etree._Element) -> None:
        """The other places the engine evaluates Python: conditions (of flows and of
        conditional events), message payloads, multi-instance completion and loop
        conditions, correlation expressions, data assignments."""
        what = _EXPRESSION_PLACES.get((etree.QName(element).namespace, local(element)))
        if what is None:
            return
        parent = element.getparent()
        if local(element) == "condition" and (
            parent is None or local(parent) != "conditionalEventDefinition"
        ):
            return
        if local(element) in ("from", "to") and (parent is None or local(parent) != "assignment"):
            return
        self.check_expression(element, element.text, what)

    def check_expression(self, element: etree._Element, source: str | None, what: str) -> bool:
        """Report what is wrong with one expression; True when nothing is."""
        if not source or not source.strip():
            self.report(element, f"{what} is empty.")
            return False
        too_big = source_problem(source, "eval")
        if too_big:
            self.report(element, f"{what} {too_big}.")
            return False
        try:
            compile_expression(source.strip())
        except SandboxCompileError as error:
            self.report(
                element,
                f"{what} is not an allowed Python expression: {_plain_compile_error(source)}"
                if _foreign_expression(source)
                else f"{what} is not an allowed Python expression: {_plain(str(error))}",
                details=str(error),
            )
            return False
        return not self.check_calls(element, source.strip(), "eval", what)

    def check_script(self, element: etree._Element, source: str | None, what: str) -> None:
        if source is None:
            return
        too_big = source_problem(source, "exec")
        if too_big:
            self.report(element, f"{what} {too_big}.")
            return
        try:
            compile_script(source)
        except SandboxCompileError as error:
            self.report(element, f"{what} is not allowed: {_plain(str(error))}", str(error))
            return
        self.check_calls(element, source, "exec", what)

    def check_calls(self, element: etree._Element, source: str, mode: str, what: str) -> int:
        helpers = frozenset(default_helpers()) | self.ctx.timer_helpers
        missing = calls_not_provided(source, mode, helpers)
        for name in missing:
            self.report(
                element,
                f"{what} calls {name}(), which pathway scripts do not have (it would fail for "
                "the first patient who got here). They can call "
                + ", ".join(f"{n}()" for n in sorted(helpers | (sandbox_names() - _VALUES)))
                + ".",
            )
        return len(missing)

    def check_script_task(self, element: etree._Element) -> None:
        script_format = (element.get("scriptFormat") or "python").lower()
        if script_format not in ("python", "python3"):
            self.report(element, f"Script format '{script_format}' is not supported; use Python.")
            return
        scripts = element.xpath("./bpmn:script", namespaces=NS)
        if not scripts or not (scripts[0].text or "").strip():
            self.report(element, "Script task has no script.")
            return
        self.check_script(element, scripts[0].text, "Script")

    def check_timer(self, element: etree._Element, kind: str) -> None:
        source = (element.text or "").strip()
        what = f"Timer value {_short_text(source)!r}"
        too_big = source_problem(source, "eval")
        if too_big:
            self.report(element, f"Timer value {too_big}.")
            return
        try:
            tree = ast.parse(source, mode="eval")
        except SyntaxError:
            tree = None
        if tree is not None and self._is_helper_call(tree.body):
            assert isinstance(tree.body, ast.Call)
            problem = helper_argument_problem(tree.body) or self._evaluated_timer(
                tree.body, source, kind
            )
            if problem:
                self.report(element, f"{what} {problem}.")
            return
        if tree is None or not (
            isinstance(tree.body, ast.Constant) and isinstance(tree.body.value, str)
        ):
            self.report(
                element,
                f"{what} must be a quoted ISO 8601 string, "
                'e.g. "P7D" (the quotes are part of the expression).',
            )
            return
        problem = timer_value_problem(kind, tree.body.value)
        if problem:
            self.report(element, f"Timer value {problem}.")

    def _evaluated_timer(self, call: ast.Call, source: str, kind: str) -> str | None:
        """Run a helper call as the engine would, with the forms' ordinary answers, and check
        the time it gives. Given only the helpers' names, the arguments are evaluated and
        checked instead: a number of days at most ten years' worth, a date within the window.
        Data the samples do not hold (a variable a script sets) cannot be known here: the
        engine checks that value when it runs."""
        functions = self.ctx.timer_functions
        if functions is None:
            source = "[" + ", ".join(ast.unparse(arg) for arg in call.args) + "]"
        helpers = {**default_helpers(), **_bounded(functions or {})}
        now = run_now()
        try:
            with run_at(now), time_limit(TIMER_CHECK_SECONDS):
                value = SandboxEnvironment(helpers).evaluate(source, dict(self.ctx.sample_data))
        except (NameError, KeyError, IndexError, TypeError, AttributeError):
            return None  # the value comes from data the samples do not hold
        except SandboxInterrupt:
            # A problem, never an exception: the upload is refused with the element named.
            return f"takes more than {TIMER_CHECK_SECONDS:g} s to work out"
        except _TooFar as error:
            return str(error)
        except (ValueError, OverflowError, EngineError) as error:
            return f"fails with the forms' example answers ({_short_text(str(error))})"
        if functions is not None:
            return timer_value_problem(kind, value)
        for argument in value:
            problem = _argument_problem(argument)
            if problem:
                return problem
        return None

    def _is_helper_call(self, node: ast.expr) -> bool:
        """A call of a timer helper: with literal arguments (working_days_from_now(2)) or
        with values from the task data (morning_of(review["next_review_date"])), which the
        helper checks when it runs. The whole expression still compiles in the sandbox."""
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in self.ctx.timer_helpers
            and not node.keywords
        ):
            return False
        try:
            compile_expression(ast.unparse(node))
        except SandboxCompileError:
            return False
        return True

    def check_timer_name(self, definition: etree._Element) -> None:
        event = definition.getparent()
        if event is None:
            return
        label = event.get("name") or event.get("id")
        problem = name_problem("timer_name", label, "The timer event's name")
        if problem:
            self.report(definition, problem)

    def check_standard_loop(self, element: etree._Element) -> None:
        maximum = (element.get("loopMaximum") or "").strip()
        condition = element.xpath("./bpmn:loopCondition", namespaces=NS)
        if condition:
            self.check_expression(condition[0], condition[0].text, "Loop condition")
        if not maximum:
            self.report(
                element,
                f"A loop needs a loopMaximum (at most {MAX_LOOP}), so that no patient goes "
                "round it without end.",
            )
            return
        digits = maximum.lstrip("+-")
        if not digits.isdigit() or len(digits) > 3 or not 0 <= int(maximum) <= MAX_LOOP:
            self.report(
                element,
                f"loopMaximum {_short_text(maximum)!r} must be a whole number from 0 to "
                f"{MAX_LOOP}.",
            )

    def check_gateway(self, element: etree._Element) -> None:
        gateway_id = element.get("id")
        outgoing = self.root.xpath(
            f".//bpmn:sequenceFlow[@sourceRef='{gateway_id}']", namespaces=NS
        )
        if len(outgoing) > 1 and not element.get("default"):
            self.report(
                element,
                "Gateway with several outgoing flows has no default flow; "
                "a patient whose data matches no condition would be stuck: make one of its "
                "flows the default.",
            )
        for flow in outgoing:
            has_condition = flow.xpath("./bpmn:conditionExpression", namespaces=NS)
            if len(outgoing) > 1 and not has_condition and flow.get("id") != element.get("default"):
                self.report(
                    flow,
                    "Flow out of a gateway has neither a condition nor is the default: give it a "
                    "condition, or make it the gateway's default flow.",
                )

    def check_human_task(self, element: etree._Element, lanes: Mapping[str, str]) -> None:
        props = properties_of(element)
        lane = lanes.get(element.get("id", ""))
        for kind, value, what in (
            ("task_id", element.get("id"), "The task's id"),
            ("task_name", element.get("name"), "The task's name"),
            ("lane", lane, "The task's lane name"),
            ("form", props.get(FORM_PROPERTY), "The task's form name"),
            ("standards", props.get("standards"), "The task's standards"),
            ("mdt_step", props.get("mdtStep"), "The task's mdtStep"),
        ):
            problem = name_problem(kind, value, what)
            if problem:
                self.report(element, problem)
        role = props.get("role") or (self.ctx.role_for_lane(lane) if lane else None)
        if props.get("role") and props["role"] not in self.ctx.known_roles:
            self.report(
                element,
                f"Role '{props['role']}' is not a known role "
                f"({', '.join(sorted(self.ctx.known_roles))}).",
            )
        elif role is None:
            where = f"Lane '{lane}'" if lane else "The task is in no lane and"
            self.report(
                element,
                f"{where} does not map to a known role "
                f"({', '.join(sorted(self.ctx.known_roles))}): put the task in a lane named "
                "after the role that does it, or give it a 'role' property.",
            )
        self.check_form_reference(element, props)
        self.check_standards(element, props.get("standards"))
        due = props.get("dueWorkingDays")
        if due is not None and not (due.isdigit() and 0 <= int(due) <= 365):
            self.report(element, f"dueWorkingDays '{due}' must be a whole number from 0 to 365.")

    def check_form_reference(self, element: etree._Element, props: Mapping[str, str]) -> None:
        form = props.get(FORM_PROPERTY)
        if local(element) == "userTask" and not form:
            self.report(
                element, f"User task has no form: choose one in its properties ({FORM_PROPERTY})."
            )
        elif form and form not in self.ctx.forms:
            self.report(
                element,
                f"Form '{form}' is not among the pathway's forms: add it, or choose one of them.",
            )

    def check_standards(self, element: etree._Element, standards: str | None) -> None:
        if standards is None or self.ctx.known_standards is None:
            return
        for code in split_codes(standards):
            if code not in self.ctx.known_standards:
                self.report(
                    element,
                    f"Standard code '{code}' is not known "
                    f"({', '.join(sorted(self.ctx.known_standards))}).",
                )

    def check_message(self, element: etree._Element) -> None:
        parent = element.getparent()
        catching = local(parent) in ("startEvent", "intermediateCatchEvent", "boundaryEvent")
        if not catching or parent.getparent() is None:
            return
        ref = resolved_ref(element, element.get("messageRef"))
        message = self.root.xpath(f".//bpmn:message[@id='{ref}']", namespaces=NS) if ref else []
        declared = element.xpath(".//spiffworkflow:messageVariable", namespaces=NS) or (
            message and message[0].xpath(".//spiffworkflow:messageVariable", namespaces=NS)
        )
        if not ref or not message:
            self.report(
                element,
                "Message event refers to no bpmn:message of this file: choose the message in "
                "the event's properties, or add one.",
            )
        elif not declared:
            self.report(
                element,
                "Catching message event declares no spiffworkflow:messageVariable;"
                " its payload would be dropped: name the variable that receives it, on the "
                "message or on the event.",
            )


_VALUES = frozenset({"None", "True", "False"})
_BPMN, _SPIFF = NS["bpmn"], NS["spiffworkflow"]
_EXPRESSION_PLACES = {
    (_BPMN, "conditionExpression"): "Condition",
    (_BPMN, "condition"): "Condition of the conditional event",
    (_SPIFF, "messagePayload"): "Message payload",
    (_SPIFF, "signalPayload"): "Signal payload",
    (_BPMN, "completionCondition"): "Multi-instance completion condition",
    (_BPMN, "messagePath"): "Correlation expression",
    (_SPIFF, "expression"): "Correlation expression",
    (_BPMN, "from"): "Data assignment",
    (_BPMN, "to"): "Data assignment",
}


class _TooFar(ValueError):
    """A helper was given more days than a timer may wait."""


def _bounded(functions: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Timer helpers that refuse a number of days beyond the limit before they run (a
    helper runs untimed: working_days_from_now(2100000) took seconds)."""

    def guard(function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            for arg in args:
                if (
                    isinstance(arg, int | float)
                    and not isinstance(arg, bool)
                    and abs(arg) > MAX_TIMER_DAYS
                ):
                    raise _TooFar(
                        f"gives {_short_text(repr(arg))} days; a timer may wait at most "
                        f"{MAX_TIMER_DAYS:,} days (ten years)"
                    )
            return function(*args)

        return call

    return {name: guard(function) for name, function in functions.items()}


def _argument_problem(argument: Any) -> str | None:
    """A helper's argument, evaluated: too many days, or a date outside the timer window."""
    try:
        _bounded({"check": lambda *args: None})["check"](argument)
    except _TooFar as error:
        return str(error)
    if isinstance(argument, str) and len(argument) <= 100:
        try:
            date.fromisoformat(argument[:10])
        except ValueError:
            return None
        if timer_value_problem("timeDate", argument[:10] + "T09:00:00+00:00"):
            return (
                f"gives the date {argument[:10]!r}, outside the dates a timer may wait for "
                f"({EARLIEST_TIMER_DATE:%d %b %Y} to {LATEST_TIMER_DATE:%d %b %Y})"
            )
    return None


def _short_text(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sample_data(
    trees: Mapping[str, etree._ElementTree], forms: Mapping[str, Any], today: date
) -> dict[str, Any]:
    """Task data as a patient's would hold it: each form's ordinary answers (as a test run
    gives them) under the variable its answers land in (a task's variableName, a message's
    messageVariable)."""
    data: dict[str, Any] = {}
    for tree in trees.values():
        for element in _form_holders(tree.getroot()):
            form = properties_of(element).get(FORM_PROPERTY)
            variable = extension_text(element, "variableName") or extension_text(
                element, "messageVariable"
            )
            schema = forms.get(form or "")
            if schema is None or not variable or variable in data:
                continue
            try:
                answers = answer_sets(schema, today, CodeMentions())[0].answers
            except Exception:  # noqa: S112 - a form the samples cannot answer: not evaluated
                continue
            data[variable.strip()] = answers
    return data


def _form_holders(root: etree._Element) -> Iterator[etree._Element]:
    for element in root.iter(etree.Element):
        if local(element) in (*HUMAN_TASKS, "message") and properties_of(element).get(
            FORM_PROPERTY
        ):
            yield element


_LINE = re.compile(r"^Line (\d+): ")


def _foreign_expression(source: str) -> bool:
    """An expression in another tool's language: Camunda's ${...} or #{...} (JUEL)."""
    return bool(re.search(r"[$#]\{", source))


def _plain_compile_error(source: str) -> str:
    inner = re.sub(r"^\s*[$#]\{(.*)\}\s*$", r"\1", source.strip(), flags=re.S)
    return (
        f"{source.strip()!r} is written in another tool's expression language (Camunda's "
        "${...}); conditions here are Python"
        + (f", e.g. {inner.strip()!r}" if inner != source.strip() else "")
        + " (and 'not x', 'x and y' rather than '!x', '&&')."
    )


def _plain(error: str) -> str:
    """RestrictedPython's 'Line 1: SyntaxError: invalid syntax at statement: ...' as a
    sentence; the sandbox's own refusals are sentences already."""
    parts = []
    for part in error.split("; "):
        match = _LINE.match(part)
        text = part[match.end() :] if match else part
        line = f" (line {match.group(1)})" if match and match.group(1) != "1" else ""
        if text.startswith("SyntaxError: "):
            text = "it is not valid Python" + line + ": " + text[len("SyntaxError: ") :]
        parts.append(sentence(text))
    return " ".join(parts)


def call_cycles(trees: Mapping[str, etree._ElementTree]) -> list[Problem]:
    """Processes that call themselves, directly or through others: a patient would go
    round for ever (and none of them is the one that starts the pathway). Reported once
    per cycle, on the call activity that closes it."""
    calls: dict[str, list[tuple[str, etree._Element, str]]] = {}
    for filename, tree in trees.items():
        for process in tree.getroot().xpath("./bpmn:process", namespaces=NS):
            pid = process.get("id")
            if not pid:
                continue
            for call in process.xpath(".//bpmn:callActivity", namespaces=NS):
                called = resolved_ref(call, call.get("calledElement"))
                if called:
                    calls.setdefault(pid, []).append((called, call, filename))
    problems, seen = [], set()
    for start in sorted(calls):
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        visited = set()
        while stack:
            pid, path = stack.pop()
            for called, call, filename in calls.get(pid, []):
                if called == start:
                    cycle = frozenset(path)
                    if cycle in seen:
                        continue
                    seen.add(cycle)
                    route = " → ".join([*path, start])
                    problems.append(
                        Problem(
                            f"Process '{start}' calls itself ({route}), so a patient would go "
                            "round for ever and nothing would start the pathway: call a "
                            "different process, or draw the repeat as a loop back to an "
                            "exclusive gateway.",
                            file=filename,
                            line=call.sourceline,
                            element_id=call.get("id"),
                            element_name=call.get("name") or None,
                            element_type="call activity",
                        )
                    )
                elif called not in visited:
                    visited.add(called)
                    stack.append((called, [*path, called]))
    return problems


def split_codes(value: str | None, lower: bool = False) -> tuple[str, ...]:
    codes = (code.strip() for code in (value or "").split(","))
    return tuple(code.lower() if lower else code for code in codes if code)


def lint_bpmn(filename: str, root: etree._Element, ctx: LintContext) -> list[Problem]:
    return _Linter(filename, root, ctx).run()


def load_forms(files: Mapping[str, bytes]) -> tuple[dict[str, Any], list[Problem]]:
    """Parse and check every form schema; forms are JSON Schema objects."""
    forms: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, raw in files.items():
        try:
            schema = json.loads(raw)
        except ValueError as error:
            line = getattr(error, "lineno", None)
            text = getattr(error, "msg", str(error))
            problems.append(
                Problem(
                    sentence(f"Form is not valid JSON: {text}; correct it in the form's text"),
                    file=name,
                    line=line,
                    details=str(error),
                )
            )
            continue
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            where = "/".join(str(part) for part in error.absolute_path) or "the top level"
            problems.append(
                Problem(
                    sentence(
                        f"Form is not valid JSON Schema: at {where}, {error.message}; "
                        "correct it in the form's text"
                    ),
                    file=name,
                    details=str(error),
                )
            )
            continue
        problems.extend(form_problems(name, schema))  # workflows/form_lint.py: forms are data
        if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
            problems.append(
                Problem(
                    'Form schema must be an object with properties: give it "type": "object" '
                    'and a "properties" object, one entry per question.',
                    file=name,
                )
            )
            continue
        forms[name] = schema
    return forms, problems
