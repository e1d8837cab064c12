"""The region's clients: threads completing tasks, registering patients and reading
worklists over the API, spread over the app hosts by a least-outstanding-requests balancer
in the client, and a PAS sending ADT messages to the HL7 listener. Every answer is logged
with its time; what was acknowledged (2xx, AA) is kept for the database proof."""

from __future__ import annotations

import http.client
import itertools
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import hl7
from hl7.client import MLLPClient

from mdt.benchmarks.region_checks import Acks

# Each client thread repeats this mix: 5 completions, 4 worklist reads, 1 registration.
MIX: tuple[str, ...] = ("complete", "worklist", "complete", "complete", "worklist")
MIX = MIX + MIX[:2] + ("register", "complete", "worklist")


@dataclass
class Answer:
    at: float  # seconds since the load began, when the answer came
    kind: str
    ok: bool
    status: int  # HTTP status; 0 = no answer (connection refused everywhere, or cut)
    host: int
    ms: float  # how long the client waited


@dataclass
class Work:
    """What the clients will do: tasks to complete (id, JSON body), NHS numbers to register,
    patients the PAS will send an address change for."""

    tasks: queue.Queue[tuple[int, dict[str, Any]]]
    numbers: queue.Queue[str]
    pas_patients: queue.Queue[str]


class Balancer:
    """Least outstanding requests, ties taken in turn (what nginx's ``least_conn``, HAProxy's
    ``leastconn`` or a cloud balancer's "least outstanding requests" do): a host that is slow
    to answer, such as one just restarted whose workers are still compiling the pathway,
    gets fewer requests instead of holding every client. An active health check
    (``health_checks``: GET /sign-in on each host every second, 2 s to answer) takes a host
    out until it answers, as a restarted one does once a worker has booted. A host that
    refuses a connection is passed over for a second too; a refused connection sent nothing,
    so the request goes to the next host. A request cut after it was sent is not retried: its
    outcome is unknown to the client, so it is not counted as acknowledged."""

    def __init__(self, ports: list[int], token: str):
        self.ports = ports
        self.token = token
        self._turn = itertools.count()
        self._down: dict[int, float] = {}
        self._outstanding = dict.fromkeys(ports, 0)
        self._unhealthy: set[int] = set()
        self._lock = threading.Lock()

    def _candidates(self) -> list[int]:
        now = time.monotonic()
        with self._lock:
            start = next(self._turn)
            turn = {p: (i - start) % len(self.ports) for i, p in enumerate(self.ports)}
            order = sorted(self.ports, key=lambda p: (self._outstanding[p], turn[p]))
            up = [p for p in order if self._down.get(p, 0) <= now and p not in self._unhealthy]
        return up or order

    def health_checks(self, stop: threading.Event, every: float = 1.0) -> None:
        """Probe every host each ``every`` seconds until ``stop`` (one thread per host, so a
        slow host does not delay the others' checks)."""

        def check(port: int) -> None:
            while not stop.wait(every):
                healthy = _answers_sign_in(port)
                with self._lock:
                    if healthy:
                        self._unhealthy.discard(port)
                    else:
                        self._unhealthy.add(port)

        for port in self.ports:
            threading.Thread(target=check, args=(port,), daemon=True).start()

    def _count(self, port: int, change: int) -> None:
        with self._lock:
            self._outstanding[port] += change

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, int]:
        """(status, decoded JSON or None, port); status 0 when no host answered."""
        data = json.dumps(body) if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        port = self.ports[0]
        for port in self._candidates():
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.connect()
            except OSError:
                with self._lock:
                    self._down[port] = time.monotonic() + 1.0
                continue
            self._count(port, 1)
            try:
                connection.request(method, path, body=data, headers=headers)
                response = connection.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                return 0, None, port  # sent, then cut: unknown outcome
            finally:
                connection.close()
                self._count(port, -1)
            try:
                return response.status, json.loads(raw) if raw else None, port
            except ValueError:
                return response.status, None, port
        return 0, None, port


def _answers_sign_in(port: int, timeout: float = 2.0) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/sign-in")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


@dataclass
class Load:
    balancer: Balancer
    work: Work
    hl7_port: int
    started: float = field(default_factory=time.monotonic)
    stop: threading.Event = field(default_factory=threading.Event)
    answers: list[Answer] = field(default_factory=list)
    acks: Acks = field(default_factory=Acks)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _log(self, kind: str, status: int, ok: bool, host: int, sent: float) -> None:
        now = time.monotonic()
        answer = Answer(now - self.started, kind, ok, status, host, (now - sent) * 1000)
        with self._lock:
            self.answers.append(answer)

    def client(self, offset: int) -> None:
        for step in itertools.count(offset):
            if self.stop.is_set():
                return
            kind = MIX[step % len(MIX)]
            if kind == "complete":
                self._complete()
            elif kind == "register":
                self._register()
            else:
                sent = time.monotonic()
                status, _, port = self.balancer.call("GET", "/api/v1/tasks?page_size=25")
                self._log("worklist", status, status == 200, port, sent)

    def _complete(self) -> None:
        try:
            task_id, body = self.work.tasks.get_nowait()
        except queue.Empty:
            return
        sent = time.monotonic()
        status, _, port = self.balancer.call("POST", f"/api/v1/tasks/{task_id}/complete", body)
        if status == 200:
            with self._lock:
                self.acks.completions.append(task_id)
        self._log("complete", status, status == 200, port, sent)

    def _register(self) -> None:
        try:
            number = self.work.numbers.get_nowait()
        except queue.Empty:
            return
        body = {
            "nhs_number": number,
            "given_name": "Region",
            "family_name": f"Client{number[-5:]}",
            "date_of_birth": "1961-02-03",
            "gp_practice": "Region Surgery",
        }
        sent = time.monotonic()
        status, answer, port = self.balancer.call("POST", "/api/v1/patients", body)
        if status == 201 and answer:
            with self._lock:
                self.acks.registrations.append((int(answer["id"]), number))
        self._log("register", status, status == 201, port, sent)

    def pas(self, per_second: float) -> None:
        """The PAS: address changes (ADT^A08), one patient each, at a steady rate."""
        for sequence in itertools.count(1):
            if self.stop.wait(1 / per_second):
                return
            try:
                number = self.work.pas_patients.get_nowait()
            except queue.Empty:
                return
            control, line = f"REGION{sequence:06d}", f"{sequence} Region Road"
            sent = time.monotonic()
            try:
                with MLLPClient("127.0.0.1", self.hl7_port) as pas:
                    reply = pas.send_message(address_change(control, number, line))
                ack = hl7.parse(reply.strip(b"\x0b\x1c\r").decode("utf-8"))
                code = str(ack["MSA.F1"])
            except (OSError, ValueError):
                code = ""
            if code == "AA":
                with self._lock:
                    self.acks.hl7.append((control, number, line))
            self._log("hl7", 200 if code else 0, code == "AA", self.hl7_port, sent)


def address_change(control_id: str, nhs_number: str, line: str) -> str:
    """An ADT^A08 (update patient information) with a new first address line."""
    return "\r".join(
        [
            f"MSH|^~\\&|PAS|RIVERSIDE|MDT|RIVERSIDE|20261130090000||ADT^A08^ADT_A01|"
            f"{control_id}|P|2.4",
            "EVN|A08|20261130090000",
            f"PID|1||{nhs_number}^^^NHS^NH||||||||{line}^^Leeds^^LS1 4AB",
        ]
    )


def run_clients(load: Load, clients: int, hl7_per_second: float) -> list[threading.Thread]:
    threads = [
        threading.Thread(target=load.client, args=(i * 3,), daemon=True) for i in range(clients)
    ]
    threads.append(threading.Thread(target=load.pas, args=(hl7_per_second,), daemon=True))
    load.started = time.monotonic()
    load.balancer.health_checks(load.stop)
    for thread in threads:
        thread.start()
    return threads
