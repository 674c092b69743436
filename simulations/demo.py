"""The demo store: a supercentre on the edge of a mid-sized city, with shoppers checking in and online
orders waiting in the back room. A plan drawn deterministically from a seed; no I/O here. The loader
(`simulations.demo_loader`) puts it in the database through the same use cases as the live service."""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from crowdship.units import Cents
from dispatch.accounts import Role
from dispatch.model import Store, TrustTier
from dispatch.services.intake import OrderIntake
from routing.areas import circular_area, covers
from routing.geo import METRES_PER_DEGREE, GeoPoint

# Near Tallahassee, FL: the city whose census blocks the simulator can load for realistic homes.
DEMO_STORE_LOCATION = GeoPoint(30.4627, -84.2211)
DEMO_STORE_ID = uuid.uuid5(uuid.NAMESPACE_DNS, "store.demo.crowdship.example")
"""One id for every run and seed, so that loading the demo again finds the store it registered."""
SERVICE_RADIUS_M = 12_000.0
EMAIL_DOMAIN = "demo.crowdship.example"

FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gus", "Hana", "Ivo", "Jade", "Kofi", "Lena")
STREETS = ("Magnolia Dr", "Tharpe St", "Miccosukee Rd", "Thomasville Rd", "Park Ave", "Capital Cir NE")


@dataclass(frozen=True)
class DemoTrip:
    """How a demo shopper checks in: leaving within the next hours, so there is time to try the flow."""

    capacity_bags: int
    max_detour_m: int
    max_detour_s: int
    leave_in: timedelta


@dataclass(frozen=True)
class DemoShopper:
    email: str
    display_name: str
    trust_tier: TrustTier
    identity_verified: bool
    home: GeoPoint
    trip: DemoTrip | None
    """None: this shopper is registered but not in the store now."""


@dataclass(frozen=True)
class DemoStaff:
    email: str
    role: Role


@dataclass(frozen=True)
class DemoPlan:
    store: Store
    staff: list[DemoStaff]
    shoppers: list[DemoShopper]
    orders: list[OrderIntake]
    """Candidates in order; the loader ingests as many as the store needs to have `len(orders)` pending."""


def _point_near(rng: random.Random, center: GeoPoint, max_m: float) -> GeoPoint:
    """A point uniformly spread over the disc of `max_m` metres (small-distance approximation)."""
    distance = max_m * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / METRES_PER_DEGREE
    dlon = distance * math.sin(bearing) / (METRES_PER_DEGREE * math.cos(math.radians(center.lat)))
    return GeoPoint(round(center.lat + dlat, 6), round(center.lon + dlon, 6))


def build_demo_plan(now: datetime, *, seed: int = 7, shoppers: int = 8, orders: int = 20) -> DemoPlan:
    """The demo for this seed. Order references carry the minute they were drawn, so a later run tops the
    store up with new orders instead of colliding with the old ones. The store is the same whatever the seed:
    another seed draws other shoppers' trips and orders for it, not a second store of the same name that the
    shoppers' check-ins would move to, stranding the first one's orders."""
    rng = random.Random(seed)
    area = circular_area(DEMO_STORE_LOCATION, SERVICE_RADIUS_M)
    store = Store(
        id=DEMO_STORE_ID,
        name="Crowdship Supercentre Northeast",
        location=DEMO_STORE_LOCATION,
        service_area=area,
        fallback_cost_cents=Cents(899),
    )
    staff = [
        DemoStaff(f"ops@{EMAIL_DOMAIN}", Role.OPS),
        DemoStaff(f"finance-1@{EMAIL_DOMAIN}", Role.FINANCE),
        DemoStaff(f"finance-2@{EMAIL_DOMAIN}", Role.FINANCE),
    ]
    people: list[DemoShopper] = []
    for index in range(shoppers):
        name = FIRST_NAMES[index % len(FIRST_NAMES)]
        home = _point_near(rng, DEMO_STORE_LOCATION, SERVICE_RADIUS_M * 1.1)
        tier = TrustTier(rng.choice([0, 1, 1, 2, 3]))
        verified = rng.random() < 0.6
        # Most shoppers who are in the store now head home; the last one is registered but elsewhere.
        trip = (
            DemoTrip(
                capacity_bags=rng.choice([2, 3, 4, 6]),
                max_detour_m=rng.choice([1_500, 3_000, 5_000]),
                max_detour_s=rng.choice([300, 600, 900]),
                leave_in=timedelta(minutes=rng.randint(120, 240)),
            )
            if index < shoppers - 1
            else None
        )
        people.append(
            DemoShopper(
                email=f"{name.lower()}-{index + 1}@{EMAIL_DOMAIN}",
                display_name=f"{name} {chr(65 + index)}.",
                trust_tier=tier,
                identity_verified=verified,
                home=home,
                trip=trip,
            )
        )
    intakes: list[OrderIntake] = []
    while len(intakes) < orders:
        dropoff = _point_near(rng, DEMO_STORE_LOCATION, SERVICE_RADIUS_M)
        if not covers(area, dropoff):
            continue  # intake refuses addresses outside the area; so does the demo
        earliest = now + timedelta(minutes=rng.choice([0, 30, 60]))
        latest = earliest + timedelta(hours=rng.choice([2, 3, 4]))
        intakes.append(
            OrderIntake(
                store_id=store.id,
                external_ref=f"WEB-{now:%y%m%d-%H%M}-{len(intakes) + 1:02d}",
                dropoff=dropoff,
                dropoff_address=f"{rng.randint(100, 9999)} {rng.choice(STREETS)}",
                recipient_name=f"{rng.choice(FIRST_NAMES)} {rng.choice('BDGKMRSTW')}.",
                window_earliest=earliest,
                window_latest=latest,
                dispatch_deadline=latest - timedelta(minutes=45),
                size_bags=rng.choice([1, 1, 1, 2, 2, 3]),
                value_cents=Cents(rng.randint(1_500, 25_000)),
                age_restricted=rng.random() < 0.1,
                perishable=rng.random() < 0.3,
            )
        )
    return DemoPlan(store=store, staff=staff, shoppers=people, orders=intakes)
