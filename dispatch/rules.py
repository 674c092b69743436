"""Who may carry what, which order may go back to a trip, what a shopper may see, and how delivery codes are
checked. Plain functions, no I/O."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from crowdship.errors import InvalidInput
from crowdship.units import Cents
from dispatch.model import OfferStatus, Order, Shopper, TrustTier, is_drop_out
from routing.distance import geodesic_m, haversine_m
from routing.geo import GeoPoint

COARSE_STEP_DEGREES = 0.01
"""Roughly 1.1 km of latitude: fine enough to judge a detour, too coarse to find a door."""

DELIVERY_CODE_DIGITS = 6
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**13, 8, 1
"""About 25 ms and 8 MB per hash (a million codes: days of CPU), paid at intake and per delivery attempt."""


def coarse_point(point: GeoPoint, step: float = COARSE_STEP_DEGREES) -> GeoPoint:
    """The centre of the grid cell holding `point`: what a shopper sees before accepting."""
    return GeoPoint(round(round(point.lat / step) * step, 6), round(round(point.lon / step) * step, 6))


def first_name(full_name: str) -> str:
    """All a shopper needs to greet the recipient at the door."""
    return full_name.strip().split()[0]


def value_cap(tier: TrustTier, caps: Mapping[int, int | None]) -> Cents | None:
    """The largest order value a tier may carry; None means no cap. A tier missing from `caps` gets 0."""
    cap = caps.get(int(tier), 0)
    return None if cap is None else Cents(cap)


def refusal_reason(
    shopper: Shopper, order: Order, caps: Mapping[int, int | None], own_address_radius_m: float
) -> str | None:
    """Why this shopper may not carry this order, or None when they may."""
    cap = value_cap(shopper.trust_tier, caps)
    if cap is not None and order.value_cents > cap:
        return "trust_tier"
    if order.age_restricted and not shopper.identity_verified:
        return "identity"
    if shopper.home_location is not None and is_within(shopper.home_location, order.dropoff, own_address_radius_m):
        return "own_address"
    return None


@dataclass(frozen=True)
class PairOffer:
    """One offer of an order to a trip, as the rule on offering that order to that trip again reads it."""

    trip_id: UUID
    order_id: UUID
    status: OfferStatus
    expires_at: datetime
    shopper_id: UUID | None = None
    """The trip's shopper (None where the reader does not need it)."""
    accepted_at: datetime | None = None

    @property
    def dropped_out(self) -> bool:
        return is_drop_out(self.status, self.accepted_at)


def barred_pairs(
    history: Iterable[PairOffer],
    now: datetime,
    *,
    reoffer_after: timedelta,
    max_offers: int,
    trip_shoppers: Mapping[UUID, UUID] | None = None,
) -> set[tuple[UUID, UUID]]:
    """The (trip, order) pairs no batch may offer now. A shopper's answer stands: an order they accepted or
    declined never goes back to their trip, nor does one offered to it now. An offer they let expire is no
    answer (a notification missed at the till), so the order may go back once `reoffer_after` has passed since;
    one withdrawn under them (a bundle broken by a cancelled order) may go back at once; either way at most
    `max_offers` times in all, so that nobody is asked about the same order over and over. An order its
    shopper accepted and then dropped out of never goes back to any trip of theirs (`trip_shoppers`: the
    shopper of each trip that may be offered it): they saw its address once, and checking in again must not be
    a way to see it, or to hold it from others, again."""
    barred: set[tuple[UUID, UUID]] = set()
    offers: Counter[tuple[UUID, UUID]] = Counter()
    dropped: set[tuple[UUID, UUID]] = set()
    for offer in history:
        pair = (offer.trip_id, offer.order_id)
        offers[pair] += 1
        answered = offer.status in (OfferStatus.OPEN, OfferStatus.ACCEPTED, OfferStatus.DECLINED)
        cooling = offer.status is OfferStatus.EXPIRED and now < offer.expires_at + reoffer_after
        if answered or cooling or offers[pair] >= max_offers:
            barred.add(pair)
        if offer.dropped_out and offer.shopper_id is not None:
            dropped.add((offer.shopper_id, offer.order_id))
    if dropped and trip_shoppers:
        barred.update(
            (trip_id, order_id)
            for trip_id, shopper_id in trip_shoppers.items()
            for dropped_shopper, order_id in dropped
            if dropped_shopper == shopper_id
        )
    return barred


@dataclass(frozen=True)
class DropOut:
    """A shopper's accepted offer withdrawn with their trip before pickup (`dispatch.model.is_drop_out`), and when."""

    shopper_id: UUID
    at: datetime


@dataclass(frozen=True)
class DropOutLimit:
    """At most `max_drop_outs` drop-outs within any `window`: a shopper who reaches it is offered nothing until
    the oldest of them is `window` old (settings `CROWDSHIP_MAX_DROP_OUTS`, `CROWDSHIP_DROP_OUT_WINDOW_H`)."""

    max_drop_outs: int = 3
    window: timedelta = timedelta(hours=24)


def offers_resume_at(drop_outs: Iterable[datetime], now: datetime, limit: DropOutLimit) -> datetime | None:
    """When a shopper who dropped out at these instants may be offered orders again; None when they may now.
    Each accepted offer shows its recipients' addresses, so dropping out over and over would read them one
    after another: past the limit, new check-ins still work, but no batch offers them anything."""
    recent = sorted(at for at in drop_outs if now - limit.window < at <= now)
    if len(recent) < limit.max_drop_outs:
        return None
    return recent[-limit.max_drop_outs] + limit.window


def held_back_shoppers(drop_outs: Iterable[DropOut], now: datetime, limit: DropOutLimit) -> dict[UUID, datetime]:
    """The shoppers offered nothing now for their drop-outs (`offers_resume_at`), with when offers resume."""
    by_shopper: dict[UUID, list[datetime]] = {}
    for drop_out in drop_outs:
        by_shopper.setdefault(drop_out.shopper_id, []).append(drop_out.at)
    held = {shopper_id: offers_resume_at(times, now, limit) for shopper_id, times in by_shopper.items()}
    return {shopper_id: until for shopper_id, until in held.items() if until is not None}


SPHERE_ERROR_MARGIN = 1.01
"""Great-circle distance on the mean radius is within 0.6 % of the ellipsoid's: a 1 % margin never misjudges."""


def is_within(a: GeoPoint, b: GeoPoint, radius_m: float) -> bool:
    """Whether b lies within `radius_m` of a on the ellipsoid. A batch asks this for every (trip, order) pair,
    so the cheap great circle rules out the far pairs and only the near ones pay for the exact geodesic."""
    if haversine_m(a, b) > radius_m * SPHERE_ERROR_MARGIN:
        return False
    return geodesic_m(a, b) <= radius_m


def check_destination_near(store: GeoPoint, destination: GeoPoint, *, max_m: float) -> None:
    """A trip, and a commute profile that makes trips, ends within `max_m` (great circle) of its store: orders
    are matched to shoppers on their way home, and a destination farther off is a typo, not a commute.
    `InvalidInput` naming the destination and the limit otherwise."""
    if haversine_m(store, destination) > max_m:
        raise InvalidInput("destination", f"must be within {max_m / 1000:g} km of the store")


def hash_delivery_code(order_id: UUID, code: str, *, salt: bytes, work: int = SCRYPT_N) -> str:
    """What the database keeps of a recipient's code: a salted scrypt hash. The code is short, so the hash is
    slow on purpose (`work` is scrypt's N), and salted per order, so that a copy of the table does not give
    codes away in bulk. No server key goes into it: rotating the token key leaves every code valid."""
    digest = _scrypt(order_id, code, salt, work)
    return f"scrypt${work}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def delivery_code_matches(order_id: UUID, code: str, stored_hash: str) -> bool:
    """Checks the code against the stored hash, with the work factor the hash was made with."""
    try:
        scheme, n, r, p, salt, digest = stored_hash.split("$")
        work, salt_bytes = int(n), bytes.fromhex(salt)
    except ValueError:
        return False
    if scheme != "scrypt" or (int(r), int(p)) != (SCRYPT_R, SCRYPT_P) or not 2 <= work <= SCRYPT_N:
        return False
    return hmac.compare_digest(_scrypt(order_id, code, salt_bytes, work).hex(), digest)


def _scrypt(order_id: UUID, code: str, salt: bytes, work: int) -> bytes:
    message = order_id.bytes + code.strip().encode()
    return hashlib.scrypt(message, salt=salt, n=work, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
