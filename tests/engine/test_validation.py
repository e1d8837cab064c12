"""Uploaded BPMN is refused with a specific message naming element and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows import PathwayEngine, PathwayInvalidError

from .bpmn_builders import FORM, HEAD, chain, process, script, user_task
from .conftest import ROOT, compile_bpmn, compile_dir

SAMPLES = ROOT.parent / "shared" / "bpmn-samples"


def problems_of(bpmn: bytes, forms: dict[str, bytes] | None = None) -> list[str]:
    with pytest.raises(PathwayInvalidError) as caught:
        compile_bpmn({"upload.bpmn": bpmn}, {"f.json": FORM} if forms is None else forms)
    return [str(p) for p in caught.value.problems]


def test_the_real_pathway_is_valid() -> None:
    pathway = compile_dir(ROOT / "bpmn")
    assert pathway.process_id == "secondary_breast_cancer_pathway"


def test_external_entity_is_refused() -> None:
    bpmn = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + process(chain(user_task())).split(b"?>", 1)[1]
    )
    [problem] = problems_of(bpmn)
    assert "DOCTYPE" in problem and "line 1" in problem


def test_billion_laughs_is_refused() -> None:
    lol = (
        b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10)
            for i in range(1, 10)
        )
        + b"]>"
    )
    [problem] = problems_of(lol + b"<bpmn:definitions>&lol9;</bpmn:definitions>")
    assert "DOCTYPE" in problem


def test_a_20_mb_file_is_refused() -> None:
    [problem] = problems_of(b"<x>" + b" " * (20 * 1024 * 1024) + b"</x>")
    assert "limit" in problem


def test_xml_that_is_not_bpmn_is_refused() -> None:
    [problem] = problems_of(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert "Not a BPMN 2.0 file" in problem


def test_malformed_xml_names_the_line() -> None:
    [problem] = problems_of(HEAD.encode() + b"<bpmn:process id='p'>\n<oops></bpmn:definitions>")
    assert "Not well-formed" in problem and "line" in problem


def test_unquoted_timer_is_refused() -> None:
    timer = (
        '<bpmn:intermediateCatchEvent id="wait" name="Wait">'
        "<bpmn:timerEventDefinition><bpmn:timeDuration>P7D</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    [problem] = problems_of(process(chain(timer, user_task())))
    assert "wait (Wait)" in problem and "must be a quoted ISO 8601" in problem


def test_invalid_timer_value_is_refused() -> None:
    timer = (
        '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>"next week"</bpmn:timeDuration></bpmn:timerEventDefinition>'
        "</bpmn:intermediateCatchEvent>"
    )
    [problem] = problems_of(process(chain(timer, user_task())))
    assert "not a valid ISO 8601 duration" in problem


def test_gateway_without_default_is_refused() -> None:
    body = (
        '<bpmn:startEvent id="start" /><bpmn:exclusiveGateway id="gw" name="Which?" />'
        + user_task("a")
        + user_task("b")
        + '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="gw" targetRef="a"><bpmn:conditionExpression>'
        "x == 1</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="b"><bpmn:conditionExpression>'
        "x == 2</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )
    problems = problems_of(process(body))
    assert any("gw (Which?)" in p and "no default flow" in p for p in problems)


def test_script_importing_os_is_refused() -> None:
    [problem] = problems_of(process(chain(script("import os"), user_task())))
    assert "import is not allowed" in problem and "line" in problem


def test_scripts_calling_what_the_sandbox_does_not_give_are_refused() -> None:
    problems = problems_of(
        process(
            chain(script('print("checked")', "s1"), script("seen = locals()", "s2"), user_task())
        )
    )
    assert any("print() is not available" in p and "s1" in p for p in problems)
    assert any("locals() is not available" in p and "s2" in p for p in problems)


def test_a_plain_task_nobody_can_do_is_refused() -> None:
    """The engine waits at a plain bpmn:task as at a manual one: without a role no worklist
    shows it and the patient is stranded there."""
    plain = '<bpmn:task id="phone" name="Phone the patient" />'
    [problem] = problems_of(process(chain(plain), lanes=False))
    assert "phone (Phone the patient)" in problem and "does not map to a known role" in problem


def test_a_plain_task_in_a_lane_is_that_roles_task() -> None:
    plain = '<bpmn:task id="phone" name="Phone the patient" />'
    run = PathwayEngine(compile_bpmn({"upload.bpmn": process(chain(plain))}, {})).start()
    [ready] = run.ready_tasks()
    assert (ready.name, ready.role, ready.form) == ("Phone the patient", "cns", None)
    run.complete_task(ready.id, {})
    assert run.is_finished


def test_lane_that_maps_to_no_role_is_refused() -> None:
    bpmn = process(chain(user_task())).replace(b"Clinical nurse specialist", b"Porters")
    [problem] = problems_of(bpmn)
    assert "Lane 'Porters' does not map to a known role" in problem


def test_missing_and_invalid_forms_are_refused() -> None:
    [missing] = problems_of(process(chain(user_task())), forms={})
    assert "Form 'f.json' is not among" in missing
    problems = problems_of(process(chain(user_task())), forms={"f.json": b'{"type": 12}'})
    assert any("not valid JSON Schema" in p for p in problems)


def test_catching_message_without_variable_is_refused() -> None:
    catch = (
        '<bpmn:intermediateCatchEvent id="wait_msg" name="Progression">'
        '<bpmn:messageEventDefinition messageRef="m1" /></bpmn:intermediateCatchEvent>'
    )
    bpmn = process(chain(catch, user_task()), extra='<bpmn:message id="m1" name="progression" />')
    [problem] = problems_of(bpmn)
    assert "declares no spiffworkflow:messageVariable" in problem


def test_no_executable_process_is_explained() -> None:
    bpmn = process(chain(user_task())).replace(b'isExecutable="true"', b'isExecutable="false"')
    [problem] = problems_of(bpmn)
    assert "proc" in problem and "is not marked executable" in problem


def _sample_files() -> list[Path]:
    return sorted(SAMPLES.rglob("*.bpmn")) if SAMPLES.is_dir() else []


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/bpmn-samples is not beside the project")
@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: str(p.relative_to(SAMPLES)))
def test_third_party_samples_are_accepted_or_refused_specifically(path: Path) -> None:
    try:
        compile_bpmn({path.name: path.read_bytes()}, {})
    except PathwayInvalidError as error:
        assert error.problems and all(p.message for p in error.problems)
