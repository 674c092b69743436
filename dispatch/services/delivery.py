"""From the store's back room to the recipient's door: pickup, delivery with proof, failures, incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crowdship.errors import InvalidInput, NotFound
from crowdship.idempotency import Outcome
from crowdship.units import counted
from dispatch.errors import (
    DeliveryNotRecorded,
    DeliveryRefused,
    IllegalTransition,
    MissingBagCode,
    TooManyIncidents,
)
from dispatch.evidence import DeliveryProof
from dispatch.incidents import Incident, IncidentKind
from dispatch.model import STILL_CARRIED, Offer, OfferStatus, Order, OrderStatus, Trip, TripStatus
from dispatch.repositories import LiveUnitOfWork
from dispatch.rules import delivery_code_matches
from dispatch.services.context import DeliveredOrder, DispatchContext, created_once
from dispatch.services.moves import last_move, save_move
from dispatch.services.trips import owned_trip, trip_ended
from routing.distance import geodesic_m
from routing.geo import GeoPoint

MAX_INCIDENTS_PER_ORDER = 5
"""Reports one shopper may file on one order (the description of each is bounded by `dispatch.incidents`)."""


def confirm_pickup(ctx: DispatchContext, *, shopper_id: UUID, trip_id: UUID, bag_codes: list[str]) -> list[Order]:
    """The shopper scanned the bags of every accepted order: they leave the store and the trip departs. The
    orders come back in the order the shopper visits them (the accepted offers' stops), the route they follow.

    The same bags scanned again once the trip has left (a second tap, a retry after a lost answer) change
    nothing and answer with the orders it carries, as the first scan did."""
    scanned = {code.strip().upper() for code in bag_codes}
    with ctx.unit_of_work() as uow:
        trip = owned_trip(uow, shopper_id, trip_id, for_update=True)
        accepted = uow.orders.on_trips([trip.id], [OrderStatus.ACCEPTED])[trip.id]
        if not accepted:
            carried = _carried_out_of_the_store(uow, trip)
            if carried and _bag_codes(uow, carried) == scanned:
                return carried
            raise IllegalTransition("trip", trip.id, trip.status, "pickup without accepted orders")
        expected = _bag_codes(uow, accepted)
        if scanned != expected:
            raise InvalidInput(
                "bag_codes", _bags_not_matching(foreign=len(scanned - expected), missed=len(expected - scanned))
            )
        picked: dict[UUID, Order] = {}
        now = ctx.clock.now()
        for order in sorted(accepted, key=lambda order: order.id):  # locks taken in id order, as everywhere
            locked = uow.orders.get(order.id, for_update=True)
            locked.pick_up()
            save_move(uow, locked, now, "picked up")
            picked[locked.id] = locked
        trip.depart()
        uow.trips.save(trip, at=now)
        # An offer that was still open for this trip can no longer be served from the road.
        for offer in uow.offers.list_for_trip(trip.id, [OfferStatus.OPEN]):
            _withdraw(uow, offer.id, ctx)
        uow.commit()
        return [picked[order.id] for order in accepted]  # in the visiting order of the accepted offers


def _bags_not_matching(*, foreign: int, missed: int) -> str:
    """Both mistakes of a scan, when it made both: the shopper put a bag back and still has one to fetch."""
    said = []
    if foreign:
        said.append(f"{counted(foreign, 'scanned bag')} {'does' if foreign == 1 else 'do'} not belong to this trip")
    if missed:
        said.append(f"{counted(missed, 'bag')} of this trip {'was' if missed == 1 else 'were'} not scanned")
    return ", and ".join(said)


def _bag_codes(uow: LiveUnitOfWork, orders: list[Order]) -> set[str]:
    secrets = uow.secrets.for_orders([order.id for order in orders])
    unlabelled = [order.external_ref for order in orders if order.id not in secrets]
    if len(unlabelled) == 1:
        raise MissingBagCode(f"order {unlabelled[0]} has no bag code: it was not taken in through intake")
    if unlabelled:
        raise MissingBagCode(f"orders {', '.join(unlabelled)} have no bag code: they were not taken in through intake")
    return {secrets[order.id].bag_code for order in orders}


def _carried_out_of_the_store(uow: LiveUnitOfWork, trip: Trip) -> list[Order]:
    """What a trip that left the store took with it and still carries, in visiting order (nothing when it has
    not left)."""
    if trip.status is not TripStatus.DEPARTED:
        return []
    picked = uow.orders.on_trips([trip.id], [OrderStatus.PICKED_UP])[trip.id]
    carrying = uow.orders.carrying_trips([order.id for order in picked]) if picked else {}
    return [order for order in picked if carrying.get(order.id) == trip.id]


def _withdraw(uow: LiveUnitOfWork, offer_id: UUID, ctx: DispatchContext) -> None:
    offer = uow.offers.get(offer_id, for_update=True)
    now = ctx.clock.now()
    offer.withdraw(now)
    uow.offers.save(offer)
    for order_id in sorted(offer.stops):
        order = uow.orders.get(order_id, for_update=True)
        order.release(offer)
        save_move(uow, order, now, "left out when the trip departed: offer withdrawn")


def carried_order(
    uow: LiveUnitOfWork, shopper_id: UUID, order_id: UUID, *, for_update: bool = False
) -> tuple[Order, Trip]:
    """The order and the trip carrying it, if that trip is this shopper's; else not found. Locks the trip
    before the order, the order of locks every use case follows."""
    trip_id = uow.orders.carrying_trips([order_id]).get(order_id)
    trip = uow.trips.get(trip_id, for_update=for_update) if trip_id is not None else None
    if trip is None or trip.shopper_id != shopper_id:  # another shopper carries it now: nothing of theirs is told
        raise NotFound(f"order {order_id} not found")
    return uow.orders.get(order_id, for_update=for_update), trip


@dataclass(frozen=True)
class DeliveryResult:
    order: Order
    proof: DeliveryProof
    trip_completed: bool


def deliver(
    ctx: DispatchContext,
    *,
    shopper_id: UUID,
    order_id: UUID,
    position: GeoPoint,
    code: str,
    photo_ref: str | None = None,
) -> DeliveryResult:
    """Checks the proof (inside the geofence, the recipient's code) and marks the order delivered.

    Every attempt is recorded. A refused attempt raises `DeliveryRefused` after committing its proof; after
    the last allowed attempt the order fails and goes to the return flow. The rewards hook runs in the same
    transaction as the delivered state change, so a delivery is never recorded without its credit.
    """
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        order, trip = carried_order(uow, shopper_id, order_id, for_update=True)
        if order.status is OrderStatus.DELIVERED and (delivered := _delivery_by(uow, order, trip)) is not None:
            return delivered  # a second tap, or a retry after a lost answer: nothing more is recorded
        if order.status is not OrderStatus.PICKED_UP:
            first = "pick up the trip's bags first" if order.status is OrderStatus.ACCEPTED else ""
            raise IllegalTransition("order", order.id, order.status, OrderStatus.DELIVERED, first=first)
        distance = geodesic_m(position, order.dropoff)
        secret = uow.secrets.get(order.id)
        code_ok = delivery_code_matches(order.id, code, secret.delivery_code_hash)
        inside = distance <= ctx.config.geofence_m
        proof = DeliveryProof(
            order_id=order.id,
            trip_id=trip.id,
            position=position,
            recorded_at=now,
            distance_to_dropoff_m=distance,
            code_matched=code_ok,
            accepted=code_ok and inside,
            photo_ref=photo_ref,
        )
        uow.proofs.add(proof)
        if not proof.accepted:
            # Attempts are counted per shopper: an order requeued after a failure starts afresh with someone else,
            # never with the shopper who used up their attempts on it (on whichever of their trips).
            failures = _failures_of(uow, order.id, shopper_id)
            attempts_left = max(0, ctx.config.max_delivery_attempts - failures)
            completed = False
            if attempts_left == 0:
                order.fail()
                save_move(uow, order, now, "delivery failed")
                completed = _complete_if_done(uow, trip, now)
            uow.commit()
            if completed:
                trip_ended(ctx, trip)
            field, reason = (
                ("position", f"{distance:.0f} m from the drop-off, more than {ctx.config.geofence_m:.0f} m")
                if not inside
                else ("code", "the recipient's code does not match")
            )
            suffix = "; the order failed, bring it back to the store" if attempts_left == 0 else ""
            raise DeliveryRefused(field, f"{reason}{suffix}", attempts_left)
        order.deliver()
        save_move(uow, order, now, "delivered")
        if ctx.credit_delivery is not None:
            ctx.credit_delivery(uow, _delivered(uow, order.id, trip, now))
        completed = _complete_if_done(uow, trip, now)
        uow.commit()
    if completed:
        trip_ended(ctx, trip)
    return DeliveryResult(order, proof, completed)


def _delivery_by(uow: LiveUnitOfWork, order: Order, trip: Trip) -> DeliveryResult | None:
    """A delivered order's delivery as this trip made it (its accepted proof), as it was answered; None when
    another trip's proof (or none) says who delivered it."""
    accepted = [proof for proof in uow.proofs.list_for_order(order.id) if proof.accepted and proof.trip_id == trip.id]
    if not accepted:
        return None
    return DeliveryResult(order, accepted[-1], trip.status is TripStatus.COMPLETED)


def _delivered(uow: LiveUnitOfWork, order_id: UUID, trip: Trip, delivered_at: datetime) -> DeliveredOrder:
    """What the rewards hook is told of a delivery: the trip, its shopper and the accepted offer that carried
    the order (None for an order no offer carried)."""
    offer = _carrying_offer(uow, trip, order_id)
    return DeliveredOrder(
        order_id=order_id,
        trip_id=trip.id,
        shopper_id=trip.shopper_id,
        offer_id=offer.id if offer else None,
        reward_quote_cents=offer.reward_quote_cents if offer else None,
        delivered_at=delivered_at,
    )


def recorded_delivery(uow: LiveUnitOfWork, order_id: UUID) -> DeliveredOrder:
    """A delivered order as the rewards hook was told of it when it was delivered, read back from what was
    recorded (its accepted proof, the proof's trip, the offer that carried it): to credit it later when no
    reward could be credited then. `NotFound` for an unknown order; `DeliveryNotRecorded` when it is not
    delivered, or was marked delivered without a proof (nobody is known to have delivered it)."""
    order = uow.orders.get(order_id)
    if order.status is not OrderStatus.DELIVERED:
        raise DeliveryNotRecorded(f"order {order_id} is {order.status.value}, not delivered")
    accepted = [proof for proof in uow.proofs.list_for_order(order_id) if proof.accepted]
    if not accepted:
        raise DeliveryNotRecorded(f"order {order_id} has no accepted proof of delivery: who delivered it is unknown")
    proof = max(accepted, key=lambda each: each.recorded_at)
    return _delivered(uow, order_id, uow.trips.get(proof.trip_id), proof.recorded_at)


def _failures_of(uow: LiveUnitOfWork, order_id: UUID, shopper_id: UUID) -> int:
    refused = [proof for proof in uow.proofs.list_for_order(order_id) if not proof.accepted]
    shopper_of = {trip_id: uow.trips.get(trip_id).shopper_id for trip_id in {proof.trip_id for proof in refused}}
    return sum(1 for proof in refused if shopper_of[proof.trip_id] == shopper_id)


def _carrying_offer(uow: LiveUnitOfWork, trip: Trip, order_id: UUID) -> Offer | None:
    for offer in uow.offers.list_for_trip(trip.id, [OfferStatus.ACCEPTED]):
        if order_id in offer.stops:
            return offer
    return None


def _complete_if_done(uow: LiveUnitOfWork, trip: Trip, now: datetime) -> bool:
    """A departed trip is over once it carries nothing more: each order it accepted was delivered, failed or
    cancelled, or failed and went on from the store (requeued, to the courier fleet, with another trip)."""
    if trip.status is not TripStatus.DEPARTED:
        return False
    in_hand = [order.id for order in uow.orders.on_trips([trip.id], sorted(STILL_CARRIED))[trip.id]]
    carrying = uow.orders.carrying_trips(in_hand) if in_hand else {}
    if any(carrying.get(order_id) == trip.id for order_id in in_hand):
        return False
    trip.complete()
    uow.trips.save(trip, at=now)
    return True


def mark_returned(ctx: DispatchContext, *, order_id: UUID, actor_id: UUID | None = None) -> Order:
    """Operations took a failed order back into the store. Said again while it is still returned (only this
    move leads there) it changes nothing and answers with the order as it is."""
    with ctx.unit_of_work() as uow:
        order = uow.orders.get(order_id, for_update=True)
        if order.status is OrderStatus.RETURNED:
            return order
        order.return_to_store()
        save_move(uow, order, ctx.clock.now(), "bags back in the store", actor_id)
        uow.commit()
        return order


MAX_NOT_DELIVERED_REASON_CHARS = 200
"""How long the reason operations give for an order they mark not delivered may be (kept in its history)."""
NOT_DELIVERED_NOTE = "not delivered, said operations: "
"""How the order's history says it, before the reason."""


@dataclass(frozen=True)
class NotDelivered:
    order: Order
    trip_completed: bool
    """Nothing else was left to deliver on the trip that carried it: it ended, and its shopper may check in."""


def mark_not_delivered(
    ctx: DispatchContext, *, order_id: UUID, reason: str, actor_id: UUID | None = None
) -> NotDelivered:
    """Operations give up on a picked-up order whose shopper will not deliver it (deactivated, gone silent,
    the bags lost): it fails as a delivery whose last attempt was refused does, so that the return flow
    follows (`mark_returned`, then requeued, handed to the courier fleet or cancelled). The reason and who gave
    it go into its history. The trip that carried it ends when nothing else is left on it, and its shopper is
    told (best effort). Only a picked-up order: one still in the store is cancelled or released instead.

    Said again while the order is still failed by operations' word (a second click, a retry after a lost answer,
    whatever the reason given: the first one stays in the history) it changes nothing, tells nobody and answers
    with the order as it is; an order that failed at the door (its shopper's last refused attempt) is 409."""
    why = reason.strip()
    if not why:
        raise InvalidInput("reason", "say why the order will not be delivered")
    if len(why) > MAX_NOT_DELIVERED_REASON_CHARS:
        raise InvalidInput("reason", f"at most {MAX_NOT_DELIVERED_REASON_CHARS} characters")
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        trip_id = uow.orders.carrying_trips([order_id]).get(order_id)
        trip = uow.trips.get(trip_id, for_update=True) if trip_id is not None else None  # the trip before the order
        order = uow.orders.get(order_id, for_update=True)
        if order.status is OrderStatus.FAILED and last_move(uow, order.id, NOT_DELIVERED_NOTE):
            return NotDelivered(order, trip is not None and trip.status is TripStatus.COMPLETED)
        if order.status is not OrderStatus.PICKED_UP:
            raise IllegalTransition(
                "order", order.id, order.status, "not delivered (only a picked-up order is marked so)"
            )
        order.fail()
        save_move(uow, order, now, f"{NOT_DELIVERED_NOTE}{why}", actor_id)
        completed = trip is not None and _complete_if_done(uow, trip, now)
        uow.commit()
    if trip is not None:
        if completed:
            trip_ended(ctx, trip)
        if ctx.live is not None:
            ctx.live.publish_offer(trip.shopper_id, {"event": "order_not_delivered", "order_id": str(order.id)})
    return NotDelivered(order, completed)


def report_incident(
    ctx: DispatchContext,
    *,
    shopper_id: UUID,
    order_id: UUID,
    kind: IncidentKind,
    description: str,
    idempotency_key: str | None = None,
) -> Outcome[Incident]:
    """An incident on an order the shopper carries, at most `MAX_INCIDENTS_PER_ORDER` of theirs. With the
    shopper's key, a retry after a lost answer answers the incident it reported rather than a second one."""
    with ctx.unit_of_work() as uow:

        def report() -> Incident:
            order, trip = carried_order(uow, shopper_id, order_id, for_update=True)
            reported = [
                earlier for earlier in uow.incidents.list_for_order(order.id) if earlier.shopper_id == shopper_id
            ]
            if len(reported) >= MAX_INCIDENTS_PER_ORDER:
                raise TooManyIncidents(MAX_INCIDENTS_PER_ORDER)
            incident = Incident(
                order_id=order.id,
                trip_id=trip.id,
                shopper_id=shopper_id,
                kind=kind,
                description=description,
                reported_at=ctx.clock.now(),
            )
            uow.incidents.add(incident)
            return incident

        outcome = created_once(
            uow,
            scope=f"incidents:{shopper_id}",
            key=idempotency_key,
            request={"order_id": str(order_id), "kind": str(kind), "description": description},
            run=report,
            record_id=lambda created: created.id,
            fetch=uow.incidents.get,
        )
        uow.commit()
        return outcome
