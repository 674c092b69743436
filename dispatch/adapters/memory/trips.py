"""Trips and offers in memory, with the database's partial unique rules."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from crowdship.errors import NotFound
from crowdship.pages import Page
from dispatch.adapters.memory.database import ACTIVE_TRIP, MemoryRepository, copy_of, index_add, index_remove
from dispatch.errors import AlreadyOffered, AlreadyOnTrip
from dispatch.model import Offer, OfferStatus, Trip, TripStatus, is_drop_out
from dispatch.repositories import AnsweredOffer
from dispatch.rules import DropOut, PairOffer
from routing.distance import haversine_m
from routing.geo import GeoPoint


class MemoryTripRepository(MemoryRepository):
    def add(self, trip: Trip) -> None:
        db = self._db
        if trip.status in ACTIVE_TRIP and trip.shopper_id in db.active_trip_of_shopper:
            raise AlreadyOnTrip
        stored = db.trips[trip.id] = copy_of(trip)
        index_add(db.trips_by_store.setdefault(trip.store_id, {}), stored.status, trip.id)
        if stored.status in ACTIVE_TRIP:
            db.active_trip_of_shopper[trip.shopper_id] = trip.id

        def undo() -> None:
            db.trips.pop(trip.id, None)
            index_remove(db.trips_by_store[trip.store_id], stored.status, trip.id)
            if db.active_trip_of_shopper.get(trip.shopper_id) == trip.id:
                del db.active_trip_of_shopper[trip.shopper_id]

        db.record(undo)

    def get(self, trip_id: UUID, *, for_update: bool = False) -> Trip:  # noqa: ARG002
        try:
            return copy_of(self._db.trips[trip_id])
        except KeyError:
            raise NotFound(f"trip {trip_id} not found") from None

    def save(self, trip: Trip, *, at: datetime) -> None:  # noqa: ARG002 - no change times kept in memory
        db = self._db
        stored = db.trips[trip.id]
        before, status = stored.status, trip.status
        if before is status:
            return
        index = db.trips_by_store[stored.store_id]
        index_remove(index, before, stored.id)
        index_add(index, status, stored.id)
        stored.status = status
        was_active = before in ACTIVE_TRIP
        if was_active and status not in ACTIVE_TRIP:
            db.active_trip_of_shopper.pop(stored.shopper_id, None)

        def undo() -> None:
            index_remove(index, status, stored.id)
            index_add(index, before, stored.id)
            stored.status = before
            if was_active:
                db.active_trip_of_shopper[stored.shopper_id] = stored.id

        db.record(undo)

    def _sorted(self, trips: Iterable[Trip]) -> list[Trip]:
        return [copy_of(trip) for trip in sorted(trips, key=lambda t: (t.checked_in_at, t.id))]

    def list_for_store(self, store_id: UUID, statuses: Sequence[TripStatus] | None = None) -> list[Trip]:
        index = self._db.trips_by_store.get(store_id, {})
        wanted = index.keys() if statuses is None else statuses
        return self._sorted(self._db.trips[trip_id] for status in wanted for trip_id in index.get(status, {}))

    def open_within(self, point: GeoPoint, radius_m: float, store_id: UUID | None = None) -> list[Trip]:
        return self._sorted(
            trip
            for trip in self._db.trips.values()
            if trip.status is TripStatus.OPEN
            and (store_id is None or trip.store_id == store_id)
            and haversine_m(trip.destination, point) <= radius_m
        )

    def active_for_shopper(self, shopper_id: UUID, *, for_update: bool = False) -> Trip | None:  # noqa: ARG002
        trip_id = self._db.active_trip_of_shopper.get(shopper_id)
        return None if trip_id is None else copy_of(self._db.trips[trip_id])

    def on_a_trip(self, shopper_ids: Sequence[UUID]) -> set[UUID]:
        return {shopper_id for shopper_id in shopper_ids if shopper_id in self._db.active_trip_of_shopper}

    def shoppers_of(self, trip_ids: Collection[UUID]) -> Mapping[UUID, UUID]:
        return {trip_id: self._db.trips[trip_id].shopper_id for trip_id in trip_ids if trip_id in self._db.trips}

    def page(
        self,
        *,
        store_id: UUID | None,
        shopper_id: UUID | None,
        statuses: Sequence[TripStatus] | None,
        limit: int,
        offset: int,
    ) -> Page[Trip]:
        chosen = [
            trip
            for trip in self._db.trips.values()
            if (store_id is None or trip.store_id == store_id)
            and (shopper_id is None or trip.shopper_id == shopper_id)
            and (statuses is None or trip.status in statuses)
        ]
        chosen.sort(key=lambda t: t.id)
        chosen.sort(key=lambda t: t.checked_in_at, reverse=True)
        return Page([copy_of(trip) for trip in chosen[offset : offset + limit]], len(chosen))

    def open_of_active_accounts(self, store_id: UUID) -> list[Trip]:
        inactive = {user.shopper_id for user in self._db.users.values() if not user.active}
        return [trip for trip in self.list_for_store(store_id, [TripStatus.OPEN]) if trip.shopper_id not in inactive]

    def past_leave_by(self, store_id: UUID, now: datetime) -> list[Trip]:
        open_ids = self._db.trips_by_store.get(store_id, {}).get(TripStatus.OPEN, {})
        due = [self._db.trips[trip_id] for trip_id in open_ids if self._db.trips[trip_id].leave_by <= now]
        return [copy_of(trip) for trip in sorted(due, key=lambda t: (t.leave_by, t.id))]

    def checked_in_between(self, store_id: UUID, since: datetime, until: datetime, limit: int) -> list[Trip]:
        index = self._db.trips_by_store.get(store_id, {})
        chosen = [
            trip
            for ids in index.values()
            for trip in (self._db.trips[trip_id] for trip_id in ids)
            if since <= trip.checked_in_at <= until
        ]
        chosen.sort(key=lambda t: (t.checked_in_at, t.id))
        return [copy_of(trip) for trip in chosen[-limit:]] if limit > 0 else []


_ANSWERED = frozenset({OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.EXPIRED})


class MemoryOfferRepository(MemoryRepository):
    def add(self, offer: Offer) -> None:
        db = self._db
        if offer.status is OfferStatus.OPEN and (
            offer.trip_id in db.open_offer_of_trip or any(order in db.open_offer_of_order for order in offer.stops)
        ):
            raise AlreadyOffered(f"offer {offer.id}: an order or the trip already has an open offer")
        stored = copy_of(offer)
        db.offers[offer.id] = stored
        db.offers_of_trip.setdefault(offer.trip_id, []).append(offer.id)
        for order_id in offer.stops:
            db.offers_of_order.setdefault(order_id, []).append(offer.id)
        if offer.status is OfferStatus.OPEN:
            self._open(stored)

        def undo() -> None:
            if stored.status is OfferStatus.OPEN:
                self._close(stored)
            db.offers.pop(offer.id, None)
            db.offers_of_trip[offer.trip_id].remove(offer.id)
            for order_id in offer.stops:
                db.offers_of_order[order_id].remove(offer.id)

        db.record(undo)

    def _store_of(self, offer: Offer) -> UUID:
        return self._db.trips[offer.trip_id].store_id

    def _open(self, offer: Offer) -> None:
        db = self._db
        db.open_offer_of_trip[offer.trip_id] = offer.id
        for order_id in offer.stops:
            db.open_offer_of_order[order_id] = offer.id
        index_add(db.open_offers_of_store, self._store_of(offer), offer.id)

    def _close(self, offer: Offer) -> None:
        db = self._db
        db.open_offer_of_trip.pop(offer.trip_id, None)
        for order_id in offer.stops:
            db.open_offer_of_order.pop(order_id, None)
        index_remove(db.open_offers_of_store, self._store_of(offer), offer.id)

    def busy_trips(self, trip_ids: Collection[UUID]) -> set[UUID]:
        db = self._db
        holding = (OfferStatus.OPEN, OfferStatus.ACCEPTED)
        return {
            trip_id
            for trip_id in trip_ids
            if any(db.offers[offer_id].status in holding for offer_id in db.offers_of_trip.get(trip_id, []))
        }

    def get(self, offer_id: UUID, *, for_update: bool = False) -> Offer:  # noqa: ARG002
        try:
            return copy_of(self._db.offers[offer_id])
        except KeyError:
            raise NotFound(f"offer {offer_id} not found") from None

    def save(self, offer: Offer) -> None:
        db = self._db
        stored = db.offers[offer.id]
        before = (stored.status, stored.resolved_at, stored.accepted_at)
        after = (offer.status, offer.resolved_at, offer.accepted_at)
        if before == after:
            return
        if before[0] is OfferStatus.OPEN and after[0] is not OfferStatus.OPEN:
            self._close(stored)
        stored.status, stored.resolved_at, stored.accepted_at = after
        dropped = None
        if stored.dropped_out and not is_drop_out(before[0], before[2]) and stored.resolved_at is not None:
            dropped = DropOut(db.trips[stored.trip_id].shopper_id, stored.resolved_at)
            db.drop_outs.append(dropped)

        def undo() -> None:
            stored.status, stored.resolved_at, stored.accepted_at = before
            if before[0] is OfferStatus.OPEN and after[0] is not OfferStatus.OPEN:
                self._open(stored)
            if dropped is not None:
                db.drop_outs.remove(dropped)

        db.record(undo)

    def list_for_trip(self, trip_id: UUID, statuses: Sequence[OfferStatus] | None = None) -> list[Offer]:
        db = self._db
        offers = [db.offers[offer_id] for offer_id in db.offers_of_trip.get(trip_id, [])]
        chosen = [offer for offer in offers if statuses is None or offer.status in statuses]
        return [copy_of(offer) for offer in sorted(chosen, key=lambda f: (f.created_at, f.id))]

    def open_past_expiry(self, store_id: UUID, now: datetime) -> list[Offer]:
        db = self._db
        due = [
            db.offers[offer_id]
            for offer_id in db.open_offers_of_store.get(store_id, {})
            if db.offers[offer_id].expires_at <= now
        ]
        return [copy_of(offer) for offer in sorted(due, key=lambda f: (f.expires_at, f.id))]

    def open_trip_of_order(self, order_id: UUID) -> UUID | None:
        offer_id = self._db.open_offer_of_order.get(order_id)
        return None if offer_id is None else self._db.offers[offer_id].trip_id

    def pair_offers(self, order_ids: Sequence[UUID]) -> list[PairOffer]:
        db = self._db
        offers = [
            (db.offers[offer_id], order_id)
            for order_id in set(order_ids)
            for offer_id in db.offers_of_order.get(order_id, [])
        ]
        offers.sort(key=lambda pair: (pair[0].created_at, pair[0].id))
        return [
            PairOffer(
                offer.trip_id,
                order_id,
                offer.status,
                offer.expires_at,
                db.trips[offer.trip_id].shopper_id,
                offer.accepted_at,
            )
            for offer, order_id in offers
        ]

    def drop_outs(self, shopper_ids: Collection[UUID], since: datetime) -> list[DropOut]:
        wanted = set(shopper_ids)
        return [each for each in self._db.drop_outs if each.shopper_id in wanted and each.at > since]

    def for_order(self, order_id: UUID) -> list[Offer]:
        offers = [self._db.offers[offer_id] for offer_id in self._db.offers_of_order.get(order_id, [])]
        return [copy_of(offer) for offer in sorted(offers, key=lambda f: (f.created_at, f.id))]

    def page_for_order(self, order_id: UUID, *, limit: int, offset: int) -> Page[Offer]:
        offers = self.for_order(order_id)
        return Page(offers[offset : offset + limit], len(offers))

    def for_order_within(self, order_id: UUID, *, since: datetime | None, until: datetime | None) -> list[Offer]:
        def within(at: datetime | None) -> bool:
            return at is not None and (since is None or at >= since) and (until is None or at < until)

        return [offer for offer in self.for_order(order_id) if within(offer.created_at) or within(offer.resolved_at)]

    def answered(self, *, store_id: UUID | None, since: datetime, limit: int) -> list[AnsweredOffer]:
        db = self._db
        chosen = [
            offer
            for offer in db.offers.values()
            if offer.status in _ANSWERED
            and offer.created_at >= since
            and (store_id is None or self._store_of(offer) == store_id)
        ]
        chosen.sort(key=lambda f: f.id)
        chosen.sort(key=lambda f: f.created_at, reverse=True)
        return [
            AnsweredOffer(copy_of(offer), sum(db.orders[order_id].size_bags for order_id in offer.stops))
            for offer in chosen[:limit]
        ]

    def page(
        self, *, store_id: UUID | None, statuses: Sequence[OfferStatus] | None, limit: int, offset: int
    ) -> Page[Offer]:
        chosen = [
            offer
            for offer in self._db.offers.values()
            if (store_id is None or self._store_of(offer) == store_id)
            and (statuses is None or offer.status in statuses)
        ]
        chosen.sort(key=lambda f: f.id)
        chosen.sort(key=lambda f: f.created_at, reverse=True)
        return Page([copy_of(offer) for offer in chosen[offset : offset + limit]], len(chosen))
