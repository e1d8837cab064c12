"""Benchmark results as the tables of docs/performance.md (between the bench markers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _ok(value: float, target: float, lower_is_better: bool = True) -> str:
    met = value <= target if lower_is_better else value >= target
    return "met" if met else "**missed**"


def render(meta: dict[str, Any], results: list[dict[str, Any]]) -> str:
    lines = [
        f"Measured on {meta['machine']} by `{meta['command']}` "
        f"({meta['duration_s'] / 60:.1f} minutes).",
        "",
    ]
    lines += [
        "| database | patients | worklist p50 / p95 (ms) | target p95 ≤ 20 | "
        "patient page p50 / p95 | target p95 ≤ 50 | complete p50 / p95 (HTTP) | "
        "bare engine p50 | ratio | target ≤ 2× | starts/s | scheduler ms per instance |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        worst = max(r["worklist"].values(), key=lambda w: w["p95_ms"])
        lines.append(
            f"| {r['database']} | {r['patients']:,} | {worst['p50_ms']:.1f} / "
            f"{worst['p95_ms']:.1f} | {_ok(worst['p95_ms'], 20)} | "
            f"{r['patient_page']['p50_ms']:.1f} / {r['patient_page']['p95_ms']:.1f} | "
            f"{_ok(r['patient_page']['p95_ms'], 50)} | {r['complete_http']['p50_ms']:.1f} / "
            f"{r['complete_http']['p95_ms']:.1f} | {r['complete_bare_engine']['p50_ms']:.1f} | "
            f"{r['complete_ratio_p50']:.2f}× | {_ok(r['complete_ratio_p50'], 2)} | "
            f"{r['starts_per_s']:.0f} | {r['scheduler_pass']['per_instance_ms']:.1f} |"
        )
    lines += [
        "",
        "Worklist: the slowest of the coordinator, CNS and oncologist lists.",
        "",
        "| database | patients | standards dashboard p50 / p95 (ms) | target ≤ 300 | "
        "MDT meeting list build p50 / p95 | MDT meeting report p50 / p95 |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        d, m, k = r["dashboard"], r["meeting_list"], r["meeting_report"]
        lines.append(
            f"| {r['database']} | {r['patients']:,} | {d['p50_ms']:.0f} / {d['p95_ms']:.0f} | "
            f"{_ok(d['p95_ms'], 300)} | {m['p50_ms']:.0f} / {m['p95_ms']:.0f} | "
            f"{k['p50_ms']:.0f} / {k['p95_ms']:.0f} |"
        )
    lines += [
        "",
        "Dashboard: all eleven standards (17 measures with monthly trends) over the last "
        "twelve months. Meeting list: the coordinator's page for the next meeting, its first "
        "page of the patients the pathway holds at MDT review (25 of about 2,000 at 10,000 "
        "patients). Meeting report: a year of weekly "
        "meetings (20 patients each) with quoracy, outcomes, GP letters and attendance.",
        "",
        "| database | patients | state bytes mean / p95 | target ≤ 20 KB | "
        "database bytes per patient |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        s = r["storage"]
        lines.append(
            f"| {r['database']} | {r['patients']:,} | {s['state_bytes_mean']:,.0f} / "
            f"{s['state_bytes_p95']:,} | {_ok(s['state_bytes_p95'], 20 * 1024)} | "
            f"{s['database_bytes_per_patient']:,.0f} |"
        )
    timed = [r for r in results if "timers" in r]
    if timed:
        lines += [
            "",
            "| database | waiting timers | due during the run | fired | lateness p50 / "
            "p95 / max (s) | target p95 ≤ 2 s |",
            "|---|---|---|---|---|---|",
        ]
        for r in timed:
            t = r["timers"]
            lines.append(
                f"| {r['database']} | {t['waiting_timers']:,} | {t['due_in_window']} | "
                f"{t['fired']} | {t['lateness_p50_s']:.2f} / {t['lateness_p95_s']:.2f} / "
                f"{t['lateness_max_s']:.2f} | {_ok(t['lateness_p95_s'], 2)} |"
            )
    loaded = [r for r in results if "load" in r]
    if loaded:
        lines += [
            "",
            "| database | patients | gunicorn workers | clients | completions/s | "
            "target ≥ 150 | error rate | worker peak RSS (MB) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in loaded:
            load = r["load"]
            lines.append(
                f"| {r['database']} | {r['patients']:,} | {load['workers']} | "
                f"{load['clients']} | {load['completions_per_s']:.0f} | "
                f"{_ok(load['completions_per_s'], 150, lower_is_better=False)} | "
                f"{load['error_rate']:.1%} | {load['worker_peak_rss_mb']:.0f} |"
            )
    return "\n".join(lines)


def write_report(path: Path, meta: dict[str, Any], results: list[dict[str, Any]]) -> None:
    text = path.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{START}\n{render(meta, results)}\n{END}{after}")
