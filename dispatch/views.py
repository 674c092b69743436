"""What each audience may see of an order. Privacy rules live here, not in the API.

Before acceptance a shopper sees a coarse area (about 1 km) and the distances; after acceptance the exact
drop-off, the address and the recipient's first name; once the order is delivered (or otherwise over, or
back in the store after a failed delivery) the address is gone from their history again. The delivery code is
never part of any shopper view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from crowdship.units import Cents
from dispatch.model import STILL_CARRIED, Offer, OfferStatus, Order, OrderStatus
from dispatch.rules import coarse_point, first_name
from routing.geo import GeoPoint

ADDRESS_VISIBLE = STILL_CARRIED
"""While the shopper still has to go there."""


@dataclass(frozen=True)
class StopView:
    order_id: UUID
    status: OrderStatus
    size_bags: int
    area: GeoPoint
    dropoff: GeoPoint | None
    address: str | None
    recipient_first_name: str | None
    window_earliest: datetime
    window_latest: datetime


@dataclass(frozen=True)
class OfferView:
    offer: Offer
    stops: tuple[StopView, ...]
    reward_quote_cents: Cents


def stop_for_shopper(order: Order, *, accepted_by_them: bool) -> StopView:
    exact = accepted_by_them and order.status in ADDRESS_VISIBLE
    return StopView(
        order_id=order.id,
        status=order.status,
        size_bags=order.size_bags,
        area=coarse_point(order.dropoff),
        dropoff=order.dropoff if exact else None,
        address=order.dropoff_address if exact else None,
        recipient_first_name=first_name(order.recipient_name) if exact else None,
        window_earliest=order.window_earliest,
        window_latest=order.window_latest,
    )


BACK_IN_STORE = frozenset({OrderStatus.PENDING, OrderStatus.OFFERED, OrderStatus.FALLBACK})
"""Where an order a trip accepted can be only after it failed at the door and came back to the store."""


def stop_on_trip(order: Order, *, carried_here: bool) -> StopView:
    """An order in a trip's history: once it came back to the store and went on (with another shopper, the
    courier fleet or not yet), it is `returned` for this trip, and nothing of the recipient is shown."""
    if carried_here and order.status not in BACK_IN_STORE:
        return stop_for_shopper(order, accepted_by_them=True)
    return replace(stop_for_shopper(order, accepted_by_them=False), status=OrderStatus.RETURNED)


def offer_for_shopper(offer: Offer, orders: Mapping[UUID, Order], carrying: Mapping[UUID, UUID]) -> OfferView:
    """The offer as its shopper sees it. `carrying` names the trip that carries each order now: an order of an
    accepted offer that failed at the door and went on with someone else shows nothing of its recipient."""
    accepted = offer.status is OfferStatus.ACCEPTED
    return OfferView(
        offer=offer,
        stops=tuple(
            stop_for_shopper(orders[order_id], accepted_by_them=accepted and carrying.get(order_id) == offer.trip_id)
            for order_id in offer.stops
        ),
        reward_quote_cents=offer.reward_quote_cents,
    )
