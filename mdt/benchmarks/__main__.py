"""`python -m mdt.benchmarks` (what `make bench` runs): every measurement at each cohort size,
on SQLite and on PostgreSQL, written to artifacts/bench/results.json and docs/performance.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import Flask

from mdt import PROJECT_ROOT
from mdt.benchmarks import breakdown, measure, search
from mdt.benchmarks.cohort import nhs_numbers
from mdt.benchmarks.load import load_test
from mdt.benchmarks.prepare import bench_app, fresh_database, populate
from mdt.benchmarks.report import write_report
from mdt.benchmarks.timers import timer_lateness
from mdt.extensions import db
from mdt.services.actor import actor_for
from mdt.services.users import find_user


def run_size(
    database: str,
    url: str | None,
    size: int,
    instance: Path,
    lateness: bool,
    load: bool,
    load_seconds: float,
    db_name: str = "mdt_bench",
    small: bool = False,
) -> dict[str, Any]:
    target = fresh_database(url, instance, db_name)
    app = bench_app(target, instance)
    result: dict[str, Any] = {"database": database, "patients": size}
    result.update(populate(app, size))
    with app.app_context(), breakdown.instrumented(db.engine):
        result.update(_in_process(app, size))
        db.session.remove()
    if lateness:
        quick = {"due": 100, "window_s": 15.0, "waiting_target": 2000} if small else {}
        result["timers"] = timer_lateness(app, target, instance, **quick)  # type: ignore[arg-type]
    if load:
        result["load"] = load_test(app, target, instance, seconds=load_seconds)
    with app.app_context():
        db.engine.dispose()
    return result


def _in_process(app: Flask, size: int) -> dict[str, Any]:
    """Everything measured in this process, each timing split into the engine's share, SQL
    and the rest; worklist and completion again with the engine workers off (isolation's
    cost)."""
    result: dict[str, Any] = {}
    lists = measure.worklists(app)
    result["worklist"] = {role: t.figures() for role, t in lists.items()}
    result["patient_page"] = measure.patient_pages(app).figures()
    for name, url in (
        ("dashboard", "/reports/standards"),
        ("meeting_report", "/reports/meetings"),
        ("meeting_list", measure.planned_meeting_url()),
    ):
        result[name] = measure.page_timing(app, url).figures()
    http, bare = measure.completions(app)
    result["complete_http"] = http.figures()
    result["complete_bare_engine"] = bare.figures()
    result["complete_ratio_p50"] = http.p50 / bare.p50
    with measure.isolation(False):
        lists = measure.worklists(app, rounds=40)
        http_off, _ = measure.completions(app, count=100, seed=6)
    result["isolation_off"] = {
        "worklist": {role: t.figures() for role, t in lists.items()},
        "complete_http": http_off.figures(),
    }
    actor = actor_for(find_user("bench-all"))
    result["starts_per_s"] = measure.start_rate(actor, nhs_numbers(100, 9998000000))
    pass_ms, fired = measure.scheduler_pass()
    result["scheduler_pass"] = {
        "instances": fired,
        "total_ms": pass_ms,
        "per_instance_ms": pass_ms / max(fired, 1),
    }
    result["storage"] = measure.storage(size)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--big", action="store_true", help="also 50,000 patients")
    parser.add_argument(
        "--small",
        action="store_true",
        help="a quick check that everything runs: 500 patients, 5 s of load, search on 2,000",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "MDT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="server to create the mdt_bench database on ('' to skip PostgreSQL)",
    )
    parser.add_argument("--load-seconds", type=float)
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs")
    args = parser.parse_args()
    base = args.sizes or ([500] if args.small else [1000, 10000])
    sizes = sorted(set(base + ([50000] if args.big else [])))
    command = "make bench" + (" BIG=1" if args.big else "") + (" SMALL=1" if args.small else "")
    load_seconds = args.load_seconds or (5.0 if args.small else 20.0)
    run_benchmarks(
        sizes,
        max(base),
        args.postgres,
        load_seconds,
        command,
        args.no_report,
        search_size=2000 if args.small else search.SIZE,
        small=args.small,
    )


def run_benchmarks(
    sizes: list[int],
    heavy_size: int,
    postgres: str,
    load_seconds: float,
    command: str,
    no_report: bool = False,
    search_size: int = search.SIZE,
    small: bool = False,
) -> None:
    """Measure each cohort size on SQLite (and PostgreSQL when a server URL is given); timer
    lateness and the load test run at ``heavy_size`` only."""
    started = time.monotonic()
    results = []
    databases = [("SQLite", None)] + ([("PostgreSQL", postgres)] if postgres else [])
    with tempfile.TemporaryDirectory(prefix="mdt-bench-") as tmp:
        for name, url in databases:
            for size in sizes:
                print(f"== {name}, {size:,} patients", flush=True)
                largest = size == heavy_size
                result = run_size(
                    name,
                    url,
                    size,
                    Path(tmp),
                    lateness=largest,
                    load=largest and name == "PostgreSQL",
                    load_seconds=load_seconds,
                    db_name=os.environ.get("MDT_BENCH_DB", "mdt_bench"),
                    small=small,
                )
                print(json.dumps(result, indent=1, default=str), flush=True)
                results.append(result)
        # Finding a patient among 50,000, on each database (its own patients-only database).
        searches = search.run(databases, Path(tmp), size=search_size)
    meta = {
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "duration_s": time.monotonic() - started,
        "command": command,
    }
    out = PROJECT_ROOT / "artifacts" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "results": results, "search": searches}, indent=1, default=str)
    )
    if not no_report:
        write_report(PROJECT_ROOT / "docs" / "performance.md", meta, results)
        search.write_report(
            PROJECT_ROOT / "docs" / "performance.md", searches, str(meta["machine"])
        )
    print(f"Done in {meta['duration_s']:.0f} s; results in artifacts/bench/results.json")


if __name__ == "__main__":
    main()
