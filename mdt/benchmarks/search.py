"""Finding a patient among 50,000 (what `make bench` measures for search, on SQLite and on
PostgreSQL): a fresh database holding only patients (names from many languages, with
accents, hyphens and apostrophes; hospital numbers; the identifiers registration records; one
record in a hundred merged into another), then each kind of search staff type, through the
service (query, audit row, commit) and through the whole Flask stack (GET /patients?q=).

    python -m mdt.benchmarks.search                 # 50,000 patients, both databases
    python -m mdt.benchmarks.search --size 10000 --postgres ''   # SQLite only

The figures replace the search section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Sequence
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, insert, text, update

from mdt import PROJECT_ROOT, clock
from mdt.benchmarks.cohort import nhs_numbers
from mdt.benchmarks.measure import PASSWORD, Timing, signed_in
from mdt.benchmarks.prepare import _analyse, bench_app, fresh_database
from mdt.extensions import db
from mdt.models import PatientIdentifierModel, PatientModel
from mdt.services.actor import SYSTEM, actor_for
from mdt.services.patient_identity import search_name
from mdt.services.patients import find_patients
from mdt.services.users import create_user, find_user

START, END = "<!-- bench:search:start -->", "<!-- bench:search:end -->"
SIZE = 50_000
GIVEN = ["Ada", "Grace", "Mary", "Edith", "Élise", "Zoë", "Siobhán", "Aoife", "Priya",
         "Fatima", "Olga", "Mei", "Ngozi", "Chloé", "Anna-Maria", "Jo", "Bríd", "Małgorzata",
         "Renée", "Hannah", "Yasmin", "Ioana", "Keisha", "Sarah", "Dorothy", "Helen",
         "Margaret", "Susan", "Linda", "Patricia", "Elizabeth", "Jennifer", "Barbara",
         "Amira", "Leila", "Sunita", "Deepa", "Ayesha", "Nadia", "Eilidh", "Catrin", "Sinéad",
         "Kateřina", "Agnieszka", "Beatriz", "Inés", "Lucía", "Søren", "Åsa", "Maeve"]  # fmt: skip
FAMILY = ["Smith", "Jones", "Cavell", "Nightingale", "O'Brien", "McDonald", "de la Cruz",
          "Patel", "Khan", "Wong", "Nowak", "Müller", "García", "Taylor", "Brown",
          "Smith-Jones", "Ó Súilleabháin", "Nguyễn", "Okafor", "Kowalczyk", "Williams",
          "Davies", "Evans", "Thomas", "Roberts", "Hughes", "Lewis", "Walker", "Wright",
          "Green", "Hall", "Wood", "Clarke", "Jackson", "Turner", "Hill", "Moore"]  # fmt: skip


# Family names made from the list and an ending (Lewis, Lewiston, Lewisfield...): about 600
# different ones, so a whole name finds a handful of people, as in a real hospital.
ENDINGS = ["", "", "", "s", "er", "ton", "ley", "field", "wood", "by", "ham", "well", "more",
           "worth", "ford", "man"]  # fmt: skip


def build(size: int, seed: int = 17) -> dict[str, Any]:
    """``size`` patients in bulk, the identifiers registration records, 1% merged; returns
    the probes to search for (a patient's names, numbers and date of birth)."""
    rng = random.Random(seed)
    numbers = nhs_numbers(size, 9970000000)
    patients: list[dict[str, Any]] = []
    identifiers: list[dict[str, Any]] = []
    for index, number in enumerate(numbers):
        given = rng.choice(GIVEN)
        # Family names repeat as in life; a suffix keeps most people apart.
        family = rng.choice(FAMILY) + rng.choice(ENDINGS)
        patients.append(
            {
                "id": index + 1,
                "nhs_number": number,
                "given_name": given,
                "family_name": family,
                "search_name": search_name(given, family),
                "date_of_birth": date(1930, 1, 1) + timedelta(days=rng.randrange(60 * 365)),
                "sex": "female",
                "mrn": f"RXH{index + 1:07d}",
                "created_at": clock.now(),
            }
        )
        identifiers.append(
            {"patient_id": index + 1, "system": "nhs", "value": number,
             "source": "registration", "recorded_at": clock.now()}
        )  # fmt: skip
        identifiers.append(
            {"patient_id": index + 1, "system": "mrn", "value": f"RXH{index + 1:07d}",
             "source": "registration", "recorded_at": clock.now()}
        )  # fmt: skip
    for start in range(0, size, 5000):
        db.session.execute(insert(PatientModel.__table__), patients[start : start + 5000])
        db.session.execute(
            insert(PatientIdentifierModel.__table__), identifiers[2 * start : 2 * start + 10000]
        )
    for merged in range(2, size, 100):  # record n+1 folded into record n
        db.session.execute(
            update(PatientModel).where(PatientModel.id == merged + 1).values(merged_into_id=merged)
        )
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            db.text(
                "SELECT setval(pg_get_serial_sequence('patient', 'id'), "
                "(SELECT max(id) FROM patient))"
            )
        )
    create_user(SYSTEM, "bench-search", "Bench Search", ["coordinator"], PASSWORD)
    db.session.commit()
    # A patient from the middle whose family name has an ending (as most do).
    probe = next(
        p
        for p in patients[size // 2 + 1 :]
        if p["family_name"] not in FAMILY and p["id"] % 100 != 3
    )
    merged_away = patients[(size // 200) * 100 + 2]  # merged into the record before it
    assert db.session.get(PatientModel, merged_away["id"]).merged_into_id is not None  # type: ignore[union-attr]
    born = probe["date_of_birth"]
    first, family = probe["given_name"], probe["family_name"]
    return {
        "full name": f"{first} {family}",
        "names reversed": f"{family}, {first}",
        "starts of names": f"{family[:3]} {first[:3]}",
        "family name only": family,
        "NHS number, spaced": f"{probe['nhs_number'][:3]} {probe['nhs_number'][3:6]} "
        f"{probe['nhs_number'][6:]}",
        "NHS number, first 6 digits": f"{probe['nhs_number'][:3]} {probe['nhs_number'][3:6]}",
        "date of birth": born.strftime("%d/%m/%Y"),
        "date of birth in words": f"{born.day} {born.strftime('%B %Y')}",
        "hospital number": probe["mrn"].lower(),
        "merged record's NHS number": merged_away["nhs_number"],
        "nobody": "Zzyzx Qwerty",
        "a wildcard": "%",
    }


def measure(app: Flask, probes: dict[str, str], rounds: int = 30) -> dict[str, Any]:
    actor = actor_for(find_user("bench-search"))
    client = signed_in(app, "bench-search")
    results: dict[str, Any] = {}
    for kind, query in probes.items():
        for _ in range(3):  # warm up: statements prepared, pages cached
            found = find_patients(actor, query)
            client.get("/patients", query_string={"q": query})
        service, page = Timing(), Timing()
        for _ in range(rounds):
            service.time(partial(find_patients, actor, query))
            response = page.time(partial(client.get, "/patients", query_string={"q": query}))
            assert response.status_code == 200
        results[kind] = {
            "query": query,
            "found": len(found),
            "service_p50_ms": service.p50,
            "service_p95_ms": service.p95,
            "page_p50_ms": page.p50,
            "page_p95_ms": page.p95,
        }
    return results


def run(
    databases: Sequence[tuple[str, str | None]],
    instance: Path,
    size: int = SIZE,
    reuse: bool = False,
) -> list[dict[str, Any]]:
    results = []
    for name, url in databases:
        print(f"== search, {name}, {size:,} patients", flush=True)
        target = _fresh(url, instance, reuse)
        app = bench_app(target, instance)
        with app.app_context():
            started = time.perf_counter()
            probes = build(size)
            db.session.remove()
            _analyse()
            built = time.perf_counter() - started
            figures = measure(app, probes)
            db.session.remove()
            db.engine.dispose()
        results.append({"database": name, "patients": size, "build_s": built, "kinds": figures})
    return results


def _fresh(url: str | None, instance: Path, reuse: bool = False) -> str:
    """A new SQLite file, or the PostgreSQL database mdt_bench_search made on the server
    at ``url`` (its own name, so a search run never drops the main benchmark's mdt_bench);
    ``reuse``: ``url`` is a database of your own, emptied (its public schema replaced)."""
    if not url:
        return fresh_database(None, instance)
    name = os.environ.get("MDT_BENCH_DB", "mdt_bench") + "_search"
    admin = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        if reuse:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url if reuse else url.rsplit("/", 1)[0] + "/" + name


def render(results: list[dict[str, Any]]) -> str:
    lines = [
        "| search | typed | "
        + " | ".join(f"{r['database']} found / service p50 / p95 / page p95 (ms)" for r in results)
        + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for kind in results[0]["kinds"]:
        cells = []
        for r in results:
            k = r["kinds"][kind]
            cells.append(
                f"{k['found']} / {k['service_p50_ms']:.1f} / {k['service_p95_ms']:.1f} / "
                f"{k['page_p95_ms']:.1f}"
            )
        query = results[0]["kinds"][kind]["query"]
        lines.append(f"| {kind} | `{query}` | " + " | ".join(cells) + " |")
    sizes = ", ".join(f"{r['database']} {r['patients']:,}" for r in results)
    return f"Patients: {sizes}.\n\n" + "\n".join(lines)


def write_report(path: Path, results: list[dict[str, Any]], machine: str) -> None:
    text = path.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    body = f"Measured on {machine}.\n\n{render(results)}"
    path.write_text(f"{before}{START}\n{body}\n{END}{after}")


def main() -> None:
    import platform

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "MDT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="--postgres names a database of your own: empty it and use it",
    )
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    databases = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    with tempfile.TemporaryDirectory(prefix="mdt-bench-search-") as tmp:
        results = run(databases, Path(tmp), args.size, args.reuse)
    for r in results:
        print(r["database"], f"built in {r['build_s']:.1f} s")
        for kind, k in r["kinds"].items():
            print(f"  {kind:32} {k['found']:3} found  service p50 {k['service_p50_ms']:.1f} "
                  f"p95 {k['service_p95_ms']:.1f}  page p95 {k['page_p95_ms']:.1f} ms")  # fmt: skip
    if not args.no_report:
        machine = (
            f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        write_report(PROJECT_ROOT / "docs" / "performance.md", results, machine)


if __name__ == "__main__":
    main()
