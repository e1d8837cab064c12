"""Problems in a manager's words, pinned to the shape they see on the diagram.

XSD and SpiffWorkflow messages are written for developers ("Element '{http://...}task':
This element is not expected", "Multiple outgoing flows are not supported for tasks of
type"), and they name whatever XML element tripped: an event definition, a condition, a
timer value. A manager sees shapes: tasks, events, gateways, arrows, pools. Everything
here turns such a message into a sentence that says what is wrong and what to do (the
original is kept in ``details``) and moves it to the shape that holds the element.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml import etree

from workflows.errors import Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"

# What a manager sees and can click on the canvas: flow nodes and arrows, lanes and pools,
# and the process itself (bpmn-js's canvas root, whose properties the panel shows).
_FLOW_NODES = {
    "task": "task",
    "userTask": "user task",
    "manualTask": "manual task",
    "scriptTask": "script task",
    "serviceTask": "service task",
    "sendTask": "send task",
    "receiveTask": "receive task",
    "businessRuleTask": "business rule task",
    "callActivity": "call activity",
    "subProcess": "subprocess",
    "adHocSubProcess": "ad hoc subprocess",
    "transaction": "transaction",
    "startEvent": "start event",
    "endEvent": "end event",
    "intermediateCatchEvent": "intermediate event",
    "intermediateThrowEvent": "intermediate event",
    "boundaryEvent": "boundary event",
    "exclusiveGateway": "exclusive gateway",
    "inclusiveGateway": "inclusive gateway",
    "parallelGateway": "parallel gateway",
    "eventBasedGateway": "event-based gateway",
    "complexGateway": "complex gateway",
}
SHAPE_KINDS = {
    **_FLOW_NODES,
    "sequenceFlow": "sequence flow",
    "messageFlow": "message flow",
    "lane": "lane",
    "participant": "pool",
    "process": "process",
    "collaboration": "diagram",
    "dataObjectReference": "data object",
    "dataStoreReference": "data store",
    "textAnnotation": "annotation",
}
# Definitions-level elements no shape holds, found through the events that refer to them.
_REFERRED = {
    "message": "messageRef",
    "signal": "signalRef",
    "error": "errorRef",
    "escalation": "escalationRef",
}
_DI = {
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
}
_CLARK = re.compile(r"\{[^}]*\}")
_SENTENCE_END = re.compile(r"""[.!?]["')\]]*$""")


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def shape_of(element: etree._Element | None) -> etree._Element | None:
    """The shape a manager sees that holds ``element``: the element itself when it is one,
    else its nearest ancestor that is; a message, signal, error or escalation is shown
    through the first event that refers to it; a process through its pool when it has one."""
    node = _drawn(element) if element is not None else None
    while node is not None:
        kind = local_name(node)
        if kind == "process":
            pool = _pool_of(node)
            return pool if pool is not None else node
        if kind in SHAPE_KINDS:
            return node
        if kind in _REFERRED and node.get("id"):
            return _referring_event(node)
        node = node.getparent()
    return None


def _drawn(element: etree._Element) -> etree._Element:
    """For a part of the diagram's layout (BPMN DI), the model element it draws."""
    node: etree._Element | None = element
    while node is not None and etree.QName(node).namespace in _DI:
        if local_name(node) == "BPMNDiagram":
            planes = [c for c in node if local_name(c) == "BPMNPlane"]
            node = planes[0] if planes else None
            continue
        ref = node.get("bpmnElement")
        if ref:
            found = node.getroottree().getroot().xpath("//*[@id=$i]", i=ref)
            return found[0] if found else element
        node = node.getparent()
    return element


def _pool_of(process: etree._Element) -> etree._Element | None:
    pools = (
        process.getroottree()
        .getroot()
        .xpath(
            ".//bpmn:participant[@processRef=$pid]",
            namespaces={"bpmn": BPMN},
            pid=process.get("id"),
        )
    )
    return pools[0] if pools else None


def _referring_event(definition: etree._Element) -> etree._Element | None:
    attribute = _REFERRED[local_name(definition)]
    ident = definition.get("id")
    for node in definition.getroottree().getroot().iter(etree.Element):
        ref = node.get(attribute)
        if ref is not None and ref.rpartition(":")[2] == ident:
            holder = shape_of(node)
            if holder is not None:
                return holder
    return None


def element_at(
    tree: etree._ElementTree, line: int | None, element_id: str | None = None, tag: str = ""
) -> etree._Element | None:
    """The element an error names: by id when given, else the one on ``line`` (of the
    local name ``tag`` when several share the line, as in a file written on one line)."""
    root = tree.getroot()
    if element_id:
        found = root.xpath("//*[@id=$ident]", ident=element_id)
        if found:
            return found[0]
    if not line:
        return None
    on_line = [e for e in root.iter(etree.Element) if e.sourceline == line]
    named = [e for e in on_line if not tag or local_name(e) == tag]
    candidates = named or on_line
    return candidates[-1] if candidates else None


def pin(problem: Problem, tree: etree._ElementTree | None, tag: str = "") -> Problem:
    """The problem moved to the shape that holds the element it names, with that shape's
    line, name and kind (kept as it is when the file could not be read)."""
    if tree is None:
        return problem
    element = element_at(tree, problem.line, problem.element_id, tag)
    if element is None and problem.line is None and problem.element_id is None:
        return problem
    return at_shape(problem, shape_of(element) if element is not None else None, element)


def at_shape(
    problem: Problem, shape: etree._Element | None, element: etree._Element | None = None
) -> Problem:
    if shape is None:
        line = problem.line or (element.sourceline if element is not None else None)
        return _replace(problem, line=line, element_id=None, element_name=None)
    return _replace(
        problem,
        line=shape.sourceline if shape.sourceline else problem.line,
        element_id=shape.get("id"),
        element_name=shape.get("name") or None,
        element_type=SHAPE_KINDS.get(local_name(shape)),
    )


def _replace(problem: Problem, **changes: object) -> Problem:
    from dataclasses import replace

    return replace(problem, **changes)  # type: ignore[arg-type]


def is_whole_sentence(text: str) -> bool:
    """A message ends as a sentence does (not cut off mid-way, as some engine texts are)."""
    return bool(_SENTENCE_END.search(text.strip()))


def sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if is_whole_sentence(text) else text.rstrip(",;: ") + "."


def _plain_names(text: str) -> str:
    """'{http://www.omg.org/spec/BPMN/20100524/MODEL}userTask' -> 'userTask'."""
    return _CLARK.sub("", text)


# -- XSD -----------------------------------------------------------------------------------

_XSD_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"^Element '(?P<el>[^']+)': This element is not expected\. "
            r"Expected is(?: one of)? \( (?P<expected>[^)]*) \)"
        ),
        "'{el}' is not allowed at this place in a BPMN 2.0 file; here the standard expects "
        "{expected}. Move or remove it (the modelling tool may have written it: open and save "
        "the file in bpmn-js or Camunda Modeler).",
    ),
    (
        re.compile(r"^Element '(?P<el>[^']+)': This element is not expected\."),
        "'{el}' is not allowed at this place in a BPMN 2.0 file: move or remove it.",
    ),
    (
        re.compile(
            r"^Element '(?P<el>[^']+)': Missing child element\(s\)\. "
            r"Expected is(?: one of)? \( (?P<expected>[^)]*) \)"
        ),
        "'{el}' is incomplete: BPMN 2.0 requires {expected} inside it. Add it, or remove '{el}'.",
    ),
    (
        re.compile(r"^Element '(?P<el>[^']+)': The attribute '(?P<attr>[^']+)' is required"),
        "'{el}' needs the attribute '{attr}': give it a value (in most modelling tools, in "
        "the element's properties).",
    ),
    (
        re.compile(
            r"^Element '(?P<el>[^']+)', attribute '(?P<attr>[^']+)': "
            r"The attribute '[^']+' is not allowed"
        ),
        "'{el}' cannot have the attribute '{attr}' in BPMN 2.0: remove it.",
    ),
    (
        re.compile(
            r"^Element '(?P<el>[^']+)', attribute '(?P<attr>[^']+)': '(?P<value>[^']*)' is not a "
            r"valid value of the (?:local )?atomic type 'xs:ID'"
        ),
        "'{value}' cannot be the id of '{el}': an id starts with a letter or '_' and has no "
        "spaces or ':' (and no two elements share one). Rename it.",
    ),
    (
        re.compile(
            r"^Element '(?P<el>[^']+)', attribute '(?P<attr>[^']+)': \[facet 'enumeration'\] "
            r"The value '(?P<value>[^']*)' is not an element of the set \{(?P<allowed>[^}]*)\}"
        ),
        "'{value}' is not a possible value of '{attr}' on '{el}'; use one of {allowed}.",
    ),
    (
        re.compile(
            r"^Element '(?P<el>[^']+)', attribute '(?P<attr>[^']+)': '(?P<value>[^']*)' is not a "
            r"valid value of the (?:local )?atomic type '(?P<type>[^']+)'"
        ),
        "'{value}' is not a possible value of '{attr}' on '{el}' (it must be {type}): correct it.",
    ),
    (
        re.compile(r"^Element '(?P<el>[^']+)': Element content is not allowed"),
        "'{el}' must be empty or hold only text: remove what is inside it.",
    ),
    (
        re.compile(
            r"^Element '(?P<el>[^']+)': No match found for key-sequence \['(?P<value>[^']*)'\]"
        ),
        "'{el}' refers to '{value}', which is not in this file: correct the reference.",
    ),
)
_XSD_TYPES = {
    "xs:boolean": "true or false",
    "xs:integer": "a whole number",
    "xs:double": "a number",
    "xs:QName": "an id",
    "xs:IDREF": "an id",
}


def _name_list(text: str) -> str:
    names = [n.strip() for n in _plain_names(text).split(",") if n.strip()]
    if len(names) == 1:
        return f"'{names[0]}'"
    return "one of " + ", ".join(f"'{n}'" for n in names)


def translate_xsd(message: str) -> tuple[str, str]:
    """A BPMN 2.0 schema error in plain English, and the local name of the element it is
    about (to find it on its line)."""
    for pattern, template in _XSD_RULES:
        match = pattern.search(message)
        if match:
            found = {k: _plain_names(v) for k, v in match.groupdict().items()}
            if "expected" in found:
                found["expected"] = _name_list(match.group("expected"))
            if "type" in found:
                found["type"] = _XSD_TYPES.get(found["type"], found["type"])
            return sentence(template.format(**found)), found.get("el", "")
    element = re.match(r"^Element '([^']+)'", message)
    tag = _plain_names(element.group(1)) if element else ""
    return (
        sentence(
            "This part of the file does not follow the BPMN 2.0 standard: "
            + _plain_names(message).strip().rstrip(".")
            + ". Correct it, or open and save the file in bpmn-js or Camunda Modeler"
        ),
        tag,
    )


def xsd_problems(
    filename: str, tree: etree._ElementTree, errors: Iterable[object], limit: int = 25
) -> list[Problem]:
    """Every schema error of one file (not only the first), each on its shape."""
    problems: list[Problem] = []
    seen: set[tuple[str, int | None]] = set()
    errors = list(errors)
    for error in errors:
        raw = str(getattr(error, "message", error))
        line = getattr(error, "line", None) or None
        if (raw, line) in seen:
            continue
        seen.add((raw, line))
        text, tag = translate_xsd(raw)
        problem = Problem(text, file=filename, line=line, details=raw)
        problems.append(pin(problem, tree, tag))
        if len(problems) == limit:
            rest = len(errors) - limit
            if rest > 0:
                problems.append(
                    Problem(
                        f"{rest} more places in this file do not follow the BPMN 2.0 standard; "
                        "fix the ones listed and check again to see them.",
                        file=filename,
                        line=line,
                    )
                )
            break
    return problems


# -- the engine's parser -------------------------------------------------------------------

_ENGINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^Multiple outgoing flows are not supported for tasks of type"),
        "This {kind} has several outgoing flows, and the engine would not know which to take: "
        "put a gateway after it (exclusive to choose one way, parallel to take them all).",
    ),
    (
        re.compile(r"^Non-default exclusive outgoing sequence flow without condition"),
        "This flow leaves a gateway with neither a condition nor being the gateway's default: "
        "give it a condition or make it the default flow.",
    ),
    (
        re.compile(r"^Process (?P<pid>.+) is not executable\."),
        "Process '{pid}' is not marked executable: set isExecutable=\"true\" (in Camunda "
        "Modeler, tick 'Executable' in the process's properties).",
    ),
    (
        re.compile(r"^No start event found"),
        "This process has no start event: add one where the pathway begins.",
    ),
    (
        re.compile(r"^The process '(?P<pid>[^']+)' was not found"),
        "A call activity calls process '{pid}', which is in none of the uploaded files: add the "
        "file that defines it, or correct the call activity's called element.",
    ),
    (
        re.compile(r"^There is no support implemented for this task type"),
        "The engine cannot run a {kind}: use a user task, manual task, script task or a "
        "gateway instead.",
    ),
    (
        re.compile(r"^Exactly one start event is required in a SubWorkflow Task; found (?P<n>\d+)"),
        "A subprocess needs exactly one start event, and this one has {n}: keep one.",
    ),
    (
        re.compile(r"^A SubWorkflow Must contain an End event"),
        "This subprocess has no end event: add one where it finishes.",
    ),
    (
        re.compile(r"^No \"calledElement\" attribute for Call Activity"),
        "This call activity does not say which process it calls: set its called element.",
    ),
    (
        re.compile(r"^Duplicate process ID: (?P<pid>.+)"),
        "Two processes have the id '{pid}': give each its own id.",
    ),
    (
        re.compile(r"Expected a(?:n)? (?P<what>Message|Signal|Error|Escalation) node", re.I),
        "This event refers to a {what_lower} that is not defined in this file: choose one of "
        "the file's {what_lower}s in the event's properties, or add it.",
    ),
    (
        re.compile(r"^Conditional event definition with missing condition"),
        "This conditional event has no condition: write one (a Python expression).",
    ),
    (
        re.compile(r"^(?:Unknown Time Specification|Time Specification Error)"),
        "This timer has no valid duration, date or cycle: give it a quoted ISO 8601 value, "
        'e.g. "P7D".',
    ),
    (
        re.compile(
            r"^A multiinstance task must specify a cardinality or a (?:loop input|collection)"
        ),
        "This multi-instance task says neither how many times it runs (loop cardinality) nor "
        "which list it goes through (input collection): give it one of them.",
    ),
    (
        re.compile(r"^A multiinstance task must specify exactly one of"),
        "This multi-instance task gives both a number of times and a list to go through: keep "
        "only one.",
    ),
    (
        re.compile(r"^A loopMaximum or loopCondition must be specified"),
        "This loop has neither a condition nor a maximum number of times: give it one.",
    ),
    (
        re.compile(r"^The loop (?P<which>input|output) data reference is missing"),
        "The list this multi-instance task goes through is not declared in its inputs and "
        "outputs: declare it, or name a variable of the task data instead.",
    ),
    (
        re.compile(r"^Cannot resolve data(?P<which>Input|Output)Association (?P<name>.+)"),
        "A data association of this element refers to '{name}', which is not a data object of "
        "the process: correct or remove it.",
    ),
    (
        re.compile(r"^Cancel Events may only be used with transactions"),
        "A cancel event can only be used inside a transaction: use an error or terminate "
        "event instead.",
    ),
    (
        re.compile(r"^Ad hoc subprocesses may not contain start or end events"),
        "An ad hoc subprocess cannot contain start or end events: remove them.",
    ),
    (
        re.compile(r"^Sequential ordering for ad hoc subprocesses not supported"),
        "An ad hoc subprocess cannot be sequential here: make it parallel.",
    ),
    (
        re.compile(r"^When looking for a task spec, we found two items"),
        "A flow leads to an element that is not in the same process, or two elements share "
        "an id: connect it to an element of this process and give each element its own id.",
    ),
    (
        re.compile(r"^Invalid Script Task"),
        "This script task has no script: write one (Python).",
    ),
    (
        re.compile(
            r"^(?P<what>Message|Signal|Error|Escalation|Correlation|Data Store) "
            r"(?:identifier|name) is missing"
        ),
        "A {what_lower} in this file has no id or name: give it one.",
    ),
    (
        re.compile(r"^Data Store with name (?P<name>.+) has no implementation"),
        "Data store '{name}' is not supported: keep the data in the task data instead.",
    ),
)


def translate_engine(message: str, kind: str | None = None) -> str:
    """One of SpiffWorkflow's parser messages in plain English, saying what to do."""
    for pattern, template in _ENGINE_RULES:
        match = pattern.search(message)
        if match:
            found = dict(match.groupdict())
            if "what" in found:
                found["what_lower"] = found["what"].lower()
            found["kind"] = kind or "element"
            return sentence(template.format(**found))
    return sentence(
        "The workflow engine cannot read this "
        + (kind or "part of the diagram")
        + ": "
        + message.strip().rstrip(".")
        + ". Correct it, or replace it with an element the pathway authoring guide lists"
    )


def engine_problem(
    message: str,
    tree: etree._ElementTree | None,
    *,
    file: str | None = None,
    element_id: str | None = None,
    line: int | None = None,
) -> Problem:
    """A SpiffWorkflow parser message as a problem on its shape, translated."""
    element = element_at(tree, line, element_id) if tree is not None else None
    shape = shape_of(element) if element is not None else None
    kind = SHAPE_KINDS.get(local_name(shape)) if shape is not None else None
    problem = Problem(
        translate_engine(message, kind),
        file=file,
        line=line,
        element_id=element_id,
        details=message,
    )
    if element is None:
        return problem
    return at_shape(problem, shape, element)
