"""The region benchmark's figures from its answer log (``region_report.throughput``) and its
balancer's choice of host (``region_load.Balancer``), on crafted inputs."""

from __future__ import annotations

from mdt.benchmarks.region_load import Answer, Balancer
from mdt.benchmarks.region_report import render, summary, throughput

EVENTS = {
    "warm_up_s": 2.0,
    "killed_at_s": 6.0,
    "processes_killed": 10,
    "restarted_at_s": 8.0,
    "host_back_at_s": 8.0,
    "restarted_port": 5002.0,
    "processes_left_from_killed": 0,
}


def _answers(per_second: list[int], kind: str = "complete") -> list[Answer]:
    return [
        Answer(second + 0.5, kind, True, 200, 5001, 10.0)
        for second, count in enumerate(per_second)
        for _ in range(count)
    ]


def test_throughput_before_during_and_after_the_kill() -> None:
    # 10/s before, 5/s while the host is down, back to 10/s two seconds after the restart.
    answers = _answers([0, 0, 10, 10, 10, 10, 5, 5, 3, 6, 10, 10, 10, 10, 10, 10, 10, 10, 10])
    answers.append(Answer(7.0, "complete", False, 0, 5002, 99.0))  # cut by the kill
    figures = throughput(answers, EVENTS, seconds=18)
    assert figures["before_per_s"] == 10
    assert figures["during_per_s"] == 5
    assert figures["during_ratio"] == 0.5
    assert figures["recovered_s_after_restart"] == 2
    assert figures["answers"] == {"complete 0": 1, "complete 200": 149}


def test_no_recovery_is_reported_as_never() -> None:
    figures = throughput(_answers([0, 0, 10, 10, 10, 10] + [4] * 13), EVENTS, seconds=18)
    assert figures["recovered_s_after_restart"] is None
    result = {
        "meta": {
            "machine": "test",
            "command": "make bench-region",
            "duration_s": 60,
            "patients": 10,
            "clients": 1,
            "seconds": 18,
            "hl7_per_second": 1,
        },
        "events": EVENTS,
        "throughput": figures,
        "proof": {
            "ok": False,
            "problems": ["lost_hl7"],
            "acknowledged": {"completions": 1, "registrations": 0, "hl7": 1},
            "lost_completions": [],
            "lost_registrations": [],
            "lost_hl7": ["M1"],
            "timers_due": 0,
            "timers_fired_once": 0,
            "timers_fired_twice": [],
            "timers_never_fired": [],
            "timers_overdue": [],
            "duplicate_tasks": [],
            "duplicate_notifications": [],
            "held_locks": [],
            "hl7_unprocessed": [],
            "instances_paused": [],
        },
    }
    assert "| back to ≥ 95 % of before | never | ≤ 10 s **missed** |" in render(result)
    assert "**fails**: ['M1']" in render(result)
    assert "**the proof failed**: lost_hl7" in summary(result)


def test_the_balancer_prefers_the_host_with_fewest_requests_waiting() -> None:
    balancer = Balancer([5001, 5002, 5003], "token")
    assert [balancer._candidates()[0] for _ in range(3)] == [5001, 5002, 5003]
    balancer._count(5001, 1)
    balancer._count(5003, 2)
    assert balancer._candidates() == [5002, 5001, 5003]


def test_before_is_the_last_ten_seconds_before_the_kill() -> None:
    # A slow warm-up (nothing answered until second 8) does not count against "before".
    events = {**EVENTS, "killed_at_s": 20.0, "restarted_at_s": 22.0, "host_back_at_s": 22.0}
    figures = throughput(_answers([0] * 8 + [10] * 20), events, seconds=27)
    assert figures["before_per_s"] == 10
    assert figures["recovered_s_after_restart"] == 0


def test_the_balancer_sends_nothing_to_a_host_failing_its_health_check() -> None:
    balancer = Balancer([5001, 5002], "token")
    balancer._unhealthy.add(5001)
    assert [balancer._candidates() for _ in range(2)] == [[5002], [5002]]
    balancer._unhealthy.add(5002)  # every host failing: try them all rather than none
    assert sorted(balancer._candidates()) == [5001, 5002]
