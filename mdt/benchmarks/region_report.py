"""The region scenario's figures: successful operations per second before, during and after
the kills, how soon throughput came back, and the database proof, as a section of
docs/performance.md (between the region markers)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from mdt.benchmarks.region_load import Answer

START, END = "<!-- bench:region:start -->", "<!-- bench:region:end -->"
HTTP_KINDS = ("complete", "register", "worklist")


def _mean(per_second: list[int], start: float, end: float) -> float:
    window = per_second[int(start) : int(end)]
    return statistics.mean(window) if window else 0.0


def throughput(answers: list[Answer], events: dict[str, float], seconds: float) -> dict[str, Any]:
    """Successful HTTP operations (completions, registrations, worklist reads) per second,
    before the kill, from the kill to the restarted host answering, and after; the first
    second from which a 3-second mean is back at 95 % of before."""
    length = int(seconds) + 1
    ok = [0] * length
    completions = [0] * length
    for answer in answers:
        second = int(answer.at)
        if answer.ok and answer.kind in HTTP_KINDS and second < length:
            ok[second] += 1
            completions[second] += answer.kind == "complete"
    killed, back = events["killed_at_s"], events["host_back_at_s"]
    # Before: the last 10 seconds before the kill (a slow warm-up does not count against it).
    warm = max(events["warm_up_s"], killed - 10)
    before = _mean(ok, warm, killed)
    during = _mean(ok, killed, back)
    recovered_at = None
    for second in range(math.ceil(back), length - 3):
        if _mean(ok, second, second + 3) >= 0.95 * before:
            recovered_at = second
            break
    statuses = Counter(f"{a.kind} {a.status}" for a in answers)
    phases = {"before": (warm, killed), "during": (killed, back), "after": (back, length)}
    return {
        "per_second": ok,
        "completions_per_second": completions,
        "before_per_s": before,
        "during_per_s": during,
        "after_per_s": _mean(ok, back + 10, length - 1),
        "completions_before_per_s": _mean(completions, warm, killed),
        "during_ratio": during / before if before else 0.0,
        "recovered_s_after_restart": None if recovered_at is None else recovered_at - back,
        "answers": dict(sorted(statuses.items())),
        # Each fresh worker compiles the pathway and starts its engine workers on first use.
        "restarted_host_first_ms": [
            round(a.ms)
            for a in answers
            if a.host == events["restarted_port"] and a.at >= back and a.kind == "complete"
        ][:6],
        "completion_ms_p50": {
            phase: _p50(
                [a.ms for a in answers if a.kind == "complete" and a.ok and lo <= a.at < hi]
            )
            for phase, (lo, hi) in phases.items()
        },
    }


def _p50(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _ok(met: bool) -> str:
    return "met" if met else "**missed**"


def render(result: dict[str, Any]) -> str:
    meta, events, t, proof = result["meta"], result["events"], result["throughput"], result["proof"]
    recovered = t["recovered_s_after_restart"]
    lines = [
        f"Measured on {meta['machine']} by `{meta['command']}` "
        f"({meta['duration_s'] / 60:.1f} minutes): {meta['patients']:,} patients, "
        f"{meta['clients']} client threads for {meta['seconds']:.0f} s (the first "
        f"{events['warm_up_s']:.0f} s a warm-up while each worker compiles the pathway and "
        "starts its engine workers), "
        f"{meta['hl7_per_second']:.0f} ADT messages a second.",
        "",
        f"host-2 (its gunicorn master, workers and engine workers: "
        f"{events['processes_killed']} processes with scheduler-1) killed at "
        f"{events['killed_at_s']:.0f} s, both restarted at {events['restarted_at_s']:.0f} s, "
        f"host-2 accepting connections again at {events['host_back_at_s']:.0f} s; "
        f"{events['processes_left_from_killed']} processes of the killed ones left behind.",
        "",
        "| operations/s (completions, registrations, worklist reads) | measured | target |",
        "|---|---|---|",
        f"| before the kill (its last 10 s) | {t['before_per_s']:.1f} (completions "
        f"{t['completions_before_per_s']:.1f}) | |",
        f"| during (kill to host back) | {t['during_per_s']:.1f} ({t['during_ratio']:.0%} of "
        f"before) | ≥ 60 % {_ok(t['during_ratio'] >= 0.6)} |",
        f"| back to ≥ 95 % of before | "
        f"{'never' if recovered is None else f'{recovered:.0f} s after the restart'} | "
        f"≤ 10 s {_ok(recovered is not None and recovered <= 10)} |",
        f"| after (from 10 s after the restart) | {t['after_per_s']:.1f} | |",
        "",
        "A completion's wait at the client (p50, ms): "
        + ", ".join(
            f"{phase} {'—' if ms is None else f'{ms:.0f}'}"
            for phase, ms in t["completion_ms_p50"].items()
        )
        + ".",
        "",
        "Operations per second, second by second: " + " ".join(str(n) for n in t["per_second"]),
        "",
        "Answers by kind and status (0: no answer, the request was cut by the kill): "
        + ", ".join(f"{k}: {v}" for k, v in t["answers"].items())
        + ". The restarted host's first completions (ms): "
        + (", ".join(str(ms) for ms in t["restarted_host_first_ms"]) or "none")
        + ".",
        "",
        "| proof from the database | result |",
        "|---|---|",
    ]
    acked = proof["acknowledged"]
    rows = [
        (
            f"{acked['completions']} completions answered 200 are completed and audited once",
            proof["lost_completions"],
        ),
        (
            f"{acked['registrations']} registrations answered 201 are stored with a pathway",
            proof["lost_registrations"],
        ),
        (f"{acked['hl7']} ADT messages answered AA are applied", proof["lost_hl7"]),
        (
            f"{proof['timers_due']} timers fell due: none fired twice "
            f"({proof['timers_fired_once']} fired once)",
            proof["timers_fired_twice"],
        ),
        ("every timer due was fired", proof["timers_never_fired"] + proof["timers_overdue"]),
        ("no pathway step made twice (task rows)", proof["duplicate_tasks"]),
        ("no notification made twice", proof["duplicate_notifications"]),
        ("no session left holding locks (PostgreSQL)", proof["held_locks"]),
        ("no HL7 message left claimed but unprocessed", proof["hl7_unprocessed"]),
        ("no pathway paused by the kills", proof["instances_paused"]),
    ]
    for words, offenders in rows:
        lines.append(
            f"| {words} | {'holds' if not offenders else f'**fails**: {offenders[:10]}'} |"
        )
    return "\n".join(lines)


def summary(result: dict[str, Any]) -> str:
    """A few lines for docs/deploy.md."""
    t, proof = result["throughput"], result["proof"]
    recovered = t["recovered_s_after_restart"]
    acked = proof["acknowledged"]
    first = t["restarted_host_first_ms"]
    return "\n".join(
        [
            f"- {t['before_per_s']:.0f} operations a second before the kill "
            f"({t['completions_before_per_s']:.0f} completions), {t['during_per_s']:.0f} "
            f"({t['during_ratio']:.0%}) while the host was down, back to 95 % "
            + ("never" if recovered is None else f"{recovered:.0f} s after the restart")
            + (
                f" (the restarted host's first completion took {first[0] / 1000:.0f} s: its "
                "workers start, compile the pathway and start their engine workers)."
                if first
                else "."
            ),
            f"- {acked['completions']:,} completions, {acked['registrations']:,} registrations "
            f"and {acked['hl7']:,} ADT messages acknowledged: "
            + (
                "every one is in the database; no timer fired twice, no notification "
                "duplicated, nothing left locked."
                if proof["ok"]
                else f"**the proof failed**: {', '.join(proof['problems'])}."
            ),
            f"- Measured by `{result['meta']['command']}` on {result['meta']['machine']}.",
        ]
    )


def _between(path: Path, start: str, end: str, body: str) -> None:
    text = path.read_text()
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    path.write_text(f"{before}{start}\n{body}\n{end}{after}")


def write_report(performance: Path, deploy: Path, result: dict[str, Any]) -> None:
    _between(performance, START, END, render(result))
    _between(
        deploy,
        "<!-- bench:region-summary:start -->",
        "<!-- bench:region-summary:end -->",
        summary(result),
    )
