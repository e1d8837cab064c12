"""Benchmark results as the tables of docs/performance.md (between the bench markers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _ok(value: float, target: float, lower_is_better: bool = True) -> str:
    met = value <= target if lower_is_better else value >= target
    return "met" if met else "**missed**"


# Issue 25's targets: completing a task over HTTP (engine workers included) against the
# bare engine step, per database; registration and start per second on SQLite.
RATIO_TARGET = {"SQLite": 2.5, "PostgreSQL": 3.5}
WORKLIST_P95, PAGE_P95, STARTS_PER_S, LOAD_PER_S = 15, 30, 150, 100


def _worst(result: dict[str, Any]) -> dict[str, float]:
    return max(result["worklist"].values(), key=lambda w: w["p95_ms"])


def _starts(r: dict[str, Any]) -> str:
    if r["database"] != "SQLite":
        return f"{r['starts_per_s']:.0f} | — |"
    return f"{r['starts_per_s']:.0f} | {_ok(r['starts_per_s'], STARTS_PER_S, False)} |"


def render(meta: dict[str, Any], results: list[dict[str, Any]]) -> str:
    lines = [
        f"Measured on {meta['machine']} by `{meta['command']}` "
        f"({meta['duration_s'] / 60:.1f} minutes). Pathway code runs in the engine workers "
        "(`MDT_ENGINE_ISOLATION=1`, as production) unless a column says otherwise; the bare "
        "engine step runs in process.",
        "",
    ]
    lines += [
        f"| database | patients | worklist p50 / p95 (ms) | target p95 ≤ {WORKLIST_P95} | "
        f"patient page p50 / p95 | target p95 ≤ {PAGE_P95} | complete p50 / p95 (HTTP) | "
        "bare engine p50 | ratio | target ≤ 2.5× SQLite, 3.5× PostgreSQL | "
        f"starts/s | target ≥ {STARTS_PER_S} (SQLite) | scheduler ms per instance |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        worst = _worst(r)
        ratio_target = RATIO_TARGET.get(r["database"], 2.5)
        lines.append(
            f"| {r['database']} | {r['patients']:,} | {worst['p50_ms']:.1f} / "
            f"{worst['p95_ms']:.1f} | {_ok(worst['p95_ms'], WORKLIST_P95)} | "
            f"{r['patient_page']['p50_ms']:.1f} / {r['patient_page']['p95_ms']:.1f} | "
            f"{_ok(r['patient_page']['p95_ms'], PAGE_P95)} | {r['complete_http']['p50_ms']:.1f} / "
            f"{r['complete_http']['p95_ms']:.1f} | {r['complete_bare_engine']['p50_ms']:.1f} | "
            f"{r['complete_ratio_p50']:.2f}× | {_ok(r['complete_ratio_p50'], ratio_target)} | "
            f"{_starts(r)} {r['scheduler_pass']['per_instance_ms']:.1f} |"
        )
    lines += ["", "Worklist: the slowest of the coordinator, CNS and oncologist lists."]
    lines += ["", *_where_time_goes(results), "", *_isolation(results)]
    return _more(lines, results)


def _where_time_goes(results: list[dict[str, Any]]) -> list[str]:
    """Each measure's median split: the engine facade (through the engine workers), SQL
    statements, and the rest (HTTP, Flask, validation, ORM loading, rendering)."""
    lines = [
        "Where the time goes (medians per request, ms): the engine (the `workflows` facade: "
        "restore, run, dump, through the engine workers), SQL (each statement's execution; on "
        "SQLite rows produced while they are fetched count as the rest) "
        "and the rest (HTTP and Flask, validation, ORM loading, projections' Python, "
        "rendering). The parts are medians of each part, so they need not add up to the total.",
        "",
        "| database | patients | measure | p50 | engine | SQL | rest |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        measures = [
            ("complete a task (HTTP)", r["complete_http"]),
            ("bare engine step", r["complete_bare_engine"]),
            ("worklist (slowest role)", _worst(r)),
            ("patient page", r["patient_page"]),
            ("standards dashboard", r["dashboard"]),
        ]
        for name, m in measures:
            if "engine_p50_ms" not in m:
                continue
            lines.append(
                f"| {r['database']} | {r['patients']:,} | {name} | {m['p50_ms']:.1f} | "
                f"{m['engine_p50_ms']:.1f} | {m['sql_p50_ms']:.1f} | {m['rest_p50_ms']:.1f} |"
            )
    return lines


def _isolation(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "Isolation's cost: the same measures with pathway code in the engine workers "
        "(on, as production) and in the web process (off).",
        "",
        "| database | patients | complete p50 on / off (ms) | difference | engine share on / "
        "off | worklist p95 on / off |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        off = r.get("isolation_off")
        if not off:
            continue
        on_c, off_c = r["complete_http"], off["complete_http"]
        on_w = _worst(r)
        off_w = max(off["worklist"].values(), key=lambda w: w["p95_ms"])
        lines.append(
            f"| {r['database']} | {r['patients']:,} | {on_c['p50_ms']:.1f} / "
            f"{off_c['p50_ms']:.1f} | {on_c['p50_ms'] - off_c['p50_ms']:+.1f} | "
            f"{on_c.get('engine_p50_ms', 0):.1f} / {off_c.get('engine_p50_ms', 0):.1f} | "
            f"{on_w['p95_ms']:.1f} / {off_w['p95_ms']:.1f} |"
        )
    return lines


def _more(lines: list[str], results: list[dict[str, Any]]) -> str:
    lines += [
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
            "| database | patients | gunicorn workers | clients | completions/s | per core | "
            f"target ≥ {LOAD_PER_S} | error rate | target 0 % | worker peak RSS (MB) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in loaded:
            load = r["load"]
            rate = load["completions_per_s"]
            lines.append(
                f"| {r['database']} | {r['patients']:,} | {load['workers']} | "
                f"{load['clients']} | {rate:.0f} | {rate / load.get('cores', 2):.0f} | "
                f"{_ok(rate, LOAD_PER_S, lower_is_better=False)} | "
                f"{load['error_rate']:.1%} | {_ok(load['error_rate'], 0)} | "
                f"{load['worker_peak_rss_mb']:.0f} |"
            )
    return "\n".join(lines)


def write_report(path: Path, meta: dict[str, Any], results: list[dict[str, Any]]) -> None:
    text = path.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{START}\n{render(meta, results)}\n{END}{after}")
