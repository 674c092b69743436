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
from dispatch.model import OfferStatus, Order, Shopper, TrustTier
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


def barred_pairs(
    history: Iterable[PairOffer], now: datetime, *, reoffer_after: timedelta, max_offers: int
) -> set[tuple[UUID, UUID]]:
    """The (trip, order) pairs no batch may offer now. A shopper's answer stands: an order they accepted or
    declined never goes back to their trip, nor does one offered to it now. An offer they let expire is no
    answer (a notification missed at the till), so the order may go back once `reoffer_after` has passed since;
    one withdrawn under them (a bundle broken by a cancelled order) may go back at once; either way at most
    `max_offers` times in all, so that nobody is asked about the same order over and over."""
    barred: set[tuple[UUID, UUID]] = set()
    offers: Counter[tuple[UUID, UUID]] = Counter()
    for offer in history:
        pair = (offer.trip_id, offer.order_id)
        offers[pair] += 1
        answered = offer.status in (OfferStatus.OPEN, OfferStatus.ACCEPTED, OfferStatus.DECLINED)
        cooling = offer.status is OfferStatus.EXPIRED and now < offer.expires_at + reoffer_after
        if answered or cooling or offers[pair] >= max_offers:
            barred.add(pair)
    return barred


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
