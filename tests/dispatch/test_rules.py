"""Who may carry what, what a shopper sees before accepting, and the delivery code's salted hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from geopy.distance import geodesic
from hypothesis import given
from hypothesis import strategies as st

from crowdship.units import Cents
from dispatch.model import OfferStatus, Order, Shopper, TrustTier
from dispatch.rules import (
    PairOffer,
    barred_pairs,
    coarse_point,
    delivery_code_matches,
    first_name,
    hash_delivery_code,
    is_within,
    refusal_reason,
)
from routing.distance import geodesic_m
from routing.geo import GeoPoint

CAPS = {0: 5_000, 1: 15_000, 2: 40_000, 3: None}
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def _order(value: int = 2_000, *, age_restricted: bool = False, dropoff: GeoPoint | None = None) -> Order:
    return Order(
        store_id=uuid4(),
        external_ref="WEB-1",
        dropoff=dropoff or GeoPoint(30.48, -84.22),
        dropoff_address="1 Main St",
        recipient_name="Jade Moreau",
        window_earliest=NOW,
        window_latest=NOW + timedelta(hours=2),
        dispatch_deadline=NOW + timedelta(hours=1),
        size_bags=1,
        value_cents=Cents(value),
        created_at=NOW,
        age_restricted=age_restricted,
    )


@given(st.floats(-89.9, 89.9), st.floats(-179.9, 179.9))
def test_the_coarse_area_is_within_a_kilometre_and_hides_the_exact_point(lat: float, lon: float) -> None:
    """The rounded point lies within ~800 m of the real one and is the same for the whole 0.01° cell."""
    point = GeoPoint(lat, lon)
    area = coarse_point(point)
    assert geodesic_m(point, area) <= 800
    assert coarse_point(area) == area


def test_value_caps_follow_the_trust_tier() -> None:
    """A new shopper may not carry an order above 50.00; a gold one may carry anything."""
    big = _order(20_000)
    assert refusal_reason(Shopper("A", trust_tier=TrustTier.NEW), big, CAPS, 100) == "trust_tier"
    assert refusal_reason(Shopper("A", trust_tier=TrustTier.SILVER), big, CAPS, 100) is None
    assert refusal_reason(Shopper("A", trust_tier=TrustTier.GOLD), _order(10**8), CAPS, 100) is None


def test_age_restricted_orders_need_a_verified_identity() -> None:
    order = _order(age_restricted=True)
    assert refusal_reason(Shopper("A", identity_verified=False), order, CAPS, 100) == "identity"
    assert refusal_reason(Shopper("A", identity_verified=True), order, CAPS, 100) is None


def test_nobody_gets_an_order_to_their_own_address() -> None:
    """A drop-off 50 m from home is refused with a 100 m radius; 500 m away is fine."""
    home = GeoPoint(30.48, -84.22)
    shopper = Shopper("A", home_location=home)
    assert refusal_reason(shopper, _order(dropoff=GeoPoint(30.48045, -84.22)), CAPS, 100) == "own_address"
    assert refusal_reason(shopper, _order(dropoff=GeoPoint(30.4845, -84.22)), CAPS, 100) is None


def test_only_the_code_and_order_it_was_hashed_for_match_the_stored_hash() -> None:
    """The stored hash is salted per order and needs no server key: the code matches it (spaces around it
    forgiven); another code or another order does not; the same code hashed twice gives two hashes."""
    order_id = uuid4()
    stored = hash_delivery_code(order_id, "042917", salt=b"0123456789abcdef")
    assert "042917" not in stored
    assert delivery_code_matches(order_id, "042917", stored)
    assert delivery_code_matches(order_id, " 042917 ", stored)
    assert not delivery_code_matches(order_id, "042918", stored)
    assert not delivery_code_matches(uuid4(), "042917", stored)
    assert hash_delivery_code(order_id, "042917", salt=b"fedcba9876543210") != stored


def test_a_malformed_stored_hash_never_matches() -> None:
    order_id = uuid4()
    for stored in ("", "not-a-hash", "scrypt$1$8$1$00$00", "md5$16384$8$1$00$00"):
        assert not delivery_code_matches(order_id, "042917", stored)


def test_a_shopper_greets_the_recipient_by_first_name_only() -> None:
    assert first_name("  Jade   Moreau ") == "Jade"


@given(
    lat=st.floats(-80, 80),
    lon=st.floats(-179, 179),
    bearing=st.floats(0, 360),
    distance_m=st.floats(0, 400),
    radius_m=st.floats(1, 300),
)
def test_the_quick_within_check_decides_exactly_like_the_geodesic(
    lat: float, lon: float, bearing: float, distance_m: float, radius_m: float
) -> None:
    """The great-circle shortcut only skips pairs that the exact ellipsoidal distance would also refuse."""
    home = GeoPoint(lat, lon)
    moved = geodesic(meters=distance_m).destination((lat, lon), bearing)
    dropoff = GeoPoint(moved.latitude, moved.longitude)
    assert is_within(home, dropoff, radius_m) == (geodesic_m(home, dropoff) <= radius_m)


REOFFER_AFTER = timedelta(minutes=5)


def _barred(*offers: tuple[OfferStatus, timedelta], max_offers: int = 3) -> bool:
    """Whether the pair may not be offered at NOW after these offers (status, expiry relative to NOW)."""
    trip_id, order_id = uuid4(), uuid4()
    history = [PairOffer(trip_id, order_id, status, NOW + expiry) for status, expiry in offers]
    other = PairOffer(uuid4(), order_id, OfferStatus.DECLINED, NOW)  # another trip's answer bars only that trip
    barred = barred_pairs([*history, other], NOW, reoffer_after=REOFFER_AFTER, max_offers=max_offers)
    assert (other.trip_id, order_id) in barred
    return (trip_id, order_id) in barred


def test_a_shoppers_answer_keeps_the_order_off_their_trip_for_good() -> None:
    """Accepted or declined, days ago: never again; an offer open now: not a second one."""
    assert _barred((OfferStatus.DECLINED, -timedelta(days=2)))
    assert _barred((OfferStatus.ACCEPTED, -timedelta(days=2)))
    assert _barred((OfferStatus.OPEN, timedelta(seconds=30)))
    assert not _barred()


def test_an_unanswered_offer_may_go_back_to_the_trip_after_the_cooling_off() -> None:
    assert _barred((OfferStatus.EXPIRED, -REOFFER_AFTER + timedelta(seconds=1)))
    assert not _barred((OfferStatus.EXPIRED, -REOFFER_AFTER))


def test_an_offer_withdrawn_under_the_shopper_may_go_back_at_once() -> None:
    """A bundle broken by a cancelled order: its other orders may go straight back to the same trip."""
    assert not _barred((OfferStatus.WITHDRAWN, timedelta(seconds=30)))


def test_nobody_is_asked_about_the_same_order_more_than_the_most_offers() -> None:
    long_ago = -timedelta(hours=1)
    assert not _barred((OfferStatus.EXPIRED, long_ago), (OfferStatus.WITHDRAWN, long_ago))
    assert _barred((OfferStatus.EXPIRED, long_ago), (OfferStatus.WITHDRAWN, long_ago), (OfferStatus.EXPIRED, long_ago))
    assert _barred((OfferStatus.EXPIRED, long_ago), max_offers=1)


def test_a_destination_farther_from_the_store_than_allowed_is_refused_naming_the_limit() -> None:
    """One rule for a trip's check-in and a commute profile's: the same limit, the same words."""
    from crowdship.errors import InvalidInput
    from dispatch.rules import check_destination_near
    from routing.geo import GeoPoint

    store = GeoPoint(30.4627, -84.2211)
    check_destination_near(store, GeoPoint(30.55, -84.2211), max_m=15_000)
    with pytest.raises(InvalidInput) as refused:
        check_destination_near(store, GeoPoint(30.65, -84.2211), max_m=15_000)
    assert refused.value.field == "destination"
    assert refused.value.message == "destination: must be within 15 km of the store"
