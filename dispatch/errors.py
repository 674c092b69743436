"""Dispatch rules that were broken, in the business's words."""

from datetime import datetime
from uuid import UUID

from crowdship.errors import DomainError


class IllegalTransition(DomainError):
    """A state change the lifecycle does not allow, e.g. delivering an order nobody picked up."""

    def __init__(self, entity: str, entity_id: UUID, current: str, target: str) -> None:
        super().__init__(f"{entity} {entity_id} cannot go from {current} to {target}")
        self.entity = entity
        self.entity_id = entity_id
        self.current = current
        self.target = target


class OfferExpired(DomainError):
    def __init__(self, offer_id: UUID, expired_at: datetime) -> None:
        super().__init__(f"offer {offer_id} expired at {expired_at.isoformat()}")
        self.offer_id = offer_id
        self.expired_at = expired_at
