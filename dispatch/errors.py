"""Dispatch rules that were broken, in the business's words."""

from datetime import datetime
from uuid import UUID

from crowdship.errors import DomainError


class IllegalTransition(DomainError):
    """A state change the lifecycle does not allow, e.g. delivering an order nobody picked up."""

    def __init__(self, entity: str, entity_id: UUID, current: str, target: str, *, first: str = "") -> None:
        """`first`: the step to take before this one, when there is a single one (said after the refusal)."""
        super().__init__(f"{entity} {entity_id} cannot go from {current} to {target}" + (f": {first}" if first else ""))
        self.entity = entity
        self.entity_id = entity_id
        self.current = current
        self.target = target


class OfferExpired(DomainError):
    def __init__(self, offer_id: UUID, expired_at: datetime) -> None:
        super().__init__(f"offer {offer_id} expired at {expired_at.isoformat()}")
        self.offer_id = offer_id
        self.expired_at = expired_at


class Forbidden(DomainError):
    """The caller is known but may not do this (wrong role, or a rule about who may carry what)."""

    kind = "forbidden"


class AlreadyOffered(DomainError):
    """The database refused a second open offer for an order or a trip: someone else got there first."""


class DeliveryRefused(DomainError):
    """A delivery attempt whose proof did not hold (too far from the drop-off, or the wrong code)."""

    kind = "invalid"

    def __init__(self, field: str, message: str, attempts_left: int) -> None:
        super().__init__(message)
        self.field = field
        self.attempts_left = attempts_left


class EmailTaken(DomainError):
    def __init__(self) -> None:
        super().__init__("an account with this e-mail address exists")


class DuplicateOrder(DomainError):
    """This store already has an order with this external reference (under another idempotency key)."""


class AlreadyOnTrip(DomainError):
    def __init__(self) -> None:
        super().__init__("the shopper is already on an open or departed trip")


class StoreExists(DomainError):
    """A store with this id was registered before."""


class MissingBagCode(DomainError):
    """An order that did not come through intake has no bag code, so its bags cannot be checked at pickup."""


class NoActiveTrip(DomainError):
    """Positions are only kept during a trip."""

    def __init__(self) -> None:
        super().__init__("you have no open or departed trip: check in at a store first")


class ClaimExists(DomainError):
    """An insurance claim with this reference was recorded before."""

    def __init__(self, claim_ref: str) -> None:
        super().__init__(f"an insurance claim {claim_ref!r} was recorded before")
        self.claim_ref = claim_ref


class TooManyIncidents(DomainError):
    """A shopper reports at most `limit` incidents on one order: operations follow up on those."""

    kind = "conflict"

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} incidents per order; operations will follow up on those you reported")


class DeliveryNotRecorded(DomainError):
    """What a delivery's reward is computed from was not recorded: the order is not delivered, or it was marked
    delivered without an accepted proof, so nobody is known to have delivered it."""

    kind = "conflict"
