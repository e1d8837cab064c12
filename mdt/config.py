"""Every setting, declared once, read from the environment (prefix MDT_), with its default.

Startup fails loudly on a bad value rather than running half-configured.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path

# Local numbers the pathways read, unless set in MDT_PATHWAY_SETTINGS.
DEFAULT_PATHWAY_SETTINGS = {"pension_age": 66}
# The pathway a registration starts unless staff choose another.
DEFAULT_PATHWAY = "secondary-breast-cancer"


class ConfigError(RuntimeError):
    """A setting is missing or malformed."""


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _number(name: str, default: float, minimum: float, maximum: float) -> float:
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def _dates(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    days = tuple(part.strip() for part in raw.split(",") if part.strip())
    for day in days:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ConfigError(f"{name} must be dates like 2026-12-29, not {day!r}") from None
    return days


def _clock(name: str, default: str) -> str:
    raw = os.environ.get(name, default)
    try:
        time.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a time like 12:00, not {raw!r}") from None
    return raw


def _pathway_key(name: str, default: str) -> str:
    raw = os.environ.get(name, default).strip()
    if not raw or len(raw) > 80 or not all(ch.isalnum() or ch in "-_." for ch in raw):
        raise ConfigError(f"{name} must be a pathway key like {default}, not {raw!r}")
    return raw


def _numbers_by_key(name: str, maximum: int) -> dict[str, int]:
    """Settings like MDT_KPI_TARGETS=is1_first_contact=85,tc2_mdt=95 (unnamed keys keep defaults)."""
    values = {}
    for part in os.environ.get(name, "").split(","):
        if not part.strip():
            continue
        key, _, raw = part.partition("=")
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be key=number pairs, not {part!r}") from None
        if not 0 <= value <= maximum:
            raise ConfigError(f"{name}: {key.strip()} must be between 0 and {maximum}")
        values[key.strip()] = value
    return values


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("MDT_DATABASE_URL", "")
    if not url:
        return f"sqlite:///{instance_path / 'mdt.sqlite3'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if not url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError("MDT_DATABASE_URL must be a sqlite: or postgresql: URL")
    return url


def _secret_key(instance_path: Path, production: bool) -> str:
    key = os.environ.get("MDT_SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ConfigError("MDT_SECRET_KEY must be at least 32 characters")
        return key
    if production:
        raise ConfigError("MDT_SECRET_KEY must be set in production")
    # Development: a random key kept in the instance folder, so sessions survive restarts.
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


@dataclass(frozen=True)
class Settings:
    """The application's settings as Flask config keys."""

    values: dict

    @classmethod
    def from_environment(cls, instance_path: Path) -> Settings:
        production = os.environ.get("MDT_ENV", "development") == "production"
        return cls(
            {
                "MDT_ENV": "production" if production else "development",
                "SECRET_KEY": _secret_key(instance_path, production),
                "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
                "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
                "MDT_ENGINE_TIME_LIMIT": _number("MDT_ENGINE_TIME_LIMIT", 2.0, 0.05, 60),
                # Pathway code runs in worker processes with hard limits (workflows/isolation.py).
                "MDT_ENGINE_ISOLATION": _bool("MDT_ENGINE_ISOLATION", True),
                "MDT_ENGINE_WORKERS": int(_number("MDT_ENGINE_WORKERS", 2, 1, 64)),
                "MDT_ENGINE_WALL_SECONDS": _number("MDT_ENGINE_WALL_SECONDS", 5.0, 0.5, 120),
                "MDT_ENGINE_CPU_SECONDS": int(_number("MDT_ENGINE_CPU_SECONDS", 5, 1, 120)),
                "MDT_ENGINE_MEMORY_MB": int(_number("MDT_ENGINE_MEMORY_MB", 1024, 256, 16384)),
                "MDT_ENGINE_MAX_STATE_BYTES": int(
                    _number("MDT_ENGINE_MAX_STATE_BYTES", 4 * 1024 * 1024, 64 * 1024, 1 << 28)
                ),
                "MDT_ENGINE_MAX_READY_TASKS": int(
                    _number("MDT_ENGINE_MAX_READY_TASKS", 200, 10, 10_000)
                ),
                # How long one scheduler pass may spend firing timers before it leaves the rest
                # (still due) to the next pass, so notifications and e-mail always run.
                "MDT_SCHEDULER_BUDGET_SECONDS": _number(
                    "MDT_SCHEDULER_BUDGET_SECONDS", 30.0, 1, 3600
                ),
                # How long a pathway's test run before publishing may take, in seconds.
                "MDT_TEST_RUN_SECONDS": _number("MDT_TEST_RUN_SECONDS", 20.0, 1, 600),
                "MDT_BPMN_MAX_BYTES": int(
                    _number("MDT_BPMN_MAX_BYTES", 2 * 1024 * 1024, 1024, 50 * 1024 * 1024)
                ),
                "MDT_ALLOW_TEST_NHS_NUMBERS": _bool("MDT_ALLOW_TEST_NHS_NUMBERS", not production),
                # The pathway registration starts unless staff choose another published one.
                "MDT_DEFAULT_PATHWAY": _pathway_key("MDT_DEFAULT_PATHWAY", DEFAULT_PATHWAY),
                # Sign-in failures from one address within 15 minutes before it must wait.
                "MDT_SIGNIN_FAILURES_PER_ADDRESS": int(
                    _number("MDT_SIGNIN_FAILURES_PER_ADDRESS", 30, 1, 10_000)
                ),
                # Reverse proxies in front of the app whose X-Forwarded-For to trust (0: none).
                "MDT_TRUSTED_PROXIES": int(_number("MDT_TRUSTED_PROXIES", 0, 0, 5)),
                "MDT_SCHEDULER_INTERVAL": _number("MDT_SCHEDULER_INTERVAL", 1.0, 0.1, 3600),
                "MDT_DUE_SOON_DAYS": int(_number("MDT_DUE_SOON_DAYS", 2, 0, 30)),
                "MDT_LOCAL_CLOSURES": _dates("MDT_LOCAL_CLOSURES"),
                "MDT_LIST_CUT_OFF_TIME": _clock("MDT_LIST_CUT_OFF_TIME", "12:00"),
                "MDT_LIST_CUT_OFF_WORKING_DAYS": int(
                    _number("MDT_LIST_CUT_OFF_WORKING_DAYS", 1, 0, 10)
                ),
                "MDT_CORE_DISCIPLINES": tuple(
                    d.strip()
                    for d in os.environ.get(
                        "MDT_CORE_DISCIPLINES",
                        "oncology,palliative care,breast CNS,radiology,pathology,surgery",
                    ).split(",")
                    if d.strip()
                ),
                # Local standards-report settings: period in days and target percent per KPI.
                "MDT_KPI_DAYS": _numbers_by_key("MDT_KPI_DAYS", 365),
                "MDT_KPI_TARGETS": _numbers_by_key("MDT_KPI_TARGETS", 100),
                # Local numbers the pathways' scripts read (local_settings in their data), e.g.
                # the State Pension age that decides who is of working age.
                "MDT_PATHWAY_SETTINGS": {
                    **DEFAULT_PATHWAY_SETTINGS,
                    **_numbers_by_key("MDT_PATHWAY_SETTINGS", 1000),
                },
                # An entry made this many days or more after the date it records is flagged
                # "recorded late" in the standards report's drill-downs.
                "MDT_RECORDED_LATE_DAYS": int(_number("MDT_RECORDED_LATE_DAYS", 2, 1, 365)),
                "MDT_SMTP_HOST": os.environ.get("MDT_SMTP_HOST", ""),
                "MDT_SMTP_PORT": int(_number("MDT_SMTP_PORT", 25, 1, 65535)),
                "MDT_SMTP_STARTTLS": _bool("MDT_SMTP_STARTTLS", False),
                "MDT_SMTP_USERNAME": os.environ.get("MDT_SMTP_USERNAME", ""),
                "MDT_SMTP_PASSWORD": os.environ.get("MDT_SMTP_PASSWORD", ""),
                "MDT_SMTP_FROM": os.environ.get("MDT_SMTP_FROM", "pathway@localhost"),
                "MDT_BASE_URL": os.environ.get("MDT_BASE_URL", "http://127.0.0.1:5000"),
                "MDT_PAGE_SIZE": int(_number("MDT_PAGE_SIZE", 50, 5, 500)),
                # Outcomes and attendance can be recorded from this long before a meeting's
                # start (set-up, a meeting starting early); never days before.
                "MDT_MEETING_EARLY_MINUTES": int(_number("MDT_MEETING_EARLY_MINUTES", 30, 0, 240)),
                # A death, discharge or transfer can be marked entered in error this long.
                "MDT_CLOSE_CORRECTION_DAYS": int(_number("MDT_CLOSE_CORRECTION_DAYS", 30, 1, 365)),
                # The letterhead of letters sent outside (the GP letter): name and address
                # ("; " starts a new line).
                "MDT_ORGANISATION": os.environ.get(
                    "MDT_ORGANISATION", "Secondary Breast Cancer Service"
                ),
                "MDT_ORGANISATION_ADDRESS": os.environ.get("MDT_ORGANISATION_ADDRESS", ""),
                "MDT_OUT_OF_HOURS_ADVICE": os.environ.get(
                    "MDT_OUT_OF_HOURS_ADVICE",
                    "Call the 24-hour acute oncology helpline on your alert card. "
                    "In an emergency call 999.",
                ),
                "PERMANENT_SESSION_LIFETIME": timedelta(
                    minutes=_number("MDT_SESSION_IDLE_MINUTES", 30, 5, 24 * 60)
                ),
                # However active, a session ends this many hours after signing in.
                "MDT_SESSION_MAX_HOURS": _number("MDT_SESSION_MAX_HOURS", 12, 1, 7 * 24),
                "SESSION_COOKIE_HTTPONLY": True,
                "SESSION_COOKIE_SAMESITE": "Lax",
                "SESSION_COOKIE_SECURE": production,
                "WTF_CSRF_TIME_LIMIT": None,
                "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
            }
        )
