"""The demo store: a supercentre on the edge of a mid-sized city, with shoppers checking in and online
orders waiting in the back room. Built deterministically from a seed; no I/O here."""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from crowdship.units import Cents
from dispatch.model import Order, Shopper, Store, Trip, TrustTier
from routing.areas import circular_area, covers
from routing.geo import GeoPoint

# Near Tallahassee, FL: the city whose census blocks the simulator can load for realistic homes.
DEMO_STORE_LOCATION = GeoPoint(30.4627, -84.2211)
SERVICE_RADIUS_M = 12_000.0

FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gus", "Hana", "Ivo", "Jade", "Kofi", "Lena")
STREETS = ("Magnolia Dr", "Tharpe St", "Miccosukee Rd", "Thomasville Rd", "Park Ave", "Capital Cir NE")


@dataclass(frozen=True)
class DemoStore:
    store: Store
    shoppers: list[Shopper]
    trips: list[Trip]
    orders: list[Order]


def _point_near(rng: random.Random, center: GeoPoint, max_m: float) -> GeoPoint:
    """A point uniformly spread over the disc of `max_m` metres (small-distance approximation)."""
    distance = max_m * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111_320.0
    dlon = distance * math.sin(bearing) / (111_320.0 * math.cos(math.radians(center.lat)))
    return GeoPoint(round(center.lat + dlat, 6), round(center.lon + dlon, 6))


def _id(rng: random.Random) -> uuid.UUID:
    """Ids drawn from the seed, so that loading the same demo twice finds the first load."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def build_demo_store(now: datetime, *, seed: int = 7, shoppers: int = 8, orders: int = 20) -> DemoStore:
    rng = random.Random(seed)
    area = circular_area(DEMO_STORE_LOCATION, SERVICE_RADIUS_M)
    store = Store(
        id=_id(rng),
        name="Crowdship Supercentre Northeast",
        location=DEMO_STORE_LOCATION,
        service_area=area,
        fallback_cost_cents=Cents(899),
    )
    people: list[Shopper] = []
    trips: list[Trip] = []
    for index in range(shoppers):
        home = _point_near(rng, DEMO_STORE_LOCATION, SERVICE_RADIUS_M * 1.1)
        shopper = Shopper(
            id=_id(rng),
            display_name=f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {chr(65 + index)}.",
            trust_tier=TrustTier(rng.choice([0, 1, 1, 2, 3])),
            identity_verified=rng.random() < 0.6,
            home_location=home,
        )
        people.append(shopper)
        # Most shoppers who are in the store now head home; a few check in for later.
        if index < shoppers - 1:
            checked_in = now - timedelta(minutes=rng.randint(1, 20))
            trips.append(
                Trip(
                    id=_id(rng),
                    shopper_id=shopper.id,
                    store_id=store.id,
                    destination=home,
                    capacity_bags=rng.choice([2, 3, 4, 6]),
                    max_detour_m=rng.choice([1_500, 3_000, 5_000]),
                    max_detour_s=rng.choice([300, 600, 900]),
                    checked_in_at=checked_in,
                    leave_by=checked_in + timedelta(minutes=rng.randint(25, 60)),
                )
            )
    pending: list[Order] = []
    while len(pending) < orders:
        dropoff = _point_near(rng, DEMO_STORE_LOCATION, SERVICE_RADIUS_M)
        if not covers(area, dropoff):
            continue  # intake refuses addresses outside the area; so does the demo
        earliest = now + timedelta(minutes=rng.choice([30, 60, 90]))
        latest = earliest + timedelta(hours=rng.choice([1, 2, 3]))
        number = len(pending) + 1
        pending.append(
            Order(
                id=_id(rng),
                store_id=store.id,
                external_ref=f"WEB-{10_000 + number}",
                dropoff=dropoff,
                dropoff_address=f"{rng.randint(100, 9999)} {rng.choice(STREETS)}",
                recipient_name=rng.choice(FIRST_NAMES),
                window_earliest=earliest,
                window_latest=latest,
                dispatch_deadline=latest - timedelta(minutes=45),
                size_bags=rng.choice([1, 1, 1, 2, 2, 3]),
                value_cents=Cents(rng.randint(1_500, 25_000)),
                age_restricted=rng.random() < 0.1,
                perishable=rng.random() < 0.3,
                created_at=now - timedelta(minutes=rng.randint(0, 30)),
            )
        )
    return DemoStore(store=store, shoppers=people, trips=trips, orders=pending)
