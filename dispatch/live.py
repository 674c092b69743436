"""What the use cases tell live state (positions, who is on a trip, offer events), as a protocol:
Redis behind it in the service (`dispatch.adapters.live`), nothing at all in the simulator. Live state may be
lost at any time; nothing of record depends on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any, Protocol
from uuid import UUID

from dispatch.evidence import LocationSample
from dispatch.model import Offer
from routing.geo import GeoPoint


def offer_event(offer: Offer) -> dict[str, str]:
    """What a shopper's event stream says of a new offer: enough to fetch it before it expires, its expiry
    written in UTC as the API writes the offer's own (`…Z`), so that the two compare equal as text too."""
    expires_at = offer.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {"event": "offer", "offer_id": str(offer.id), "expires_at": expires_at}


class LiveState(Protocol):
    def publish_offer(self, shopper_id: UUID, payload: Mapping[str, Any]) -> None:
        """Best effort, after the commit: a shopper who misses it finds the offer through the API."""
        ...

    def trip_started(self, shopper_id: UUID, trip_id: UUID) -> None: ...
    def trip_ended(self, shopper_id: UUID) -> None: ...
    def account_changed(self, user_id: UUID) -> None: ...
    def live_among(self, shopper_ids: Sequence[UUID]) -> int:
        """How many of these shoppers have a live position."""
        ...

    def positions(self, shopper_ids: Sequence[UUID]) -> dict[UUID, GeoPoint]:
        """The live position of each of these shoppers who has one."""
        ...

    def needs_rebuild(self) -> bool:
        """True after live state was lost (or on a first start)."""
        ...

    def rebuild_positions(self, samples: Sequence[LocationSample]) -> int: ...
    def claim_chore(self, name: str, every_s: float) -> bool:
        """True for the one process (of many) that should do a periodic chore now."""
        ...

    def shoppers_with_positions(self, limit: int) -> list[UUID]: ...
    def forget_positions(self, shopper_ids: Sequence[UUID]) -> int: ...
