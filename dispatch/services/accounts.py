"""Accounts: a shopper registers, staff are created from the CLI, ops verify shoppers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crowdship.errors import DomainError, InvalidInput, NotFound
from crowdship.idempotency import IdempotencyKeyReused, Outcome, once
from crowdship.strength import weak_password_reason
from dispatch.accounts import Role, User, normalise_email
from dispatch.errors import EmailTaken
from dispatch.model import Shopper, Trip, TripStatus, TrustTier
from dispatch.repositories import LiveUnitOfWork
from dispatch.rules import offers_resume_at
from dispatch.services.context import DispatchContext, PasswordHasher, StaffDecision, changed
from dispatch.services.trips import release_trip_orders, trip_ended
from routing.geo import GeoPoint


def _check_password(password: str, *known: str) -> None:
    """Refuses short, common and trivial passwords; `known` (the e-mail, the name) counts as guessed."""
    reason = weak_password_reason(password, user_inputs=known)
    if reason is not None:
        raise InvalidInput("password", reason)


def register_shopper(
    ctx: DispatchContext,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    display_name: str,
    home: GeoPoint | None,
) -> tuple[User, Shopper]:
    """A new shopper: unverified, lowest trust tier, until operations check them."""
    _check_password(password, email, display_name)
    shopper = Shopper(display_name=display_name, home_location=home)
    user = User(
        email=normalise_email(email),
        password_hash=hasher.hash(password),
        role=Role.SHOPPER,
        shopper_id=shopper.id,
        created_at=ctx.clock.now(),
    )
    with ctx.unit_of_work() as uow:
        uow.shoppers.add(shopper)
        uow.users.add(user)
        uow.commit()
    return user, shopper


def register_shopper_once(
    ctx: DispatchContext,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    display_name: str,
    home: GeoPoint | None,
    idempotency_key: str | None,
) -> Outcome[User]:
    """Registration as anyone may ask for it, without telling them which addresses have an account: an address
    that has one is answered as a new account would be (fresh ids, nothing saved; only that account's own
    password signs in), so a refusal cannot list a store's shoppers or its staff. With an `idempotency_key` (per
    address) a retry gets the first answer, the same password included: its hash is kept with the key, never
    the password itself; the key with another request is refused. Two registrations of a new address at once:
    the second finds the first's account and is answered alike."""
    _check_password(password, email, display_name)
    address = normalise_email(email)
    password_hash = hasher.hash(password)
    request = {"email": address, "display_name": display_name, "home": [home.lat, home.lon] if home else None}

    def register(uow: LiveUnitOfWork) -> User:
        shopper = Shopper(display_name=display_name, home_location=home)
        user = User(
            email=address,
            password_hash=password_hash,
            role=Role.SHOPPER,
            shopper_id=shopper.id,
            created_at=ctx.clock.now(),
        )
        if uow.users.by_email(address) is None:
            uow.shoppers.add(shopper)
            uow.users.add(user)
        return user

    def answered(kept: Mapping[str, Any]) -> User:
        if not hasher.verify(password, kept["password_hash"]):
            raise IdempotencyKeyReused(str(idempotency_key))
        return User(
            email=address,
            password_hash=kept["password_hash"],
            role=Role.SHOPPER,
            shopper_id=UUID(kept["shopper_id"]),
            created_at=datetime.fromisoformat(kept["created_at"]),
            id=UUID(kept["id"]),
        )

    def attempt() -> Outcome[User]:
        with ctx.unit_of_work() as uow:
            if idempotency_key is None:
                outcome = Outcome(register(uow), replayed=False)
            else:
                outcome = once(
                    uow.idempotency,
                    scope=f"register:{address}",
                    key=idempotency_key,
                    request=request,
                    run=lambda: register(uow),
                    dump=lambda user: {
                        "id": str(user.id),
                        "shopper_id": str(user.shopper_id),
                        "created_at": user.created_at.isoformat(),
                        "password_hash": user.password_hash,
                    },
                    load=answered,
                )
            uow.commit()
        return outcome

    try:
        return attempt()
    except EmailTaken:
        return attempt()


def create_staff_user(
    ctx: DispatchContext,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    role: Role,
    actor_id: UUID | None = None,
) -> User:
    """A staff account, audited with its role (who may move money is a decision on money)."""
    if role is Role.SHOPPER:
        raise InvalidInput("role", "shoppers register themselves through the app")
    _check_password(password, email)
    user = User(email=email, password_hash=hasher.hash(password), role=role, created_at=ctx.clock.now())
    with ctx.unit_of_work() as uow:
        uow.users.add(user)
        ctx.record_decision(
            uow, StaffDecision("account.created", "account", user.id, actor_id, user.created_at, {"role": role.value})
        )
        uow.commit()
    return user


def authenticate(ctx: DispatchContext, hasher: PasswordHasher, *, email: str, password: str) -> User | None:
    """The active user with these credentials, or None; as slow for an unknown e-mail as for a bad password."""
    try:
        address = normalise_email(email, "username")
    except InvalidInput:
        address = ""
    with ctx.unit_of_work() as uow:
        user = uow.users.by_email(address) if address else None
    if not hasher.verify(password, user.password_hash if user else None) or user is None:
        return None
    return user if user.active else None


def find_user(ctx: DispatchContext, *, email: str) -> User | None:
    with ctx.unit_of_work() as uow:
        return uow.users.by_email(normalise_email(email))


class CannotDeactivateYourself(DomainError):
    """An administrator deactivating their own account would lose the API at once."""

    def __init__(self) -> None:
        super().__init__("you cannot deactivate your own account; ask another administrator")


def set_active(ctx: DispatchContext, *, user_id: UUID, active: bool, actor_id: UUID | None = None) -> User:
    """Deactivates (or reactivates) an account. Its tokens stop working at once, and for good (a reactivated
    account signs in again): the API asks which tokens an account accepts (`earliest_token_accepted`), and is
    told of a change through live state. A deactivated shopper's open trip is cancelled with it (its offer
    withdrawn, its orders back in the queue), so that no batch offers them more work; a trip already on the
    road stays until each order it carries is delivered or marked not delivered by operations
    (`delivery.mark_not_delivered`), which ends it.

    The account is locked for update before the trip is looked for: a check-in locks it to share
    (`trips.check_in`), so a check-in that committed first is found here and cancelled, and one that comes
    after is refused. `actor_id` (who asks, when it is an account) may not deactivate itself; the decision is
    audited, a repeated one too (deactivating again ends the tokens issued since)."""
    if not active and actor_id == user_id:
        raise CannotDeactivateYourself
    ended: Trip | None = None
    with ctx.unit_of_work() as uow:
        user = uow.users.get(user_id, for_update=True)
        action = "account.activated" if active else "account.deactivated"
        details = {"role": user.role.value, "active": changed(user.active, active)}
        ctx.record_decision(uow, StaffDecision(action, "account", user_id, actor_id, ctx.clock.now(), details))
        user.active = active
        if not active:
            user.tokens_valid_from = ctx.clock.now()
        uow.users.save(user)
        trip = (
            uow.trips.active_for_shopper(user.shopper_id, for_update=True) if user.shopper_id and not active else None
        )
        if trip is not None and trip.status is TripStatus.OPEN:
            trip.cancel()
            release_trip_orders(uow, trip, ctx.clock.now())
            uow.trips.save(trip, at=ctx.clock.now())
            ended = trip
        uow.commit()
    if ended is not None:
        trip_ended(ctx, ended)
    if ctx.live is not None:
        ctx.live.account_changed(user_id)
    return user


def end_sessions(ctx: DispatchContext, user_id: UUID) -> None:
    """Signing out: every token the account was issued so far stops working, as at a deactivation but the account
    stays active. A token names no session of its own, so ending the one signed out of ends them all; otherwise a
    copy of the session cookie would open the console until it expired, and every page it opened renewed it."""
    with ctx.unit_of_work() as uow:
        user = uow.users.get(user_id, for_update=True)
        user.tokens_valid_from = ctx.clock.now()
        uow.users.save(user)
        uow.commit()
    if ctx.live is not None:
        ctx.live.account_changed(user_id)


def earliest_token_accepted(ctx: DispatchContext, user_id: UUID) -> int | None:
    """The earliest issue time of a token the account accepts (`User.earliest_token_accepted`); None for an
    unknown or deactivated account, whose tokens are all refused."""
    with ctx.unit_of_work() as uow:
        try:
            return uow.users.get(user_id).earliest_token_accepted()
        except NotFound:
            return None


def get_user(ctx: DispatchContext, user_id: UUID) -> User:
    with ctx.unit_of_work() as uow:
        return uow.users.get(user_id)


def account_emails(ctx: DispatchContext, user_ids: Iterable[UUID | None]) -> dict[UUID, str]:
    """Who the accounts named in records are, for people reading them: each one's e-mail (unknown ids left out)."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    with ctx.unit_of_work() as uow:
        return dict(uow.users.emails(wanted))


def get_shopper(ctx: DispatchContext, shopper_id: UUID) -> Shopper:
    with ctx.unit_of_work() as uow:
        return uow.shoppers.get(shopper_id)


@dataclass(frozen=True)
class DropOutStanding:
    """A shopper's drop-outs (accepted offers left before pickup) within the window, and when batches offer
    them orders again, if they are held back now (`dispatch.rules.offers_resume_at`): what operations see."""

    recent_drop_outs: int
    offered_nothing_until: datetime | None


def drop_out_standing(ctx: DispatchContext, shopper_id: UUID) -> DropOutStanding:
    now, limit = ctx.clock.now(), ctx.config.batch.drop_outs
    with ctx.unit_of_work() as uow:
        uow.shoppers.get(shopper_id)  # NotFound for an unknown shopper
        times = [each.at for each in uow.offers.drop_outs([shopper_id], now - limit.window) if each.at <= now]
    return DropOutStanding(len(times), offers_resume_at(times, now, limit))


def verify_shopper(
    ctx: DispatchContext,
    *,
    shopper_id: UUID,
    identity_verified: bool | None = None,
    trust_tier: TrustTier | None = None,
    actor_id: UUID | None,
) -> Shopper:
    """Operations record an identity check and set the trust tier (which caps order values); a change is
    audited with its author in the same transaction. The shopper is locked before being read, since saving
    writes back every column: a tier review under way (which locks them too) is waited for, not undone."""
    with ctx.unit_of_work() as uow:
        uow.shoppers.lock(shopper_id)
        shopper = uow.shoppers.get(shopper_id)
        changes: dict[str, object] = {}
        if identity_verified is not None and identity_verified != shopper.identity_verified:
            changes["identity_verified"] = changed(shopper.identity_verified, identity_verified)
            shopper.identity_verified = identity_verified
        if trust_tier is not None and trust_tier != shopper.trust_tier:
            changes["trust_tier"] = changed(shopper.trust_tier.name.lower(), trust_tier.name.lower())
            shopper.trust_tier = trust_tier
        if changes:
            uow.shoppers.save(shopper)
            decision = StaffDecision("shopper.changed", "shopper", shopper_id, actor_id, ctx.clock.now(), changes)
            ctx.record_decision(uow, decision)
            uow.commit()
        return shopper
