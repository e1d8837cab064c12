"""One round of problems, in a manager's words: every check runs at once, and each problem
names the file, the line and the shape a manager sees, says what to do, and keeps the
validator's or engine's own text in ``details``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import SpiffWorkflow

from workflows import PathwayInvalidError, Problem
from workflows.problems import is_whole_sentence, translate_engine, translate_xsd

from .bpmn_builders import FORM, chain, process, script, user_task
from .conftest import ROOT, compile_bpmn

SAMPLES = ROOT.parent / "shared" / "bpmn-samples"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

# Problems that cannot name a shape, and why. Everything else the validation produces
# has a file, a line and a shape (``element_type``).
NO_SHAPE = {
    r"^File is [\d,]+ bytes": "about the whole file, before it is read",
    r"^DOCTYPE and ENTITY": "refused before the file is read (it has a line)",
    r"^Not well-formed XML": "the file cannot be read into shapes (it has a line)",
    r"^Not a BPMN 2\.0 file": "the file is not a diagram (it has a line)",
    r"^No BPMN file given": "there is no file",
    r"^Form ": "forms are JSON files, not diagrams",
    r"^No executable process '[^']*' is in these files": "about a choice, not a place in a file",
    r"more places in this file do not follow": "a count of the schema errors not listed",
    r"^No process to start the pathway": "the file holds no process to point at (line 1)",
}


def problems_of(bpmn: dict[str, bytes], **kwargs: object) -> list[Problem]:
    with pytest.raises(PathwayInvalidError) as caught:
        compile_bpmn(bpmn, {"f.json": FORM}, **kwargs)
    return caught.value.problems


def allowed_without_shape(problem: Problem) -> bool:
    return any(re.search(pattern, problem.message) for pattern in NO_SHAPE)


def assert_placed(problems: list[Problem]) -> None:
    for problem in problems:
        assert is_whole_sentence(problem.message), problem
        if allowed_without_shape(problem):
            continue
        assert problem.file and problem.line and problem.element_id, problem
        assert problem.element_type, problem


def test_xsd_lint_and_engine_problems_come_in_one_round() -> None:
    """A Camunda Modeler user (isExecutable="false" by default) with a schema error and a
    task nobody can do learns of all three at once."""
    body = chain('<bpmn:task id="phone" name="Phone the patient" />', user_task())
    bpmn = process(body, lanes=False).replace(b'isExecutable="true"', b'isExecutable="false"')
    bpmn = bpmn.replace(b'<bpmn:task id="phone"', b'<bpmn:task id="phone" colour="red"')
    problems = problems_of({"upload.bpmn": bpmn})
    texts = [p.message for p in problems]
    assert any("cannot have the attribute 'colour'" in t for t in texts)  # XSD
    assert any("does not map to a known role" in t for t in texts)  # lint
    assert any("not marked executable" in t for t in texts)  # the engine's own check
    assert_placed(problems)
    schema = next(p for p in problems if "colour" in p.message)
    assert (schema.element_id, schema.element_type) == ("phone", "task")
    assert schema.details and "{" + BPMN_NS + "}task" in schema.details
    executable = next(p for p in problems if "not marked executable" in p.message)
    assert (executable.element_id, executable.element_type) == ("proc", "process")


def test_every_schema_error_of_a_file_is_listed_not_only_the_last() -> None:
    bpmn = process(chain(user_task("a"), user_task("b")))
    bpmn = bpmn.replace(b'<bpmn:userTask id="a"', b'<bpmn:userTask id="a" colour="red"')
    bpmn = bpmn.replace(b'<bpmn:userTask id="b"', b'<bpmn:userTask id="b" size="big"')
    problems = problems_of({"upload.bpmn": bpmn})
    assert {p.element_id for p in problems if p.details} == {"a", "b"}


def test_an_engine_text_cut_off_mid_sentence_is_a_whole_sentence_saying_what_to_do() -> None:
    """SpiffWorkflow says 'Multiple outgoing flows are not supported for tasks of type' and
    stops there."""
    body = (
        '<bpmn:startEvent id="start" />'
        + script("x = 1", "calc")
        + user_task("a")
        + user_task("b")
        + '<bpmn:endEvent id="end" />'
        '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="calc" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="calc" targetRef="a" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="b" />'
        '<bpmn:sequenceFlow id="f3" sourceRef="a" targetRef="end" />'
        '<bpmn:sequenceFlow id="f4" sourceRef="b" targetRef="end" />'
    )
    [problem] = problems_of({"upload.bpmn": process(body)})
    assert problem.message.startswith("This script task has several outgoing flows")
    assert "put a gateway after it" in problem.message
    assert problem.details == "Multiple outgoing flows are not supported for tasks of type"
    assert (problem.element_id, problem.element_type, problem.file) == (
        "calc",
        "script task",
        "upload.bpmn",
    )
    assert problem.line


def test_problems_point_at_the_shape_not_its_event_definition_or_expression() -> None:
    timer = (
        '<bpmn:intermediateCatchEvent id="wait" name="Wait a week">'
        '<bpmn:timerEventDefinition id="TimerDef_1"><bpmn:timeDuration id="Dur_1">P7D'
        "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    body = (
        '<bpmn:startEvent id="start" />'
        + timer
        + '<bpmn:exclusiveGateway id="gw" name="Which?" default="f3" />'
        + user_task("a")
        + user_task("b")
        + '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="wait" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="wait" targetRef="gw" />'
        '<bpmn:sequenceFlow id="f2" name="Yes" sourceRef="gw" targetRef="a">'
        '<bpmn:conditionExpression id="Expr_1">${approved}</bpmn:conditionExpression>'
        "</bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="b" />'
    )
    problems = problems_of({"upload.bpmn": process(body)})
    assert_placed(problems)
    timer_problem = next(p for p in problems if "Timer value" in p.message)
    assert (timer_problem.element_id, timer_problem.element_name) == ("wait", "Wait a week")
    assert timer_problem.element_type == "intermediate event"
    condition = next(p for p in problems if "Condition" in p.message)
    assert (condition.element_id, condition.element_type) == ("f2", "sequence flow")
    assert "conditions here are Python, e.g. 'approved'" in condition.message
    assert condition.details  # RestrictedPython's own words


def test_a_self_calling_process_is_named_as_such() -> None:
    call = '<bpmn:callActivity id="again" name="Start over" calledElement="proc" />'
    problems = problems_of({"upload.bpmn": process(chain(user_task(), call))})
    assert [p.message for p in problems if "No process" in p.message] == []
    [loop] = problems
    assert "calls itself (proc → proc)" in loop.message
    assert (loop.element_id, loop.element_type) == ("again", "call activity")
    assert loop.line


def test_processes_calling_each_other_round_are_named_once() -> None:
    first = process(chain(user_task(), '<bpmn:callActivity id="to_b" calledElement="b" />'))
    first = first.replace(b'id="proc"', b'id="a"')
    second = process(chain('<bpmn:callActivity id="to_a" calledElement="a" />'))
    second = second.replace(b'id="proc"', b'id="b"')
    problems = problems_of({"a.bpmn": first, "b.bpmn": second})
    [loop] = [p for p in problems if "calls itself" in p.message]
    assert "a → b → a" in loop.message
    assert (loop.file, loop.element_id) == ("b.bpmn", "to_a")  # the call that closes the round


def _message_pathway(ref: str, prefix_ns: str) -> bytes:
    catch = (
        '<bpmn:intermediateCatchEvent id="wait_msg" name="Progression">'
        f'<bpmn:messageEventDefinition id="MsgDef" messageRef="{ref}" />'
        "</bpmn:intermediateCatchEvent>"
    )
    message = (
        '<bpmn:message id="m1" name="progression"><bpmn:extensionElements>'
        "<spiffworkflow:messageVariable>progression</spiffworkflow:messageVariable>"
        "</bpmn:extensionElements></bpmn:message>"
    )
    bpmn = process(chain(catch, user_task()), extra=message)
    return bpmn.replace(b'id="Defs"', f'xmlns:semantic="{prefix_ns}" id="Defs"'.encode())


@pytest.mark.parametrize("namespace", [BPMN_NS, "http://example.org/test"])
def test_a_prefixed_message_ref_finds_its_message(namespace: str) -> None:
    """messageRef is a qualified name: 'semantic:m1' is the message m1 when the prefix
    stands for the BPMN namespace or the file's target namespace."""
    pathway = compile_bpmn(
        {"upload.bpmn": _message_pathway("semantic:m1", namespace)}, {"f.json": FORM}
    )
    assert "progression" in pathway.message_names


def test_a_prefix_for_another_namespace_is_still_a_missing_message() -> None:
    problems = problems_of({"upload.bpmn": _message_pathway("semantic:m1", "urn:other")})
    assert problems
    assert_placed(problems)
    assert all(p.element_id == "wait_msg" for p in problems)
    assert any("refers to no bpmn:message" in p.message for p in problems)


@pytest.mark.parametrize(
    ("source", "name"),
    [("x = hex(10)", "hex"), ("x = chr(65)", "chr"), ("x = lookup(1)", "lookup")],
)
def test_a_script_calling_a_name_the_sandbox_does_not_give_is_refused(
    source: str, name: str
) -> None:
    [problem] = problems_of({"upload.bpmn": process(chain(script(source), user_task()))})
    assert f"calls {name}(), which pathway scripts do not have" in problem.message
    assert "add_days()" in problem.message and problem.element_id == "script"


def test_scripts_may_call_builtins_helpers_and_their_own_functions() -> None:
    source = (
        "def twice(n):\n    return n * 2\n"
        "later = add_days(today(), twice(len([1, 2])))\n"
        "total = sum(map(lambda v: v + 1, [1, 2]))\n"
    )
    compile_bpmn({"upload.bpmn": process(chain(script(source), user_task()))}, {"f.json": FORM})


def _two_starts() -> dict[str, bytes]:
    first = process(chain(user_task("a")))
    second = process(chain(user_task("b"))).replace(b'id="proc"', b'id="other"')
    second = second.replace(b'id="lane"', b'id="lane2"').replace(b'id="ls"', b'id="ls2"')
    return {"first.bpmn": first, "second.bpmn": second}


def test_several_possible_starts_ask_for_a_choice_that_can_be_made() -> None:
    [problem] = problems_of(_two_starts())
    assert "Several processes could start the pathway (proc, other)" in problem.message
    assert "process_id" in problem.message
    assert (problem.file, problem.element_id, problem.element_type) == (
        "first.bpmn",
        "proc",
        "process",
    )
    chosen = compile_bpmn(_two_starts(), {"f.json": FORM}, process_id="other")
    assert chosen.process_id == "other"


def test_a_choice_that_is_not_an_executable_process_lists_the_choices() -> None:
    [problem] = problems_of(_two_starts(), process_id="nope")
    assert "'nope'" in problem.message and "'proc', 'other'" in problem.message
    idle = _two_starts()
    idle["second.bpmn"] = idle["second.bpmn"].replace(
        b'isExecutable="true"', b'isExecutable="false"'
    )
    [problem] = problems_of(idle, process_id="other")
    assert "chosen to start the pathway, is not marked executable" in problem.message
    assert problem.element_id == "other"


def test_a_called_process_that_is_missing_is_on_its_call_activity() -> None:
    call = '<bpmn:callActivity id="call" name="Assess" calledElement="assessment" />'
    [problem] = problems_of({"upload.bpmn": process(chain(user_task(), call))})
    assert "calls process 'assessment', which is in none of the uploaded files" in problem.message
    assert (problem.element_id, problem.element_type) == ("call", "call activity")


def _engine_texts() -> list[str]:
    """The message of every ValidationException SpiffWorkflow's BPMN parsers raise (as
    written in its source: the start of each f-string)."""
    root = Path(SpiffWorkflow.__file__).parent
    texts = set()
    pattern = re.compile(
        r"(?:ValidationException|raise_validation_exception)\(\s*f?(['\"])(.+?)\1", re.S
    )
    for path in [
        *(root / "bpmn" / "parser").glob("*.py"),
        *(root / "spiff" / "parser").glob("*.py"),
    ]:
        for match in pattern.finditer(path.read_text()):
            texts.add(re.sub(r"\{[^}]*\}", "X", match.group(2)))
    return sorted(texts)


@pytest.mark.parametrize("raw", _engine_texts())
def test_no_engine_text_is_passed_on_cut_off(raw: str) -> None:
    translated = translate_engine(raw, "task")
    assert is_whole_sentence(translated) and not translated.endswith("of type.")


B = "{" + BPMN_NS + "}"


@pytest.mark.parametrize(
    "raw",
    [
        f"Element '{B}task': This element is not expected. Expected is one of "
        f"( {B}documentation, {B}extensionElements ).",
        f"Element '{B}linkEventDefinition': The attribute 'name' is required but missing.",
        f"Element '{B}task', attribute 'id': '1task' is not a valid value of the atomic type "
        "'xs:ID'.",
        f"Element '{B}process': Missing child element(s). Expected is ( {B}laneSet ).",
        f"Element '{B}process', attribute 'isExecutable': 'yes' is not a valid value of the "
        "atomic type 'xs:boolean'.",
        "Something the schema said that no rule knows",
    ],
)
def test_schema_texts_are_plain_english(raw: str) -> None:
    text, _ = translate_xsd(raw)
    assert is_whole_sentence(text) and "{http" not in text


def _sample_files() -> list[Path]:
    return sorted(SAMPLES.rglob("*.bpmn")) if SAMPLES.is_dir() else []


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/bpmn-samples is not beside the project")
def test_third_party_samples_list_every_problem_at_once_each_on_a_shape() -> None:
    """Every file under ../shared/bpmn-samples/: each problem is a whole sentence with
    file, line and shape (or allowed, with the reason, in NO_SHAPE); schema and lint
    problems arrive together."""
    both = []
    for path in _sample_files():
        try:
            compile_bpmn({path.name: path.read_bytes()}, {})
        except PathwayInvalidError as error:
            assert_placed(error.problems)
            from_schema = [p for p in error.problems if p.details and "Element '" in p.details]
            if from_schema and len(from_schema) < len(error.problems):
                both.append(path.name)
    assert both, "no sample has both schema and other problems to show they come together"


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (b'{"type": "object",\n "properties": {', "Form is not valid JSON"),
        (b'{"type": 12}', "Form is not valid JSON Schema: at type,"),
        (b'{"type": "string"}', "Form schema must be an object with properties"),
    ],
)
def test_form_problems_are_whole_sentences_on_their_file(form: bytes, expected: str) -> None:
    with pytest.raises(PathwayInvalidError) as caught:
        compile_bpmn({"upload.bpmn": process(chain(user_task()))}, {"f.json": form})
    problems = [p for p in caught.value.problems if p.file == "f.json"]
    assert problems and problems[0].message.startswith(expected)
    assert_placed(caught.value.problems)
