"""A shopper's offer: see it, accept it, decline it."""

from __future__ import annotations

from uuid import UUID

from crowdship.errors import NotFound
from dispatch.errors import IllegalTransition
from dispatch.model import Offer, OfferStatus, Order, TripStatus
from dispatch.repositories import LiveUnitOfWork
from dispatch.services.context import DispatchContext
from dispatch.services.moves import save_move
from dispatch.views import OfferView, offer_for_shopper


def _owned_offer(uow: LiveUnitOfWork, shopper_id: UUID, offer_id: UUID, *, for_update: bool) -> Offer:
    """The offer, if it went to this shopper's trip; anyone else's is reported as not found.

    For an update the trip is locked before the offer, as every use case locks trip, then offer, then
    orders (in id order): one order of locks everywhere, so no two transactions deadlock.
    """
    offer = uow.offers.get(offer_id)
    if uow.trips.get(offer.trip_id, for_update=for_update).shopper_id != shopper_id:
        raise NotFound(f"offer {offer_id} not found")
    return uow.offers.get(offer_id, for_update=True) if for_update else offer


def _orders(uow: LiveUnitOfWork, offer: Offer, *, for_update: bool = False) -> dict[UUID, Order]:
    # Locks in id order, the same order everywhere, so that two transactions never wait on each other.
    return {order_id: uow.orders.get(order_id, for_update=for_update) for order_id in sorted(offer.stops)}


def _view(uow: LiveUnitOfWork, offer: Offer, orders: dict[UUID, Order]) -> OfferView:
    accepted = offer.status is OfferStatus.ACCEPTED
    return offer_for_shopper(offer, orders, uow.orders.carrying_trips(offer.stops) if accepted else {})


def current_offer(ctx: DispatchContext, *, shopper_id: UUID) -> OfferView:
    """The shopper's open, unexpired offer."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        trip = uow.trips.active_for_shopper(shopper_id)
        offers = [] if trip is None else uow.offers.list_for_trip(trip.id, [OfferStatus.OPEN])
        live = [offer for offer in offers if not offer.is_expired_at(now)]
        if not live:
            raise NotFound("no open offer")
        return _view(uow, live[0], _orders(uow, live[0]))


def get_offer(ctx: DispatchContext, *, shopper_id: UUID, offer_id: UUID) -> OfferView:
    with ctx.unit_of_work() as uow:
        offer = _owned_offer(uow, shopper_id, offer_id, for_update=False)
        return _view(uow, offer, _orders(uow, offer))


def accept_offer(ctx: DispatchContext, *, shopper_id: UUID, offer_id: UUID) -> OfferView:
    """Accepts an open offer before it expires: its orders become the shopper's to carry.

    The trip and offer rows are locked first, so of two racing requests (an accept and an expiry, a double
    tap) one waits for the other. Accepting an offer already accepted changes nothing and answers with it as
    it is, so that a second tap or a retry after a lost answer is harmless.
    """
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        offer = _owned_offer(uow, shopper_id, offer_id, for_update=True)
        if offer.status is OfferStatus.ACCEPTED:
            return _view(uow, offer, _orders(uow, offer))
        trip = uow.trips.get(offer.trip_id)
        offer.accept(now)
        if trip.status is not TripStatus.OPEN:
            raise IllegalTransition("trip", trip.id, trip.status, "accepting an offer")
        orders = _orders(uow, offer, for_update=True)
        for order in orders.values():
            order.accept()
            save_move(uow, order, now, "offer accepted")
        uow.offers.save(offer)
        uow.commit()
        return _view(uow, offer, orders)


def decline_offer(ctx: DispatchContext, *, shopper_id: UUID, offer_id: UUID) -> OfferView:
    """Declines an open offer; its orders go back to the pool, never to be offered to this trip again. Declining
    again answers with the declined offer (a second tap or a retry after a lost answer is harmless)."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        offer = _owned_offer(uow, shopper_id, offer_id, for_update=True)
        if offer.status is OfferStatus.DECLINED:
            return _view(uow, offer, _orders(uow, offer))
        offer.decline(now)
        orders = _orders(uow, offer, for_update=True)
        for order in orders.values():
            order.release(offer)
            save_move(uow, order, now, "offer declined")
        uow.offers.save(offer)
        uow.commit()
        return _view(uow, offer, orders)
