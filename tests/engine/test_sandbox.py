"""Pathway scripts are untrusted code: escapes fail, bombs are stopped, the clock is enforced."""

from __future__ import annotations

import time

import pytest

from workflows import PathwayEngine, PathwayInvalidError, ScriptTimeoutError, WorkflowRunError
from workflows.errors import SandboxLimitError
from workflows.sandbox import SandboxEnvironment

from .bpmn_builders import FORM, chain, process, script, user_task
from .conftest import compile_bpmn

ESCAPES = [
    "import os\nos.system('touch /tmp/pwned')",
    "from os import system",
    "x = ().__class__.__bases__[0].__subclasses__()",
    "x = [c for c in ''.__class__.__mro__]",
    "x = getattr((), '__class__')",
    "open('/etc/passwd').read()",
    "x = '{0.__class__}'.format(1)",
    "x = __builtins__",
    "x = __import__('os')",
    "x = (lambda: 0).__globals__",
    "g = (i for i in [1])\nx = g.gi_frame",
    "x = type(1)",
    "eval('1')",
    "exec('x = 1')",
    "x = globals()",
    "try:\n    pass\nexcept Exception:\n    pass",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempts_fail(source: str) -> None:
    env = SandboxEnvironment({})
    with pytest.raises(Exception) as caught:
        env.execute(source, {})
    assert not isinstance(caught.value, AssertionError)


def test_a_diagram_that_imports_os_is_refused_at_upload() -> None:
    bpmn = process(chain(script("import os\nos.system('id')"), user_task()))
    with pytest.raises(PathwayInvalidError) as caught:
        compile_bpmn({"bad.bpmn": bpmn}, {"f.json": FORM})
    [problem] = caught.value.problems
    assert problem.element_id == "script" and problem.line
    assert "import is not allowed" in problem.message


@pytest.mark.parametrize(
    "source",
    [
        "x = ().__class__.__subclasses__()",
        "x = open('/etc/passwd')",
    ],
)
def test_escapes_inside_a_running_pathway_fail(source: str, tmp_path: object) -> None:
    # Compiles (so lint cannot catch the open() name) but fails safely at run time.
    bpmn = process(chain(user_task(), script(source)))
    try:
        pathway = compile_bpmn({"bad.bpmn": bpmn}, {"f.json": FORM})
    except PathwayInvalidError:
        return  # refused at upload: also safe
    run = PathwayEngine(pathway).start()
    with pytest.raises(WorkflowRunError):
        run.complete_task(run.ready_tasks()[0].id, {})


def test_a_condition_cannot_escape_either() -> None:
    body = (
        '<bpmn:startEvent id="start" /><bpmn:exclusiveGateway id="gw" default="f2" />'
        + user_task("a")
        + user_task("b")
        + '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="gw" targetRef="a"><bpmn:conditionExpression>'
        "().__class__.__subclasses__()</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="b" />'
    )
    with pytest.raises(PathwayInvalidError, match="__class__"):
        compile_bpmn({"bad.bpmn": process(body)}, {"f.json": FORM})


def test_an_endless_loop_is_stopped_within_the_limit() -> None:
    pathway = compile_bpmn(
        {"loop.bpmn": process(chain(user_task(), script("while True:\n    pass")))},
        {"f.json": FORM},
    )
    run = PathwayEngine(pathway, time_limit_seconds=0.2).start()
    started = time.monotonic()
    with pytest.raises(ScriptTimeoutError):
        run.complete_task(run.ready_tasks()[0].id, {})
    assert time.monotonic() - started < 2  # generous: the point is that it stops at all
    with pytest.raises(Exception, match="must not be saved"):
        run.state()


@pytest.mark.parametrize(
    "source",
    [
        "x = 10 ** 10 ** 8",
        "x = 'a' * 10 ** 9",
        "x = 1 << 10 ** 9",
        "x = list(range(10 ** 9))",
        "x = [0] * 10 ** 9",
    ],
)
def test_cpu_and_memory_bombs_are_refused(source: str) -> None:
    with pytest.raises(Exception, match="too large"):
        SandboxEnvironment({}).execute(source, {})


@pytest.mark.parametrize(
    "source",
    ["x = 'a'.ljust(10 ** 9)", "x = 'a'.center(10 ** 9)", "x = '1'.zfill(10 ** 9)"],
)
def test_a_bomb_inside_one_call_meets_the_memory_budget(source: str) -> None:
    """One C call that allocates a gigabyte: the time limit cannot interrupt it, the memory
    budget turns it into a clear refusal, and the process's own limit is restored."""
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    with pytest.raises(SandboxLimitError, match="more memory than a pathway may use"):
        SandboxEnvironment({}).execute(source, {})
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    context: dict = {}
    SandboxEnvironment({}).execute("x = 'a'.ljust(1000)", context)  # modest use still works
    assert len(context["x"]) == 1000


def test_scripts_keep_plain_data_and_may_use_helpers() -> None:
    context = {"hna": {"distress": 6}}
    env = SandboxEnvironment({"double": lambda v: v * 2})
    env.execute("flag = hna.get('distress', 0) >= 4\ntotal = double(3)\nitems = [1, 2]", context)
    assert context == {"hna": {"distress": 6}, "flag": True, "total": 6, "items": [1, 2]}


def test_scripts_cannot_leave_functions_or_objects_in_task_data() -> None:
    with pytest.raises(Exception, match="cannot be stored"):
        SandboxEnvironment({}).execute("x = range(3)", {})
