"""`crowdship users ...`: staff accounts (shoppers register through the API); deactivating an account stops
its tokens at once."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cli.commands import Commands
from cli.database import live_service_context
from cli.output import console
from cli.prompts import ask_hidden

users_app = Commands(no_args_is_help=True, help="Accounts of operations, finance and administrators.")


class StaffRole(StrEnum):
    OPS = "ops"
    FINANCE = "finance"
    ADMIN = "admin"


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="E-mail address, the sign-in name")],
    role: Annotated[StaffRole, typer.Option(help="What the account may do")] = StaffRole.OPS,
    password: Annotated[
        str | None,
        typer.Option(show_default=False, help="At least 10 characters, not a common one (asked for when not given)"),
    ] = None,
) -> None:
    """Create a staff account (the first ops or admin user, for instance)."""
    from cli.database import command_pool
    from dispatch.accounts import Role, normalise_email
    from dispatch.adapters.passwords import Argon2Passwords
    from dispatch.errors import EmailTaken
    from dispatch.services.accounts import create_staff_user, find_user

    address = normalise_email(email)  # a mistyped address is told before the password is asked for twice
    with command_pool(max_size=2) as pool:
        context = live_service_context(pool, with_redis=False)
        if find_user(context, email=address) is not None:
            raise EmailTaken()
        if password is None:
            password = _new_password(address)
        user = create_staff_user(context, Argon2Passwords(), email=address, password=password, role=Role(role.value))
    console.print(f"created {user.role.value} user {user.email} ({user.id})")


GIVE_IT = "give it with --password"


def _new_password(address: str) -> str:
    """Asked on stderr (`$(crowdship users create ...)` captures only what it prints), and checked against the
    rules before it is asked for again: nobody types a refused password twice."""
    from crowdship.errors import InvalidInput
    from crowdship.strength import weak_password_reason

    first = ask_hidden("Password", otherwise=GIVE_IT)
    reason = weak_password_reason(first, user_inputs=(address,))
    if reason is not None:
        raise InvalidInput("password", reason)
    if ask_hidden("Repeat for confirmation", otherwise=GIVE_IT) != first:
        raise InvalidInput("password", "the two answers differ; nothing was created")
    return first


@users_app.command("deactivate")
def users_deactivate(email: Annotated[str, typer.Option(help="E-mail address of the account")]) -> None:
    """Deactivate an account: it cannot sign in, and the API refuses its tokens from now on."""
    _set_active(email, active=False)


@users_app.command("activate")
def users_activate(email: Annotated[str, typer.Option(help="E-mail address of the account")]) -> None:
    """Reactivate a deactivated account."""
    _set_active(email, active=True)


def _set_active(email: str, *, active: bool) -> None:
    from cli.database import command_pool
    from crowdship.errors import NotFound
    from dispatch.services.accounts import find_user, set_active

    with command_pool(max_size=2) as pool:
        ctx = live_service_context(pool)
        user = find_user(ctx, email=email)
        if user is None:
            raise NotFound(f"no account {email}")
        set_active(ctx, user_id=user.id, active=active)
    console.print(f"{user.email} is {'active' if active else 'deactivated'}")
