"""Timer lateness: thousands of waiting timers, some falling due while a real scheduler
process runs; how late is the follow-on task?"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from mdt import PROJECT_ROOT
from mdt.benchmarks.cohort import STAGES, clone, nhs_numbers
from mdt.benchmarks.measure import make_due
from mdt.extensions import db
from mdt.models import AuditEventModel, PatientModel, TimerModel


def timer_lateness(
    app: Flask,
    url: str,
    instance: Path,
    due: int = 500,
    window_s: float = 30.0,
    schedulers: int = 1,
    waiting_target: int = 10_000,
) -> dict[str, float]:
    with app.app_context():
        _top_up_timers(waiting_target)
        waiting = db.session.scalar(select(func.count(TimerModel.id))) or 0
        start = datetime.now(UTC) + timedelta(seconds=8)
        due_at = make_due(due, start, random.Random(17), timedelta(seconds=window_s))
        db.session.remove()
    env = {
        **os.environ,
        "MDT_DATABASE_URL": url,
        "MDT_INSTANCE_PATH": str(instance),
        "MDT_SECRET_KEY": "b" * 40,
        "FLASK_APP": "wsgi:app",
    }
    flask = str(Path(sys.executable).parent / "flask")
    processes = [
        subprocess.Popen(
            [flask, "mdt", "scheduler"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(schedulers)
    ]
    try:
        deadline = time.monotonic() + window_s + 60
        fired: dict[int, datetime] = {}
        while time.monotonic() < deadline and len(fired) < len(due_at):
            time.sleep(1)
            with app.app_context():
                fired_rows = db.session.execute(
                    select(AuditEventModel.object_id, func.max(AuditEventModel.at))
                    .where(
                        AuditEventModel.action == "pathway.timers_fired",
                        AuditEventModel.at >= start - timedelta(seconds=5),
                    )
                    .group_by(AuditEventModel.object_id)
                ).all()
                fired = {int(str(k)): v for k, v in fired_rows if int(str(k)) in due_at}
                db.session.remove()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    late = sorted((fired[i] - when).total_seconds() for i, when in due_at.items() if i in fired)
    return {
        "waiting_timers": waiting,
        "due_in_window": len(due_at),
        "fired": len(late),
        "lateness_p50_s": statistics.median(late) if late else float("nan"),
        "lateness_p95_s": late[int(len(late) * 0.95)] if late else float("nan"),
        "lateness_max_s": late[-1] if late else float("nan"),
        "schedulers": schedulers,
    }


def _top_up_timers(target: int) -> None:
    """More patients waiting on a key worker (each with an escalation timer) until there are
    ``target`` waiting timers in all."""
    waiting = db.session.scalar(select(func.count(TimerModel.id))) or 0
    if waiting >= target:
        return
    stage = [name for name, *_ in STAGES].index("allocating key worker")
    template = db.session.scalar(
        select(PatientModel.id).where(PatientModel.family_name == f"Stage{stage}")
    )
    clone([int(template or 0)], nhs_numbers(target - waiting, 9997000000))
