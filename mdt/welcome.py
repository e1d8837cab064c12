"""What `make run` prints last: where the app is, and the demo accounts to sign in with.

New demo passwords are made by `flask mdt seed-demo --for-welcome`, which runs after pip and
npm have printed; it hands them to `flask mdt welcome` in a file only the user can read, which
the banner deletes as it prints them: they are shown once, at the end, where they are seen.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from mdt.models.roles import role_label
from mdt.services.demo import DEMO_USERS

HANDOFF = "demo-passwords.json"
RULE = "─" * 72


def keep_passwords(instance: Path, passwords: dict[str, str]) -> None:
    if not passwords:
        return
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / HANDOFF
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handoff:
        json.dump(passwords, handoff)


def _take_passwords(instance: Path) -> dict[str, str]:
    path = instance / HANDOFF
    try:
        passwords = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    path.unlink(missing_ok=True)
    return {str(k): str(v) for k, v in passwords.items()}


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def banner(instance: Path, url: str) -> str:
    passwords = _take_passwords(instance)
    lines = [RULE, f"  The care pathway app is starting on  {url}", ""]
    if passwords:
        lines.append("  Sign in with a demo account (one role each). Passwords are shown ONCE:")
    else:
        lines.append("  Sign in with a demo account (one role each):")
    for username, _name, roles, _discipline in DEMO_USERS:
        secret = passwords.get(username, "")
        lines.append(f"    {username:13} {secret:26} {', '.join(map(role_label, roles))}")
    lines.append("")
    if not passwords:
        lines.append("  Their passwords were printed the first time `make run` set them up.")
    lines += [
        "  Missed a password? Give the account a new one:",
        "    .venv/bin/flask --app wsgi mdt reset-password coordinator",
        "  Stop the app with Ctrl+C.",
        RULE,
    ]
    return "\n".join(lines)
