"""Where the service may send a browser after signing in: a path on this site, nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_local_path(target: str | None) -> bool:
    """A path on this site (``/patients/3?tab=plan``), never an absolute URL, a
    scheme-relative ``//host``, a backslash some browsers read as a slash, or anything a
    header cannot carry: a control character (CR LF was a 500 after sign-in), a space or an
    invisible format character."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(not ch.isprintable() or ch.isspace() for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
