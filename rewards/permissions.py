"""Who may do what with money. The API's routes and the CLI's commands check the same sets."""

from __future__ import annotations

from collections.abc import Collection

from dispatch.accounts import Role, User
from dispatch.errors import Forbidden

FINANCE_ROLES = (Role.FINANCE, Role.ADMIN)
POLICY_WRITERS = (Role.OPS, Role.ADMIN)
"""Propose reward policy versions."""
POLICY_DECIDERS = (Role.OPS, Role.FINANCE, Role.ADMIN)
"""Approve or reject a version someone else proposed."""
POLICY_READERS = (Role.OPS, Role.FINANCE, Role.ADMIN)


def require_role(user: User, roles: Collection[Role], action: str) -> None:
    """Refuses an inactive account, or one whose role is not among `roles`, naming what it tried to do."""
    if not user.active:
        raise Forbidden(f"account {user.email} is deactivated")
    if user.role not in roles:
        allowed = " or ".join(role.value for role in roles)
        raise Forbidden(f"{action} needs the role {allowed}; {user.email} is {user.role.value}")
