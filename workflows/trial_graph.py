"""What a test run needs to know about a pathway's diagrams, read from the XML.

The engine's specs do not keep sequence flow ids, lines or the text of conditions, and they
drop processes nothing calls; the test run reports on the shapes a manager sees, so it reads
the diagrams again: every flow node and sequence flow with its scope (the process or
embedded subprocess it belongs to, which is what the engine calls its spec), which elements
a path from the start can reach at all, and which data each form, script and event sets and
each condition reads.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from workflows.dmn import split_files
from workflows.lint import FORM_PROPERTY, NS, extension_text, local, properties_of
from workflows.trial_decisions import add_decision_tasks, read_decisions
from workflows.xml_safety import parse_untrusted_xml

# Flow nodes: the shapes a patient's path goes through.
FLOW_NODES = frozenset(
    (
        "task userTask manualTask scriptTask serviceTask sendTask receiveTask businessRuleTask "
        "callActivity subProcess transaction adHocSubProcess startEvent endEvent "
        "intermediateCatchEvent intermediateThrowEvent boundaryEvent exclusiveGateway "
        "inclusiveGateway parallelGateway eventBasedGateway complexGateway"
    ).split()
)
SCOPES = ("process", "subProcess", "transaction", "adHocSubProcess")
DECISION_GATEWAYS = ("exclusiveGateway", "inclusiveGateway")
HUMAN = ("userTask", "manualTask", "task")

Key = tuple[str, str]  # (scope id, element id): the engine's (spec name, bpmn id)


@dataclass(frozen=True)
class Node:
    scope: str
    id: str
    kind: str
    name: str
    file: str
    line: int | None
    attached_to: str | None = None  # a boundary event's activity
    called: str | None = None  # a call activity's process
    default: str | None = None  # a gateway's default flow
    decision: str | None = None  # a business rule task's decision table
    # An event's triggers: ("message", name), ("signal", name), ("timer", "").
    triggers: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class Flow:
    scope: str
    id: str
    source: str
    target: str
    name: str
    condition: str | None
    file: str
    line: int | None


@dataclass(frozen=True)
class Scope:
    id: str
    kind: str  # process, subProcess, ...
    file: str
    parent: str | None  # the enclosing scope of an embedded subprocess
    event_triggered: bool = False


@dataclass(frozen=True)
class Expression:
    """A piece of Python a diagram holds: a condition, script, timer or other expression."""

    kind: str  # condition, script, timer, expression
    source: str
    scope: str
    element_id: str  # the flow node, or the sequence flow of a condition


@dataclass
class PathwayGraph:
    nodes: dict[Key, Node] = field(default_factory=dict)
    flows: dict[Key, Flow] = field(default_factory=dict)
    outgoing: dict[Key, list[Flow]] = field(default_factory=dict)
    incoming: dict[Key, list[Flow]] = field(default_factory=dict)
    scopes: dict[str, Scope] = field(default_factory=dict)
    expressions: list[Expression] = field(default_factory=list)
    # Data set by people and the outside world: variable name -> the form files answered
    # into it (an empty tuple: set, with no form to say which keys it has).
    form_variables: dict[str, set[str]] = field(default_factory=dict)
    # Forms answered at the top level of the data (no variable name): their fields are names.
    top_level_forms: set[str] = field(default_factory=set)
    other_names: set[str] = field(default_factory=set)  # messages, signals, data objects

    def node(self, scope: str, element_id: str) -> Node | None:
        return self.nodes.get((scope, element_id))

    def file_of(self, scope: str) -> str | None:
        found = self.scopes.get(scope)
        return found.file if found else None

    def children(self, scope: str) -> Iterator[Node]:
        return (node for node in self.nodes.values() if node.scope == scope)


def build_graph(files: Mapping[str, bytes], forms: Mapping[str, Any]) -> PathwayGraph:
    graph = PathwayGraph()
    files, decision_files = split_files(files)
    decisions = read_decisions(decision_files)
    for name, raw in sorted(files.items()):
        root = parse_untrusted_xml(raw, name).getroot()
        messages = {m.get("id"): m for m in root.xpath("./bpmn:message", namespaces=NS)}
        signals = {s.get("id"): s for s in root.xpath("./bpmn:signal", namespaces=NS)}
        refs = {
            **{key: ("message", m.get("name") or str(key)) for key, m in messages.items()},
            **{key: ("signal", s.get("name") or str(key)) for key, s in signals.items()},
        }
        for process in root.xpath("./bpmn:process", namespaces=NS):
            _read_scope(graph, process, name, None, messages, forms, refs)
    add_decision_tasks(graph, decisions)
    return graph


def _read_scope(
    graph: PathwayGraph,
    container: etree._Element,
    file: str,
    parent: str | None,
    messages: Mapping[str | None, etree._Element],
    forms: Mapping[str, Any],
    refs: Mapping[str | None, tuple[str, str]],
) -> None:
    scope = str(container.get("id"))
    graph.scopes[scope] = Scope(
        scope,
        local(container),
        file,
        parent,
        container.get("triggeredByEvent") == "true",
    )
    for element in container:
        if not isinstance(element.tag, str):
            continue
        kind = local(element)
        if kind == "sequenceFlow":
            _read_flow(graph, element, scope, file)
        elif kind in FLOW_NODES:
            _read_node(graph, element, scope, file, messages, forms, refs)
            if kind in SCOPES:
                _read_scope(graph, element, file, scope, messages, forms, refs)
        elif kind == "dataObject":
            graph.other_names.update(n for n in (element.get("id"), element.get("name")) if n)
        elif kind == "dataObjectReference":
            graph.other_names.update(n for n in (element.get("name"),) if n)


def _read_flow(graph: PathwayGraph, element: etree._Element, scope: str, file: str) -> None:
    conditions = element.xpath("./bpmn:conditionExpression", namespaces=NS)
    text = (conditions[0].text or "").strip() if conditions else None
    flow = Flow(
        scope,
        str(element.get("id")),
        str(element.get("sourceRef")),
        str(element.get("targetRef")),
        element.get("name") or "",
        text,
        file,
        element.sourceline,
    )
    graph.flows[(scope, flow.id)] = flow
    graph.outgoing.setdefault((scope, flow.source), []).append(flow)
    graph.incoming.setdefault((scope, flow.target), []).append(flow)
    if text:
        graph.expressions.append(Expression("condition", text, scope, flow.id))


def _read_node(
    graph: PathwayGraph,
    element: etree._Element,
    scope: str,
    file: str,
    messages: Mapping[str | None, etree._Element],
    forms: Mapping[str, Any],
    refs: Mapping[str | None, tuple[str, str]],
) -> None:
    kind = local(element)
    triggers = []
    for definition in element:
        if not isinstance(definition.tag, str):
            continue
        what = local(definition)
        if what == "timerEventDefinition":
            triggers.append(("timer", ""))
        elif what in ("messageEventDefinition", "signalEventDefinition"):
            ref = definition.get("messageRef") or definition.get("signalRef")
            ref = ref.split(":")[-1] if ref else None
            fallback = ("message" if what.startswith("message") else "signal", ref or "")
            triggers.append(refs.get(ref, fallback))
    node = Node(
        scope,
        str(element.get("id")),
        kind,
        element.get("name") or "",
        file,
        element.sourceline,
        attached_to=element.get("attachedToRef"),
        called=element.get("calledElement"),
        default=element.get("default"),
        triggers=tuple(triggers),
        decision=(extension_text(element, "calledDecisionId") or "").strip() or None,
    )
    graph.nodes[(scope, node.id)] = node
    # What the element sets.
    if kind in HUMAN:
        form = properties_of(element).get(FORM_PROPERTY)
        variable = extension_text(element, "variableName")
        if variable:
            graph.form_variables.setdefault(variable.strip(), set()).update([form] if form else [])
        elif form:
            graph.top_level_forms.add(form)
    for definition in element:
        if not isinstance(definition.tag, str):
            continue
        what = local(definition)
        if what == "messageEventDefinition":
            variable = extension_text(definition, "messageVariable")
            message = messages.get(definition.get("messageRef"))
            if variable is None and message is not None:
                variable = extension_text(message, "messageVariable")
            if variable:
                form = properties_of(message).get(FORM_PROPERTY) if message is not None else None
                graph.form_variables.setdefault(variable.strip(), set()).update(
                    [form] if form and form in forms else []
                )
                if form is None or form not in forms:
                    graph.other_names.add(variable.strip())
        elif what == "signalEventDefinition":
            variable = extension_text(definition, "variableName")
            if variable:
                graph.other_names.add(variable.strip())
        elif what == "timerEventDefinition":
            for timer in definition:
                if isinstance(timer.tag, str) and (timer.text or "").strip():
                    graph.expressions.append(
                        Expression("timer", timer.text.strip(), scope, node.id)
                    )
    # Its code.
    if kind == "scriptTask":
        for script in element.xpath("./bpmn:script", namespaces=NS):
            if (script.text or "").strip():
                graph.expressions.append(Expression("script", script.text, scope, node.id))
    for script_kind in ("preScript", "postScript"):
        source = extension_text(element, script_kind)
        if source and source.strip():
            graph.expressions.append(Expression("script", source, scope, node.id))
    for loop in element.xpath("./bpmn:multiInstanceLoopCharacteristics", namespaces=NS):
        for part in loop:
            if not isinstance(part.tag, str):
                continue
            if local(part) in ("loopCardinality", "completionCondition") and part.text:
                graph.expressions.append(
                    Expression("expression", part.text.strip(), scope, node.id)
                )
            elif local(part) in ("inputDataItem", "outputDataItem"):
                graph.other_names.update(n for n in (part.get("name"), part.get("id")) if n)
            elif local(part) in ("loopDataInputRef", "loopDataOutputRef") and part.text:
                graph.other_names.add(part.text.strip())


# -- where a path can go ---------------------------------------------------------------------


def reachable(graph: PathwayGraph, main_process: str) -> set[Key]:
    """Every flow node some path from the start of ``main_process`` can reach, following
    sequence flows, into embedded and called processes, to boundary events and to event
    subprocesses of every scope that runs (whatever the conditions say)."""
    found: set[Key] = set()
    started: set[str] = set()
    stack: list[Key] = []

    def start_scope(scope: str) -> None:
        if scope in started or scope not in graph.scopes:
            return
        started.add(scope)
        for node in graph.children(scope):
            if node.kind == "startEvent":
                stack.append((node.scope, node.id))
        for inner in graph.scopes.values():  # event subprocesses start whenever it runs
            if inner.parent == scope and inner.event_triggered:
                found.add((scope, inner.id))
                start_scope(inner.id)

    start_scope(main_process)
    while stack:
        key = stack.pop()
        if key in found:
            continue
        found.add(key)
        node = graph.nodes.get(key)
        if node is None:
            continue
        for flow in graph.outgoing.get(key, []):
            stack.append((flow.scope, flow.target))
        for other in graph.children(node.scope):
            if other.kind == "boundaryEvent" and other.attached_to == node.id:
                stack.append((other.scope, other.id))
        if node.kind in SCOPES:
            start_scope(node.id)
        if node.kind == "callActivity" and node.called:
            start_scope(node.called)
    return found


def running_scopes(graph: PathwayGraph, main_process: str) -> set[str]:
    """The processes and subprocesses that belong to the pathway (main, called, embedded)."""
    scopes: set[str] = set()
    stack = [main_process]
    while stack:
        scope = stack.pop()
        if scope in scopes or scope not in graph.scopes:
            continue
        scopes.add(scope)
        for node in graph.children(scope):
            if node.kind in SCOPES:
                stack.append(node.id)
            if node.kind == "callActivity" and node.called:
                stack.append(node.called)
    return scopes


CATCHING = ("intermediateCatchEvent", "boundaryEvent", "startEvent", "receiveTask")
THROWING = ("intermediateThrowEvent", "endEvent")


def influence(graph: PathwayGraph, starts: Iterable[Key]) -> frozenset[Key]:
    """The events that what happens from ``starts`` can reach: those it flows to, and the
    catchers of every signal thrown on the way (and of the signals those throw). Where
    these wait decides what a message or an answer can do; elsewhere is beside the point."""
    catchers: dict[str, list[Key]] = {}
    for key, node in graph.nodes.items():
        if node.kind in CATCHING:
            for kind, name in node.triggers:
                if kind == "signal":
                    catchers.setdefault(name, []).append(key)
    callers: dict[str, list[Key]] = {}
    for key, node in graph.nodes.items():
        if node.kind == "callActivity" and node.called:
            callers.setdefault(node.called, []).append(key)
    found: set[Key] = set()
    seen: set[Key] = set()
    stack = list(starts)
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        found_node = graph.nodes.get(key)
        if found_node is None:
            continue
        node = found_node
        if node.kind in CATCHING and node.triggers:
            found.add(key)
        if node.kind in THROWING:
            for kind, name in node.triggers:
                if kind == "signal":
                    stack.extend(catchers.get(name, []))
        stack.extend((flow.scope, flow.target) for flow in graph.outgoing.get(key, []))
        if node.kind in SCOPES:
            stack.extend((c.scope, c.id) for c in graph.children(node.id) if c.kind == "startEvent")
        if node.kind == "callActivity" and node.called:
            stack.extend(
                (c.scope, c.id) for c in graph.children(node.called) if c.kind == "startEvent"
            )
        if node.kind == "endEvent" or not graph.outgoing.get(key):
            # Out of a subprocess or a called process: on after what started it.
            scope = graph.scopes.get(node.scope)
            after = list(callers.get(node.scope, []))
            if scope is not None and scope.kind != "process" and scope.parent is not None:
                after.append((scope.parent, scope.id))
            for outer in after:
                stack.extend((f.scope, f.target) for f in graph.outgoing.get(outer, []))
    # A patient waits for events after an event-based gateway at the gateway.
    for key in list(found):
        for flow in graph.incoming.get(key, []):
            source = graph.nodes.get((flow.scope, flow.source))
            if source is not None and source.kind == "eventBasedGateway":
                found.add((source.scope, source.id))
    return frozenset(found)


def catchers_of(graph: PathwayGraph, kind: str, name: str) -> list[Key]:
    return [
        key
        for key, node in graph.nodes.items()
        if node.kind in CATCHING and (kind, name) in node.triggers
    ]


# -- data: what is set, what conditions read ---------------------------------------------------


@dataclass(frozen=True)
class DataProblem:
    scope: str
    element_id: str  # the sequence flow (or flow node) holding the expression
    message: str
    severity: str


def names_set(graph: PathwayGraph, forms: Mapping[str, Any]) -> set[str]:
    """Every top-level name a form, event, script or data object of the pathway sets."""
    found = set(graph.form_variables) | set(graph.other_names)
    for form in graph.top_level_forms:
        found.update(_fields(forms.get(form)))
    for expression in graph.expressions:
        if expression.kind == "script":
            found.update(_assigned(expression.source))
    return found


def data_problems(
    graph: PathwayGraph,
    forms: Mapping[str, Any],
    provided: Iterable[str],
) -> list[DataProblem]:
    """Conditions that read a name nothing sets (``provided``: the starting data, the sandbox's
    helpers), or a key of a form's answers that the form does not have."""
    provided_names = set(provided)
    known = names_set(graph, forms) | provided_names | set(dir(builtins))
    script_set = set()
    for expression in graph.expressions:
        if expression.kind == "script":
            script_set.update(_assigned(expression.source))
    problems = []
    for expression in graph.expressions:
        if expression.kind not in ("condition", "expression"):
            continue
        try:
            tree = ast.parse(expression.source.strip(), mode="eval")
        except SyntaxError:
            continue  # the lint says so
        for name in sorted(_free_names(tree) - known):
            problems.append(
                DataProblem(
                    expression.scope,
                    expression.element_id,
                    f"The condition reads '{name}', which no form, event, script or the "
                    "starting data sets: it fails for every patient who reaches it.",
                    "error",
                )
            )
        for variable, key, how in _keys_read(tree):
            sources = graph.form_variables.get(variable)
            overwritten = variable in script_set or variable in graph.other_names
            if not sources or overwritten or variable in provided_names:
                continue
            fields = set().union(*(_fields(forms.get(form)) for form in sources))
            if key in fields:
                continue
            titles = ", ".join(sorted(sources))
            if how == "get":
                message = (
                    f"The condition reads '{key}' from '{variable}', but its form ({titles}) "
                    f"has no field '{key}': it is always empty."
                )
            else:
                message = (
                    f"The condition reads '{variable}[\"{key}\"]', but its form ({titles}) has "
                    f"no field '{key}': it fails for every patient who reaches it."
                )
            problems.append(
                DataProblem(
                    expression.scope,
                    expression.element_id,
                    message,
                    "warning" if how == "get" else "error",
                )
            )
    return problems


def _fields(schema: Any) -> set[str]:
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return set()
    return set(schema["properties"])


def _assigned(source: str) -> set[str]:
    """Names a script leaves behind (assigned at its top level, or in loops and branches)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_Name(self, node: ast.Name) -> None:
            if isinstance(node.ctx, ast.Store):
                names.add(node.id)

        def visit_ListComp(self, node: ast.AST) -> None:  # their targets stay inside
            return

        visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_Lambda = visit_ListComp

        def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
            names.add(node.name)

    Visitor().visit(tree)
    return names


def _free_names(tree: ast.AST) -> set[str]:
    """Names an expression reads that it does not bind itself (comprehension targets,
    lambda arguments)."""
    read: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return read - bound


def _keys_read(tree: ast.AST) -> Iterator[tuple[str, str, str]]:
    """(variable, key, "item" or "get") for every ``v["key"]`` and ``v.get("key")``."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            yield node.value.id, node.slice.value, "item"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.func.value.id, node.args[0].value, "get"


def tokens(graph: PathwayGraph) -> tuple[set[str], set[str], set[float]]:
    """What the pathway's code mentions: names and attributes, string constants and numbers.
    A form field none of them mentions cannot change a path, so the test run answers it one
    way only."""
    names: set[str] = set()
    strings: set[str] = set()
    numbers: set[float] = set()
    for expression in graph.expressions:
        try:
            tree = ast.parse(expression.source.strip(), mode="exec")
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Constant):
                if isinstance(node.value, str):
                    strings.add(node.value)
                elif isinstance(node.value, int | float) and not isinstance(node.value, bool):
                    numbers.add(node.value)
    return names, strings, numbers
