from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who is acting, passed explicitly to every use case (never read from a request)."""

    user_id: int | None
    username: str
    roles: frozenset[str]
    ip_address: str | None = None

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


SYSTEM = Actor(user_id=None, username="system", roles=frozenset(), ip_address=None)


def actor_for(user: object, ip_address: str | None = None) -> Actor:
    return Actor(
        user_id=user.id,  # type: ignore[attr-defined]
        username=user.username,  # type: ignore[attr-defined]
        roles=frozenset(user.roles),  # type: ignore[attr-defined]
        ip_address=ip_address,
    )
