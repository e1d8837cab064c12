"""The region's processes: gunicorn app hosts, schedulers and the HL7 listener, each started
as production starts it, marked in its environment so that it and every process it starts
(gunicorn workers, their engine workers) can be found and killed together with SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mdt import PROJECT_ROOT

MARK = "MDT_REGION_PROCESS"


@dataclass
class Member:
    """One process of the region (``name`` e.g. "host-2"), and how to start it again."""

    name: str
    command: list[str]
    env: dict[str, str]
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    generation: int = 0

    @property
    def mark(self) -> str:
        return f"{self.name}.{self.generation}"


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def base_env(url: str, instance: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MDT_DATABASE_URL": url,
        "MDT_INSTANCE_PATH": str(instance),
        "MDT_SECRET_KEY": "r" * 40,
        "MDT_ENGINE_ISOLATION": "1",  # as production: pathway code in the engine workers
        "FLASK_APP": "wsgi:app",
    }


def app_host(name: str, port: int, env: dict[str, str], workers: int = 2) -> Member:
    command = [_bin("gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
    command += ["--log-level", "warning", "wsgi:app"]
    return Member(name, command, env, port)


def scheduler(name: str, env: dict[str, str]) -> Member:
    return Member(name, [_bin("flask"), "mdt", "scheduler"], env)


def hl7_listener(port: int, env: dict[str, str]) -> Member:
    command = [_bin("flask"), "mdt", "hl7-listener", "--port", str(port)]
    return Member("hl7-listener", command, env, port)


def start(member: Member, log_dir: Path) -> None:
    member.generation += 1
    log = (log_dir / f"{member.name}.log").open("ab")
    member.process = subprocess.Popen(
        member.command,
        cwd=PROJECT_ROOT,
        env={**member.env, MARK: member.mark},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as on its own machine
    )


def wait_listening(member: Member, timeout: float = 60.0) -> float:
    """Seconds until its port accepts connections (0 for a process without one)."""
    started = time.monotonic()
    if member.port is None:
        return 0.0
    while time.monotonic() - started < timeout:
        try:
            socket.create_connection(("127.0.0.1", member.port), timeout=1).close()
            return time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{member.name} did not listen on {member.port} in {timeout:.0f} s")


def marked(mark: str) -> list[int]:
    """Our own processes whose environment carries ``mark`` (a gunicorn worker's engine
    workers inherit it, wherever they are in the process tree)."""
    wanted = f"{MARK}={mark}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours
            continue
        if wanted in environ.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def kill_all(member: Member) -> int:
    """SIGKILL the member and every process it started, as a machine or a container dies;
    returns how many processes were killed."""
    pids = marked(member.mark)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if member.process is not None:
        member.process.wait(timeout=10)
    return len(pids)


def stop(member: Member) -> None:
    """The ordinary way: SIGTERM, then SIGKILL for what is left."""
    if member.process is None or member.process.poll() is not None:
        _kill_left(member.mark)
        return
    member.process.terminate()
    try:
        member.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        member.process.kill()
        member.process.wait(timeout=10)
    _kill_left(member.mark)


def _kill_left(mark: str) -> None:
    deadline = time.monotonic() + 5
    while marked(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in marked(mark):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
