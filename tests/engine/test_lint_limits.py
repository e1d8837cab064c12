"""Issue 24's lint gaps: every place the engine evaluates code is compiled at upload, timers
are range-checked (helper calls evaluated with the forms' example answers), loops are capped,
names fit their columns, and hostile input is a problem on its element, never an exception.
Each test is an attack that was seen, refused at upload with the element and its line."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from mdt.services.pathways import TIMER_HELPERS, _pathway_helpers
from workflows import PathwayInvalidError, Problem, compile_pathway
from workflows import lint as lint_module
from workflows.limits import MAX_LOOP, MAX_TEMPLATE_CHARS

from .bpmn_builders import FORM, chain, process, script, user_task
from .conftest import LANES, ROLES, ROOT, read_dir

TIMER_FUNCTIONS = {n: f for n, f in _pathway_helpers([]).items() if n in TIMER_HELPERS}


def compile_with_helpers(bpmn: dict[str, bytes], forms: dict[str, bytes] | None = None) -> Any:
    """As the application compiles an upload: the timer helpers themselves, not their names."""
    return compile_pathway(
        bpmn,
        {"f.json": FORM} if forms is None else forms,
        role_for_lane=lambda lane: LANES.get(lane.lower()),
        known_roles=ROLES,
        timer_helpers=TIMER_FUNCTIONS,
    )


def refused(bpmn: bytes, forms: dict[str, bytes] | None = None) -> list[Problem]:
    with pytest.raises(PathwayInvalidError) as caught:
        compile_with_helpers({"upload.bpmn": bpmn}, forms)
    return caught.value.problems


def one_on(problems: list[Problem], element_id: str, *words: str) -> Problem:
    """The problem on ``element_id`` saying ``words``, with the file and line it is at."""
    found = [
        p for p in problems if p.element_id == element_id and all(w in p.message for w in words)
    ]
    assert found, [str(p) for p in problems]
    assert found[0].file == "upload.bpmn" and found[0].line, found[0]
    return found[0]


def timer(value: str, kind: str = "timeDuration", name: str = "Wait") -> str:
    return (
        f'<bpmn:intermediateCatchEvent id="wait" name="{name}">'
        f'<bpmn:timerEventDefinition id="wait_def"><bpmn:{kind}>{value}</bpmn:{kind}>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )


def test_the_real_pathway_passes_with_its_timers_evaluated() -> None:
    bpmn, forms = read_dir(ROOT / "bpmn")
    assert compile_with_helpers(bpmn, forms).process_id == "secondary_breast_cancer_pathway"


def test_message_payloads_are_compiled() -> None:
    throw = (
        '<bpmn:intermediateThrowEvent id="send" name="Tell">'
        '<bpmn:messageEventDefinition id="send_def" messageRef="m1"><bpmn:extensionElements>'
        "<spiffworkflow:messagePayload>__import__('os').system('id')</spiffworkflow:messagePayload>"
        "</bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateThrowEvent>"
    )
    bpmn = process(chain(throw, user_task()), extra='<bpmn:message id="m1" name="tell" />')
    one_on(refused(bpmn), "send", "Message payload", "not an allowed Python expression")


def test_conditional_event_conditions_are_compiled() -> None:
    conditional = (
        '<bpmn:intermediateCatchEvent id="until" name="Until ready">'
        '<bpmn:conditionalEventDefinition id="until_def"><bpmn:condition '
        'xsi:type="bpmn:tFormalExpression">().__class__.__bases__[0]</bpmn:condition>'
        "</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>"
    )
    one_on(refused(process(chain(conditional, user_task()))), "until", "conditional event")


def test_data_assignments_are_compiled() -> None:
    task = user_task().replace(
        "</bpmn:userTask>",
        '<bpmn:dataInputAssociation id="in"><bpmn:assignment><bpmn:from>open("/etc/passwd")'
        "</bpmn:from><bpmn:to>x</bpmn:to></bpmn:assignment></bpmn:dataInputAssociation>"
        "</bpmn:userTask>",
    )
    one_on(refused(process(chain(task))), "task", "Data assignment")


def test_a_nine_thousand_year_timer_is_refused() -> None:
    one_on(refused(process(chain(timer('"P9000Y"'), user_task()))), "wait", "at most 3,653 days")


@pytest.mark.parametrize(
    ("value", "kind", "words"),
    [
        ('"3179-01-01T09:00:00+00:00"', "timeDate", "outside the dates"),
        ('"R/P1D"', "timeCycle", "repeats without end"),
        ('"R5000/P1D"', "timeCycle", f"at most {MAX_LOOP} times"),
        ('"R3/P90000D"', "timeCycle", "at most 3,653 days"),
        ('"P-1D"', "timeDuration", "not a valid ISO 8601 duration"),
    ],
)
def test_timer_literals_are_range_checked(value: str, kind: str, words: str) -> None:
    one_on(refused(process(chain(timer(value, kind), user_task()))), "wait", words)


def test_a_helper_given_centuries_is_refused_before_it_runs() -> None:
    # working_days_from_now(2100000) took 7 s when it ran; a literal is refused unread.
    bpmn = process(chain(timer("working_days_from_now(2100000)", "timeDate"), user_task()))
    one_on(refused(bpmn), "wait", "working_days_from_now()", "at most 3,653 days")


def test_helper_calls_in_timers_are_evaluated_at_upload() -> None:
    # The escalation armed for the year 3179: the helper's result is checked, not its form.
    computed = process(chain(timer("working_days_from_now(1000 * 300)", "timeDate"), user_task()))
    one_on(refused(computed), "wait", "at most 3,653 days")
    fixed = process(chain(timer('morning_of("3179-01-01")', "timeDate"), user_task()))
    one_on(refused(fixed), "wait", "outside the dates")
    broken = process(chain(timer('morning_of("next week")', "timeDate"), user_task()))
    one_on(refused(broken), "wait", "fails with the forms' example answers")
    fine = process(chain(timer("working_days_from_now(2)", "timeDate"), user_task()))
    assert compile_with_helpers({"upload.bpmn": fine}, {"f.json": FORM}).process_id == "proc"


def test_a_timer_check_that_runs_out_of_time_is_a_problem(monkeypatch: Any) -> None:
    # On a loaded host the upload's run of a helper can overrun its limit: the manager is told
    # (a problem on the timer), the upload never fails with an exception.
    monkeypatch.setattr(lint_module, "TIMER_CHECK_SECONDS", 0.0)
    slow = process(chain(timer("working_days_from_now(2)", "timeDate"), user_task()))
    one_on(refused(slow), "wait", "takes more than 0 s to work out")


def test_timers_read_the_forms_example_answers() -> None:
    form = {
        "type": "object",
        "properties": {
            "review_on": {"type": "string", "format": "date", "examples": ["3179-06-01"]}
        },
    }
    task = user_task().replace(
        "</spiffworkflow:properties>",
        "</spiffworkflow:properties><spiffworkflow:variableName>review"
        "</spiffworkflow:variableName>",
    )
    wait = timer('morning_of(review["review_on"])', "timeDate")
    forms = {"f.json": json.dumps(form).encode()}
    one_on(refused(process(chain(task, wait)), forms), "wait", "outside the dates")
    form["properties"]["review_on"]["examples"] = ["2030-06-01"]  # type: ignore[index]
    fine = {"f.json": json.dumps(form).encode()}
    assert compile_with_helpers({"upload.bpmn": process(chain(task, wait))}, fine)


def _multi(cardinality: str) -> str:
    return user_task().replace(
        "</bpmn:userTask>",
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>"
        f"{cardinality}</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"
        "</bpmn:userTask>",
    )


def test_a_cardinality_of_twenty_thousand_is_refused() -> None:
    one_on(refused(process(chain(_multi("20000")))), "task", f"at most {MAX_LOOP}")
    assert compile_with_helpers({"upload.bpmn": process(chain(_multi("3")))})


def test_standard_loops_need_a_small_maximum() -> None:
    def loop(attributes: str) -> bytes:
        task = user_task().replace(
            "</bpmn:userTask>",
            f"<bpmn:standardLoopCharacteristics {attributes}><bpmn:loopCondition>"
            "done</bpmn:loopCondition></bpmn:standardLoopCharacteristics></bpmn:userTask>",
        )
        return process(chain(task))

    one_on(refused(loop("")), "task", "needs a loopMaximum")
    one_on(refused(loop('loopMaximum="1000"')), "task", f"from 0 to {MAX_LOOP}")


@pytest.mark.parametrize(
    ("body", "extra", "element", "words"),
    [
        (user_task(name="x" * 301), "", "task", "task's name is 301 characters"),
        (user_task(task_id="t" * 201), "", "t" * 201, "task's id is 201 characters"),
        (timer('"P1D"', name="w" * 301) + user_task(), "", "wait", "timer event's name"),
    ],
)
def test_names_longer_than_their_columns_are_refused(
    body: str, extra: str, element: str, words: str
) -> None:
    one_on(refused(process(chain(body), extra=extra)), element, words)


def test_long_lane_and_message_names_are_refused() -> None:
    lane = process(chain(user_task())).replace(
        b'name="Clinical nurse specialist"', b'name="' + b"L" * 201 + b'"'
    )
    one_on(refused(lane), "task", "lane name is 201 characters")
    message = f'<bpmn:message id="m1" name="{"m" * 101}" />'
    problems = refused(process(chain(user_task()), extra=message))
    assert any("message's name is 101 characters" in p.message for p in problems), problems


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("+".join(["1"] * 260) + " > 0", "nested 2"),  # answered 500: the compiler recursed
        ("x > 1" + "0" * 5000, "5,001 digits"),  # a number too long to print
        ("x == '" + "a" * 20_000 + "'", "20,007 characters long"),
    ],
)
def test_hostile_conditions_are_problems_not_errors(source: str, words: str) -> None:
    body = (
        '<bpmn:startEvent id="start" /><bpmn:exclusiveGateway id="gw" default="no" />'
        + user_task()
        + '<bpmn:endEvent id="end" />'
        '<bpmn:sequenceFlow id="in" sourceRef="start" targetRef="gw" />'
        '<bpmn:sequenceFlow id="yes" sourceRef="gw" targetRef="task">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{source}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="no" sourceRef="gw" targetRef="end" />'
        '<bpmn:sequenceFlow id="after" sourceRef="task" targetRef="end" />'
    )
    one_on(refused(process(body)), "yes", words)


def test_a_400_kilobyte_timer_is_refused_by_its_size() -> None:
    value = '"P' + "1" * 400_000 + 'D"'
    one_on(refused(process(chain(timer(value), user_task()))), "wait", "characters long")


def test_scripts_are_held_to_the_same_limits() -> None:
    one_on(refused(process(chain(script("x = 1" + "0" * 40), user_task()))), "script", "digits")


def test_instructions_are_parsed_not_folded() -> None:
    def with_instructions(text: str) -> bytes:
        task = user_task().replace(
            "</spiffworkflow:properties>",
            "</spiffworkflow:properties><spiffworkflow:instructionsForEndUser>"
            f"{text}</spiffworkflow:instructionsForEndUser>",
        )
        return process(chain(task))

    # Compiling folded constants: this took seconds (23 s with a bigger one) at validate.
    started = time.monotonic()
    compile_with_helpers({"upload.bpmn": with_instructions("{{ 'a' * 300000000 }}")})
    assert time.monotonic() - started < 1.5
    one_on(refused(with_instructions("x" * (MAX_TEMPLATE_CHARS + 1))), "task", "at most 20,000")
    one_on(refused(with_instructions("{{ x | nosuchfilter }}")), "task", "no filter named")
    one_on(refused(with_instructions("{% if %}")), "task", "not a valid template")
    documented = user_task().replace(
        "<bpmn:extensionElements>",
        f"<bpmn:documentation>{'d' * (MAX_TEMPLATE_CHARS + 1)}</bpmn:documentation>"
        "<bpmn:extensionElements>",
    )
    one_on(refused(process(chain(documented))), "task", "documentation")


def test_a_check_that_fails_is_a_problem_on_its_element(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a check's own bug")

    monkeypatch.setattr(lint_module, "name_problem", broken)
    problem = one_on(refused(process(chain(user_task()))), "task", "could not be checked")
    assert "RuntimeError" in problem.message


def test_the_names_only_form_still_checks_literal_helper_arguments() -> None:
    """Callers that give only the helpers' names (the test run's unchecked compile, tools)
    still have literal arguments bounded; evaluation needs the functions."""
    bpmn = process(chain(timer("working_days_from_now(999999)", "timeDate"), user_task()))
    with pytest.raises(PathwayInvalidError) as caught:
        compile_pathway(
            {"upload.bpmn": bpmn},
            {"f.json": FORM},
            role_for_lane=lambda lane: LANES.get(lane.lower()),
            known_roles=ROLES,
            timer_helpers=TIMER_HELPERS,
        )
    assert any("at most 3,653 days" in p.message for p in caught.value.problems)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("working_days_from_now(1000 * 300)", "at most 3,653 days"),
        ('morning_of("3179-01-01")', "gives the date '3179-01-01', outside the dates"),
    ],
)
def test_given_only_names_the_helpers_arguments_are_evaluated(value: str, words: str) -> None:
    """Without the functions (the engine workers' own compile), the arguments a timer gives
    its helper are evaluated with the forms' example answers and range-checked."""
    bpmn = process(chain(timer(value, "timeDate"), user_task()))
    with pytest.raises(PathwayInvalidError) as caught:
        compile_pathway(
            {"upload.bpmn": bpmn},
            {"f.json": FORM},
            role_for_lane=lambda lane: LANES.get(lane.lower()),
            known_roles=ROLES,
            timer_helpers=TIMER_HELPERS,
        )
    assert any(words in p.message for p in caught.value.problems), caught.value.problems
