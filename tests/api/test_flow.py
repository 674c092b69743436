"""The whole delivery flow over HTTP against real PostGIS and Redis: intake, check-in, batch, offer,
accept, pickup, delivery with proof; and what each audience sees on the way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from api_support import ON_THE_WAY, Account, ingest, trip_body
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Offer, Store
from routing.geo import GeoPoint


def test_order_goes_from_intake_to_delivered_over_http(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
) -> None:
    """Ingest, check in, batch, see the offer (coarse), accept (exact), pick up, deliver with proof."""
    receipt = ingest(client, ops, store, clock)
    shopper = make_shopper("Ana")
    trip = client.post("/shopper/trips", json=trip_body(store, clock), headers=shopper.headers)
    assert trip.status_code == 201, trip.text

    batch = client.post(f"/ops/stores/{store.id}/batches", headers=ops.headers)
    assert batch.status_code == 200, batch.text
    assert len(batch.json()["offers"]) == 1

    offer = client.get("/shopper/offers/current", headers=shopper.headers)
    assert offer.status_code == 200, offer.text
    stop = offer.json()["stops"][0]
    assert stop["order_id"] == receipt["order_id"]
    assert stop["address"] is None
    assert stop["dropoff"] is None
    assert stop["recipient_first_name"] is None
    assert abs(stop["area"]["lat"] - ON_THE_WAY.lat) <= 0.006
    assert receipt["delivery_code"] not in offer.text

    accepted = client.post(f"/shopper/offers/{offer.json()['id']}/accept", headers=shopper.headers)
    assert accepted.status_code == 200, accepted.text
    stop = accepted.json()["stops"][0]
    assert stop["address"] == "1200 Magnolia Dr, Tallahassee"
    assert stop["recipient_first_name"] == "Jade"
    assert receipt["delivery_code"] not in accepted.text

    pickup = client.post(
        f"/shopper/trips/{trip.json()['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=shopper.headers
    )
    assert pickup.status_code == 200, pickup.text
    assert pickup.json()["trip"]["status"] == "departed"

    clock.advance(timedelta(minutes=10))
    delivered = client.post(
        f"/shopper/orders/{receipt['order_id']}/delivery",
        json={"position": {"lat": ON_THE_WAY.lat + 0.0003, "lon": ON_THE_WAY.lon}, "code": receipt["delivery_code"]},
        headers=shopper.headers,
    )
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["status"] == "delivered"
    assert delivered.json()["trip_completed"] is True

    history = client.get("/shopper/trips", headers=shopper.headers)
    assert history.status_code == 200
    (item,) = history.json()["items"]
    assert item["stops"][0]["status"] == "delivered"
    assert item["stops"][0]["address"] is None
    assert "Magnolia" not in history.text

    order = client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers)
    assert order.json()["status"] == "delivered"
    with PostgresDispatchUnitOfWork(db) as uow:
        proofs = uow.proofs.list_for_order(UUID(receipt["order_id"]))
    assert [proof.accepted for proof in proofs] == [True]


def test_pickup_lists_the_stops_in_the_order_the_shopper_visits_them(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
) -> None:
    """The pickup's answer is the first time the shopper sees every address of the trip together: its stops
    follow the accepted offer's route, not the orders' ids (here the route runs against the ids' order)."""
    near = ingest(client, ops, store, clock, ref="WEB-NEAR")
    far = ingest(client, ops, store, clock, ref="WEB-FAR", dropoff=GeoPoint(30.4900, -84.2200))
    shopper = make_shopper("Ana")
    trip = client.post("/shopper/trips", json=trip_body(store, clock), headers=shopper.headers)
    assert trip.status_code == 201, trip.text
    route = tuple(sorted((UUID(near["order_id"]), UUID(far["order_id"])), reverse=True))
    now = clock.now()
    offer = Offer(UUID(trip.json()["id"]), route, 400, 48, Cents(450), now, now + timedelta(minutes=1))
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.offers.add(offer)
        for order_id in sorted(route):
            order = uow.orders.get(order_id, for_update=True)
            order.offer()
            uow.orders.save(order, at=now)
        uow.commit()

    accepted = client.post(f"/shopper/offers/{offer.id}/accept", headers=shopper.headers)
    assert accepted.status_code == 200, accepted.text
    assert [stop["order_id"] for stop in accepted.json()["stops"]] == [str(order_id) for order_id in route]
    pickup = client.post(
        f"/shopper/trips/{trip.json()['id']}/pickup",
        json={"bag_codes": [near["bag_code"], far["bag_code"]]},
        headers=shopper.headers,
    )
    assert pickup.status_code == 200, pickup.text
    assert [stop["order_id"] for stop in pickup.json()["stops"]] == [str(order_id) for order_id in route]
