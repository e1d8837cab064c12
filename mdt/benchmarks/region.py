"""`make bench-region`: a region on one PostgreSQL, under load, losing an app host and a
scheduler to SIGKILL mid-run, then proven from the database.

Three gunicorn app hosts (2 workers each, pathway code in the engine workers as in
production), two schedulers and the HL7 listener run as separate processes on one
PostgreSQL database with a seeded cohort. Client threads complete tasks, register patients
and read worklists over the API, spread over the hosts by a least-outstanding-requests
balancer in the client (a host that refuses connections is skipped for a second); a PAS thread sends ADT
address changes to the listener; timers fall due throughout for the schedulers. Mid-run one
host (all its processes) and one scheduler are killed with SIGKILL and restarted a few
seconds later. Throughput is reported per second before, during and after; then the
database must show every acknowledged change, no timer fired twice, no notification
duplicated and nothing left locked or half-done (``region_checks``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from mdt import PROJECT_ROOT
from mdt.benchmarks import region_procs as procs
from mdt.benchmarks.cohort import DECIDED_OUTSIDE, nhs_numbers
from mdt.benchmarks.load import free_port
from mdt.benchmarks.measure import make_due
from mdt.benchmarks.prepare import bench_app, fresh_database, populate
from mdt.benchmarks.region_checks import prove
from mdt.benchmarks.region_load import Balancer, Load, Work, run_clients
from mdt.benchmarks.region_report import render, throughput, write_report
from mdt.extensions import db
from mdt.models import HumanTaskModel, PatientModel, TaskStatus, TimerModel
from mdt.services.actor import SYSTEM
from mdt.services.api_tokens import create_token
from mdt.services.demo import example_answers
from mdt.services.outside_meetings import needs_declaration
from mdt.services.pathways import form_schema
from mdt.services.users import find_user
from workflows.isolation import stop_pools


def _declaration() -> dict[str, Any]:
    return {
        "reason": DECIDED_OUTSIDE.reason,
        "clinicians": [
            {"name": c.name, "discipline": c.discipline} for c in DECIDED_OUTSIDE.clinicians
        ],
    }


def _tasks(exclude: set[int], limit: int) -> queue.Queue[tuple[int, dict[str, Any]]]:
    """One ready task per patient (two people on one patient at once is a 409 the app
    reports, not throughput), none on the patients whose timers fall due in the run."""
    work: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
    first_ready = (
        select(func.min(HumanTaskModel.id))
        .where(
            HumanTaskModel.status == TaskStatus.READY, HumanTaskModel.instance_id.not_in(exclude)
        )
        .group_by(HumanTaskModel.instance_id)
        .limit(limit)
    )
    ids = list(db.session.scalars(first_ready))
    tasks = select(HumanTaskModel).where(HumanTaskModel.id.in_(ids)).order_by(HumanTaskModel.id)
    for task in db.session.scalars(tasks):
        schema = form_schema(task.instance.pathway_version, task.form) or {}
        body: dict[str, Any] = {"data": example_answers(schema)}
        if needs_declaration(task):
            body["outside_meeting"] = _declaration()
        work.put((task.id, json.loads(json.dumps(body, default=str))))
    return work


@dataclass
class Prepared:
    token: str  # the API token the clients use
    work: Work
    due: dict[int, Any]  # instances whose (single) timer falls due during the run


def _prepare(app: Flask, patients: int) -> Prepared:
    """A cohort, an API token, the clients' work, and timers falling due during the run."""
    populate(app, patients)
    with app.app_context():
        user = find_user("bench-all")
        assert user is not None
        _, token = create_token(SYSTEM, user.id, "region benchmark", days=30)
        # Chosen now (a day ahead: nothing fires), made due when the load begins (_arm).
        later = datetime.now(UTC) + timedelta(days=1)
        due = make_due(max(20, patients // 20), later, random.Random(23), one_per_instance=True)
        tasks = _tasks(set(due), limit=patients)
        pas: queue.Queue[str] = queue.Queue()
        for number in db.session.scalars(
            select(PatientModel.nhs_number).order_by(PatientModel.id).limit(patients)
        ):
            pas.put(number)
        numbers: queue.Queue[str] = queue.Queue()
        for number in nhs_numbers(patients, 9996000000):
            numbers.put(number)
        db.session.remove()
    return Prepared(token, Work(tasks, numbers, pas), due)


def _arm(app: Flask, instance_ids: list[int], seconds: float) -> None:
    """The chosen timers fall due from 2 s into the load to 80 % of its length."""
    with app.app_context():
        start = datetime.now(UTC) + timedelta(seconds=2)
        spread = timedelta(seconds=seconds * 0.8)
        make_due(len(instance_ids), start, random.Random(29), spread, instance_ids=instance_ids)
        db.session.remove()


def _members(env: dict[str, str], ports: list[int]) -> dict[str, procs.Member]:
    members = {f"host-{i + 1}": procs.app_host(f"host-{i + 1}", ports[i], env) for i in range(3)}
    members["scheduler-1"] = procs.scheduler("scheduler-1", env)
    members["scheduler-2"] = procs.scheduler("scheduler-2", env)
    members["hl7-listener"] = procs.hl7_listener(ports[3], env)
    return members


def _failure(
    load: Load, members: dict[str, procs.Member], logs: Path, args: argparse.Namespace
) -> dict[str, float]:
    """At ``args.kill_at`` SIGKILL host-2 and scheduler-1 (every process of each); restart
    them ``args.down`` later; returns when each thing happened (seconds since the load
    began; the first ``args.warm_up`` seconds, while each worker compiles the pathway and
    starts its engine workers, are not counted as "before")."""
    warm_up, kill_at, down_s = args.warm_up, args.kill_at, args.down
    time.sleep(max(0.0, kill_at - (time.monotonic() - load.started)))
    killed_at = time.monotonic() - load.started
    host, sched = members["host-2"], members["scheduler-1"]
    dead_marks = [host.mark, sched.mark]
    killed = procs.kill_all(host) + procs.kill_all(sched)
    time.sleep(down_s)
    restarted_at = time.monotonic() - load.started
    procs.start(host, logs)
    procs.start(sched, logs)
    procs.wait_listening(host)
    back_at = time.monotonic() - load.started
    leftovers = sum(len(procs.marked(mark)) for mark in dead_marks)
    return {
        "warm_up_s": warm_up,
        "killed_at_s": killed_at,
        "processes_killed": killed,
        "restarted_at_s": restarted_at,
        "host_back_at_s": back_at,
        "restarted_port": float(host.port or 0),
        "processes_left_from_killed": leftovers,
    }


def _settle(app: Flask, due_until: datetime, timeout: float = 60.0) -> float:
    """Wait until the schedulers have fired every timer due by ``due_until``."""
    started = time.monotonic()
    with app.app_context():
        while time.monotonic() - started < timeout:
            left = db.session.scalar(
                select(func.count(TimerModel.id)).where(TimerModel.due_at <= due_until)
            )
            db.session.remove()
            if not left:
                break
            time.sleep(0.5)
    return time.monotonic() - started


def _drive(
    app: Flask, members: dict[str, procs.Member], logs: Path, prepared: Prepared, args: Any
) -> dict[str, Any]:
    """Start the region, run the load with the kills, and prove the outcome."""
    for member in members.values():
        procs.start(member, logs)
    for member in members.values():
        procs.wait_listening(member)
    ports = [m.port or 0 for m in members.values() if m.name.startswith("host-")]
    load = Load(Balancer(ports, prepared.token), prepared.work, members["hl7-listener"].port or 0)
    since = datetime.now(UTC)
    _arm(app, list(prepared.due), args.seconds)
    threads = run_clients(load, args.clients, args.hl7_rate)
    events = _failure(load, members, logs, args)
    time.sleep(max(0.0, args.seconds - (time.monotonic() - load.started)))
    load.stop.set()
    for thread in threads:
        thread.join(timeout=60)
    ended = datetime.now(UTC)
    settle_s = _settle(app, ended)
    time.sleep(2)  # anything still in flight finishes before locks are looked at
    with app.app_context():
        proof = prove(db.session, load.acks, sorted(prepared.due), since, ended)
        db.session.remove()
    return {
        "settle_s": settle_s,
        "events": events,
        "throughput": throughput(load.answers, events, args.seconds),
        "proof": proof,
        # Every answer (seconds into the load, kind, status, port, ms waited): to look into.
        "answers": [
            [round(a.at, 3), a.kind, a.status, a.host, round(a.ms, 1)] for a in load.answers
        ],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mdt-region-") as tmp:
        instance = Path(tmp)
        url = fresh_database(args.postgres, instance, args.database)
        app = bench_app(url, instance)
        prepared = _prepare(app, args.patients)
        prepare_s = time.monotonic() - started
        base = args.port_base
        ports = [base + i for i in range(4)] if base else [free_port() for _ in range(4)]
        members = _members(procs.base_env(url, instance), ports)
        logs = Path(args.logs) if args.logs else instance
        logs.mkdir(parents=True, exist_ok=True)
        try:
            outcome = _drive(app, members, logs, prepared, args)
        finally:
            for member in members.values():
                procs.stop(member)
            stop_pools()
            with app.app_context():
                db.engine.dispose()
    meta = {
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "command": "make bench-region" + (" SMALL=1" if args.small else ""),
        "patients": args.patients,
        "seconds": args.seconds,
        "clients": args.clients,
        "hl7_per_second": args.hl7_rate,
        "prepare_s": prepare_s,
        "settle_s": outcome.pop("settle_s"),
        "duration_s": time.monotonic() - started,
    }
    return {"meta": meta, **outcome}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    small = os.environ.get("SMALL") == "1"
    parser.add_argument("--small", action="store_true", default=small)
    parser.add_argument("--patients", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--warm-up", type=float, help="seconds not counted as before")
    parser.add_argument("--kill-at", type=float, help="seconds into the load")
    parser.add_argument("--down", type=float, default=5.0, help="seconds before the restart")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--hl7-rate", type=float, default=4.0, help="ADT messages per second")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "MDT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--database", default=os.environ.get("MDT_REGION_DB", "mdt_region"))
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("PORT_BASE", "0")))
    parser.add_argument("--logs", help="keep the processes' logs in this folder")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs")
    args = parser.parse_args()
    args.patients = args.patients or (1000 if args.small else 5000)
    args.seconds = args.seconds or (50.0 if args.small else 90.0)
    args.warm_up = args.warm_up or (15.0 if args.small else 20.0)
    args.kill_at = args.kill_at or round(args.warm_up + (args.seconds - args.warm_up) * 0.4)
    result = run(args)
    print(render(result))
    out = PROJECT_ROOT / "artifacts" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "region.json").write_text(json.dumps(result, indent=1, default=str))
    if not args.no_report:
        docs = PROJECT_ROOT / "docs"
        write_report(docs / "performance.md", docs / "deploy.md", result)
    print(f"Done in {result['meta']['duration_s']:.0f} s; artifacts/bench/region.json")
    if not result["proof"]["ok"]:
        raise SystemExit(f"The database proof failed: {result['proof']['problems']}")


if __name__ == "__main__":
    main()
