"""`flask mdt ...` commands: users, demo data, pathways and the timer scheduler."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from types import FrameType

import click
from flask import Flask, current_app

from mdt import welcome
from mdt.models.roles import Role
from mdt.services.actor import SYSTEM
from mdt.services.errors import DomainError
from mdt.services.users import create_user, find_user, reset_password, set_active
from workflows import PathwayInvalidError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def register(app: Flask) -> None:
    app.cli.add_command(mdt)


@click.group()
def mdt() -> None:
    """Care pathway administration."""


@mdt.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Full name shown to colleagues")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="Repeat for several roles",
)
@click.option("--discipline", default=None, help="MDT discipline, e.g. oncology")
@click.option("--email", default=None)
def create_user_command(
    username: str,
    display_name: str,
    roles: tuple[str, ...],
    discipline: str | None,
    email: str | None,
) -> None:
    """Create an account; its one-time password is printed once."""
    try:
        user, password = create_user(
            SYSTEM, username, display_name, roles, discipline=discipline, email=email
        )
    except DomainError as error:
        raise click.ClickException(_explain(error)) from None
    click.echo(
        f"Created {user.username} ({', '.join(sorted(user.roles))}). One-time password: {password}"
    )


@mdt.command("reset-password")
@click.argument("username")
def reset_password_command(username: str) -> None:
    """Give an account a new one-time password (printed once)."""
    user = find_user(username)
    if user is None:
        raise click.ClickException(f"No account called {username}")
    click.echo(f"New password for {user.username}: {reset_password(SYSTEM, user.id)}")


@mdt.command("deactivate-user")
@click.argument("username")
def deactivate_user_command(username: str) -> None:
    """Stop an account signing in (accounts are never deleted)."""
    user = find_user(username)
    if user is None:
        raise click.ClickException(f"No account called {username}")
    set_active(SYSTEM, user.id, False)
    click.echo(f"Deactivated {user.username}")


@mdt.command("seed-demo")
@click.option(
    "--password",
    envvar="MDT_DEMO_PASSWORD",
    default=None,
    help="Use this password for new demo users instead of random ones",
)
@click.option(
    "--for-welcome",
    is_flag=True,
    help="Keep new passwords for `flask mdt welcome` to print last, instead of printing them",
)
def seed_demo_command(password: str | None, for_welcome: bool) -> None:
    """Load the pathway in bpmn/, demo users for every role and demo patients."""
    from mdt.services.demo import seed_demo

    try:
        result = seed_demo(PROJECT_ROOT / "bpmn", password)
    except PathwayInvalidError as error:
        raise click.ClickException(
            "The pathway in bpmn/ is invalid:\n"
            + "\n".join(f"  - {problem}" for problem in error.problems)
        ) from None
    except DomainError as error:
        raise click.ClickException(f"Demo data could not be loaded: {_explain(error)}") from None
    click.echo(
        f"Pathway version {result.pathway_version} published; "
        f"{result.patients_added} demo patients added."
    )
    if for_welcome:
        welcome.keep_passwords(Path(current_app.instance_path), result.new_passwords)
    elif result.new_passwords:
        click.echo("Demo accounts (passwords are shown only this once):")
        for username, secret in result.new_passwords.items():
            click.echo(f"  {username:12} {secret}")
    else:
        click.echo("Demo accounts already exist (flask mdt reset-password USER for a new one).")


@mdt.command("welcome")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def welcome_command(host: str, port: int) -> None:
    """Say where the app is and how to sign in (the last thing `make run` prints)."""
    if not welcome.port_is_free(host, port):
        raise click.ClickException(
            f"Port {port} on {host} is already in use (often by another app).\n"
            f"  Choose another: make run PORT=5055"
        )
    click.echo(welcome.banner(Path(current_app.instance_path), f"http://{host}:{port}"))


@mdt.command("load-pathway")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--key", required=True, help="Pathway key, e.g. secondary-breast-cancer")
@click.option("--title", required=True)
@click.option(
    "--confirm-warnings", is_flag=True, help="Publish although the test run found warnings"
)
def load_pathway_command(directory: Path, key: str, title: str, confirm_warnings: bool) -> None:
    """Validate, test-run and publish the BPMN files of DIRECTORY (forms in DIRECTORY/forms)."""
    from mdt.services.errors import PathwayRejectedError, PathwayWarningsError
    from mdt.services.pathway_trials import publish_tested_files
    from mdt.services.pathways import read_pathway_directory

    bpmn, forms = read_pathway_directory(directory)
    try:
        version, tested = publish_tested_files(SYSTEM, key, title, bpmn, forms, confirm_warnings)
    except PathwayWarningsError as error:
        click.echo(_problem_lines(error.problems, ("warning",)))
        raise click.ClickException(
            "Not published: the test run found warnings. Read them, then run again with "
            "--confirm-warnings to publish anyway."
        ) from None
    except PathwayRejectedError as error:
        click.echo(_problem_lines(error.problems, ("error", "warning")))
        raise click.ClickException("Not published: fix the errors above.") from None
    if tested.warnings:
        click.echo(_problem_lines(tested.problems, ("warning",)))
    click.echo(f"{key} version {version.version} is published.")


@mdt.command("test-pathway")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--notes", is_flag=True, help="Also list notes (what needs no one's attention)")
def test_pathway_command(directory: Path, notes: bool) -> None:
    """Run synthetic patients through the pathway in DIRECTORY, as publishing does first:
    every problem with the element and the path that reached it. Exits 1 on errors."""
    from mdt.services.pathway_trials import trial_files
    from mdt.services.pathways import read_pathway_directory

    bpmn, forms = read_pathway_directory(directory)
    result = trial_files(bpmn, forms)
    shown = ("error", "warning", "note") if notes else ("error", "warning")
    listed = _problem_lines(result.problems, shown)
    if listed:
        click.echo(listed)
    report = result.report
    if report is not None:
        click.echo(
            f"{report.patients} test patient{'s' if report.patients != 1 else ''}, "
            f"{report.steps} steps, {report.seconds:.1f} s: "
            f"{report.coverage.describe()}."
            + ("" if report.complete else " The run stopped at its limit.")
        )
    click.echo(
        f"{len(result.errors)} error(s), {len(result.warnings)} warning(s): "
        + (
            "it can be published."
            if result.passed and not result.warnings
            else "publishing needs the warnings confirmed."
            if result.passed
            else "it cannot be published."
        )
    )
    if not result.passed:
        raise SystemExit(1)


def _problem_lines(problems: list[dict[str, object]], severities: tuple[str, ...]) -> str:
    lines = []
    for problem in problems:
        severity = str(problem.get("severity", "error"))
        if severity not in severities:
            continue
        where = ", ".join(
            str(part)
            for part in (
                problem.get("file"),
                f"line {problem['line']}" if problem.get("line") else None,
                problem.get("element_name") or problem.get("element_id"),
            )
            if part
        )
        lines.append(f"{severity.upper()}: {where + ': ' if where else ''}{problem['message']}")
        path = problem.get("path") or []
        if isinstance(path, list) and path:
            lines.append("    reached by: " + " > ".join(str(step) for step in path))
    return "\n".join(lines)


@mdt.command("bench")
@click.option("--patients", type=int, multiple=True, help="Cohort size (repeat for several)")
@click.option("--postgres", default="", help="PostgreSQL server URL to also measure on")
@click.option("--load-seconds", type=float, default=20.0)
@click.option("--write-docs", is_flag=True, help="Rewrite the tables in docs/performance.md")
def bench_command(
    patients: tuple[int, ...], postgres: str, load_seconds: float, write_docs: bool
) -> None:
    """Build synthetic cohorts and measure them (what `make bench` runs, at any size)."""
    from mdt.benchmarks.__main__ import run_benchmarks

    sizes = sorted(set(patients or (1000, 10000)))
    command = "flask mdt bench " + " ".join(f"--patients {n}" for n in sizes)
    run_benchmarks(sizes, max(sizes), postgres, load_seconds, command, not write_docs)


@mdt.command("create-token")
@click.argument("username")
@click.option("--name", default="Command line", show_default=True, help="What will use it.")
def create_token_command(username: str, name: str) -> None:
    """Create a personal API token for USERNAME; it is printed once and never stored."""
    from mdt.services.api_tokens import create_token

    user = find_user(username)
    if user is None:
        raise click.ClickException(f"No account called {username}")
    try:
        token, secret = create_token(SYSTEM, user.id, name)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Token '{token.name}' for {user.username} (keep it secret; shown once):")
    click.echo(secret)


@mdt.command("rebuild-reports")
def rebuild_reports_command() -> None:
    """Derive the standards report's cases again from the task table."""
    from mdt.services.standards_report import rebuild_projection

    cases = rebuild_projection(SYSTEM)
    click.echo(f"Derived {cases} case(s) for the standards report.")


@mdt.command("tick")
def tick_command() -> None:
    """Fire every due timer once (for cron)."""
    from mdt.services.scheduler import run_pass

    result = run_pass()
    click.echo(
        f"Advanced {result.advanced} pathway(s); {result.notified} notification(s); "
        f"{result.emailed} e-mail(s)."
    )


@mdt.command("scheduler")
def scheduler_command() -> None:
    """Fire due timers continuously until stopped (SIGTERM or Ctrl-C)."""
    from mdt import clock
    from mdt.extensions import db
    from mdt.services.scheduler import next_due_at, run_pass

    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(message)s")
    interval = float(current_app.config["MDT_SCHEDULER_INTERVAL"])
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.info("started; polling at least every %.1f s", interval)
    while not stopping:
        try:
            result = run_pass()
            if result.advanced or result.notified or result.emailed:
                logging.info(
                    "advanced %d pathway(s), %d notification(s), %d e-mail(s)",
                    result.advanced,
                    result.notified,
                    result.emailed,
                )
            upcoming = next_due_at()
        except Exception:  # the database may be away for a moment: keep trying
            logging.exception("pass failed")
            upcoming = None
        finally:
            db.session.remove()
        # Sleep until the next timer is due, but never longer than the interval, so that
        # timers created meanwhile by the web workers are seen promptly.
        wait = interval
        if upcoming is not None:
            wait = min(interval, max(0.0, (upcoming - clock.now()).total_seconds()))
        time.sleep(max(wait, 0.01))
    logging.info("stopped")


def _explain(error: DomainError) -> str:
    errors = getattr(error, "errors", None)
    return "; ".join(errors.values()) if errors else str(error)


@mdt.command("hl7-listener")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2575, show_default=True, type=int, help="MLLP port.")
def hl7_listener_command(host: str, port: int) -> None:
    """Take HL7 v2 ADT messages from the PAS over MLLP until stopped (SIGTERM or Ctrl-C)."""
    from mdt.services.pas.listener import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s hl7-listener %(message)s")
    serve(current_app._get_current_object(), host, port, handle_signals=True)  # type: ignore[attr-defined]


@mdt.command("hl7-status")
def hl7_status_command() -> None:
    """How many PAS messages came to each outcome, and deaths waiting for a coordinator."""
    from mdt.services.pas.messages import OUTCOME_LABELS, message_counts

    counts = message_counts()
    for outcome, label in OUTCOME_LABELS.items():
        click.echo(f"{label}: {counts.get(outcome, 0)}")
    click.echo(f"deaths waiting for a coordinator to confirm: {counts['deaths_pending']}")
