"""Each bad path of a delivery: wrong code, outside the geofence, exhausted attempts and the return flow,
bags that do not match, illegal moves, and Redis flushed in the middle of a flow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import redis
from api_support import (
    ON_THE_WAY,
    Account,
    assert_problem,
    check_in,
    current_offer,
    ingest,
    run_batch,
)
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from dispatch.adapters.live import RedisLiveState
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store
from routing.geo import GeoPoint

NEAR_DOOR = {"lat": ON_THE_WAY.lat + 0.0005, "lon": ON_THE_WAY.lon}
"""About 55 m from the drop-off: inside the 150 m geofence."""
ACROSS_TOWN = {"lat": ON_THE_WAY.lat + 0.01, "lon": ON_THE_WAY.lon}
"""About 1.1 km away."""


def _picked_up(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, shopper: Account
) -> tuple[dict[str, Any], dict[str, Any]]:
    receipt = ingest(client, ops, store, clock)
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    offer = current_offer(client, shopper)
    assert client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers).status_code == 200
    pickup = client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=shopper.headers
    )
    assert pickup.status_code == 200, pickup.text
    return receipt, trip


def _deliver(
    client: TestClient, shopper: Account, receipt: dict[str, Any], position: dict[str, float], code: str
) -> Any:
    return client.post(
        f"/shopper/orders/{receipt['order_id']}/delivery",
        json={"position": position, "code": code},
        headers=shopper.headers,
    )


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_a_wrong_code_is_refused_and_counts_as_an_attempt(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Right place, wrong code: 422 naming `code`, two attempts left, the order still picked up."""
    shopper = make_shopper()
    receipt, _ = _picked_up(client, ops, store, clock, shopper)
    problem = assert_problem(_deliver(client, shopper, receipt, NEAR_DOOR, _wrong(receipt["delivery_code"])), 422)
    assert problem["errors"][0]["field"] == "code"
    assert problem["attempts_left"] == 2
    assert client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"] == "picked_up"


def test_a_reissued_code_replaces_the_lost_one(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Ops issue a new code for an order on its way: the old code is refused, the new one delivers."""
    shopper = make_shopper()
    receipt, _ = _picked_up(client, ops, store, clock, shopper)
    reissued = client.post(f"/ops/orders/{receipt['order_id']}/delivery-code", headers=ops.headers)
    assert reissued.status_code == 200, reissued.text
    new_code = reissued.json()["delivery_code"]
    assert len(new_code) == 6
    assert new_code.isdigit()
    if new_code != receipt["delivery_code"]:
        assert_problem(_deliver(client, shopper, receipt, NEAR_DOOR, receipt["delivery_code"]), 422)
    assert _deliver(client, shopper, receipt, NEAR_DOOR, new_code).status_code == 200
    assert_problem(client.post(f"/ops/orders/{receipt['order_id']}/delivery-code", headers=ops.headers), 409)


def test_a_proof_outside_the_geofence_is_refused(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Right code, 1 km away: 422 naming `position`; the attempt is kept as proof."""
    shopper = make_shopper()
    receipt, _ = _picked_up(client, ops, store, clock, shopper)
    problem = assert_problem(_deliver(client, shopper, receipt, ACROSS_TOWN, receipt["delivery_code"]), 422)
    assert problem["errors"][0]["field"] == "position"
    assert _deliver(client, shopper, receipt, NEAR_DOOR, receipt["delivery_code"]).status_code == 200


def test_after_three_failed_attempts_the_order_fails_and_returns_to_the_store(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
) -> None:
    """Three refused proofs: the order fails (trip completes); a fourth try is a 409; ops take it back."""
    from uuid import UUID

    shopper = make_shopper()
    receipt, trip = _picked_up(client, ops, store, clock, shopper)
    wrong = _wrong(receipt["delivery_code"])
    left = [
        assert_problem(_deliver(client, shopper, receipt, NEAR_DOOR, wrong), 422)["attempts_left"] for _ in range(3)
    ]
    assert left == [2, 1, 0]
    assert client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"] == "failed"
    assert_problem(_deliver(client, shopper, receipt, NEAR_DOOR, receipt["delivery_code"]), 409)
    with PostgresDispatchUnitOfWork(db) as uow:
        assert len(uow.proofs.list_for_order(UUID(receipt["order_id"]))) == 3
        assert uow.trips.get(UUID(trip["id"])).status == "completed"
    returned = client.post(f"/ops/orders/{receipt['order_id']}/returned", headers=ops.headers)
    assert returned.json()["status"] == "returned"
    again = client.post(f"/ops/orders/{receipt['order_id']}/returned", headers=ops.headers)
    assert (again.status_code, again.json()) == (200, returned.json())  # a repeat answers as the first did
    not_delivered = {"reason": "never left the store"}
    url = f"/ops/orders/{receipt['order_id']}/not-delivered"
    assert_problem(client.post(url, json=not_delivered, headers=ops.headers), 409)  # back in the store already


def test_pickup_needs_exactly_the_bags_of_the_trip(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A foreign bag code or a missing one is refused (422 `bag_codes`); nothing leaves the store."""
    shopper = make_shopper()
    receipt = ingest(client, ops, store, clock)
    trip = check_in(client, shopper, store, clock)
    assert_problem(
        client.post(f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": ["BAG-X"]}, headers=shopper.headers), 409
    )
    run_batch(client, ops, store)
    offer = current_offer(client, shopper)
    client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers)
    problem = assert_problem(
        client.post(
            f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": ["BAG-NOTOURS"]}, headers=shopper.headers
        ),
        422,
    )
    assert problem["errors"][0]["field"] == "bag_codes"
    assert client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"] == "accepted"
    assert client.get("/shopper/trips/current", headers=shopper.headers).json()["status"] == "open"


def test_illegal_moves_are_refused_with_409(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Checking in twice, declining an accepted offer, delivering before pickup, cancelling a departed trip:
    409 each. Accepting twice is not an error: the second tap answers with the offer as it is."""
    shopper = make_shopper()
    receipt = ingest(client, ops, store, clock)
    trip = check_in(client, shopper, store, clock)
    assert_problem(client.post("/shopper/trips", json={**_trip_again(trip, clock)}, headers=shopper.headers), 409)
    run_batch(client, ops, store)
    offer = current_offer(client, shopper)
    first = client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers)
    assert first.status_code == 200
    again = client.post(f"/shopper/offers/{offer['id']}/accept", headers=shopper.headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert_problem(client.post(f"/shopper/offers/{offer['id']}/decline", headers=shopper.headers), 409)
    assert_problem(_deliver(client, shopper, receipt, NEAR_DOOR, receipt["delivery_code"]), 409)
    client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=shopper.headers
    )
    assert_problem(client.post(f"/shopper/trips/{trip['id']}/cancel", headers=shopper.headers), 409)


def _trip_again(trip: dict[str, Any], clock: ManualClock) -> dict[str, Any]:
    return {
        "store_id": trip["store_id"],
        "destination": trip["destination"],
        "capacity_bags": 2,
        "max_detour_m": 1000,
        "leave_by": (clock.now() + timedelta(hours=1)).isoformat(),
    }


def test_declined_orders_go_to_another_trip_never_back_to_the_same_one(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Ana declines; the next batches offer the order to Ben, and never to Ana again."""
    ana = make_shopper("Ana")
    receipt = ingest(client, ops, store, clock)
    check_in(client, ana, store, clock)
    run_batch(client, ops, store)
    offer = current_offer(client, ana)
    assert client.post(f"/shopper/offers/{offer['id']}/decline", headers=ana.headers).json()["status"] == "declined"
    assert run_batch(client, ops, store)["offers"] == []
    ben = make_shopper("Ben")
    check_in(client, ben, store, clock)
    assert len(run_batch(client, ops, store)["offers"]) == 1
    assert current_offer(client, ben)["stops"][0]["order_id"] == receipt["order_id"]
    assert client.get("/shopper/offers/current", headers=ana.headers).status_code == 404


def test_an_expired_offer_is_swept_and_re_offered_elsewhere(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """An offer nobody answers expires at the next batch; the order goes to another trip."""
    ana, ben = make_shopper("Ana"), make_shopper("Ben")
    ingest(client, ops, store, clock)
    check_in(client, ana, store, clock)
    run_batch(client, ops, store)
    current_offer(client, ana)
    check_in(client, ben, store, clock)
    clock.advance(timedelta(seconds=61))
    report = run_batch(client, ops, store)
    assert report["expired_offers"] == 1
    assert len(report["offers"]) == 1
    assert current_offer(client, ben)
    assert client.get("/shopper/offers/current", headers=ana.headers).status_code == 404


def test_orders_past_their_deadline_go_to_the_fallback_fleet(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    """No shopper in time: past the dispatch deadline the batch hands the order to the courier fleet."""
    deadline = (clock.now() + timedelta(minutes=30)).isoformat()
    receipt = ingest(client, ops, store, clock, dispatch_deadline=deadline)
    clock.advance(timedelta(minutes=31))
    assert run_batch(client, ops, store)["fallback_orders"] == [receipt["order_id"]]
    assert client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"] == "fallback"


def test_rules_on_who_may_carry_what_hold(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A new shopper gets no order above their tier's cap, an unverified one no age-restricted order, and
    nobody an order to their own address."""
    from dispatch.model import TrustTier

    ingest(client, ops, store, clock, ref="BIG", value_cents=20_000)
    ingest(client, ops, store, clock, ref="WINE", age_restricted=True)
    newbie = make_shopper("Newbie", tier=TrustTier.NEW, verified=False)
    newbie_trip = check_in(client, newbie, store, clock)
    assert run_batch(client, ops, store)["offers"] == []
    client.post(f"/shopper/trips/{newbie_trip['id']}/cancel", headers=newbie.headers)
    their_home = GeoPoint(30.4850, -84.2150)
    ingest(client, ops, store, clock, ref="HOME", dropoff=their_home)
    neighbour = make_shopper("Neighbour", tier=TrustTier.GOLD, home=their_home)
    check_in(client, neighbour, store, clock)
    report = run_batch(client, ops, store)
    offered = {stop["order_id"] for stop in current_offer(client, neighbour)["stops"]}
    refs = {
        order["id"]: order["external_ref"] for order in client.get("/ops/orders", headers=ops.headers).json()["items"]
    }
    assert len(report["offers"]) == 1
    assert {refs[order_id] for order_id in offered} <= {"BIG", "WINE"}
    assert client.get("/shopper/offers/current", headers=newbie.headers).status_code == 404


def test_cancelling_a_trip_gives_its_orders_back(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """A shopper who accepted and then cancels before pickup: the order is pending again, and the offer is
    withdrawn: it no longer shows them the recipient's address or name, nor does their history."""
    shopper = make_shopper()
    receipt = ingest(client, ops, store, clock)
    trip = check_in(client, shopper, store, clock)
    run_batch(client, ops, store)
    offer_id = current_offer(client, shopper)["id"]
    accepted = client.post(f"/shopper/offers/{offer_id}/accept", headers=shopper.headers).json()
    assert accepted["stops"][0]["address"] is not None
    assert client.post(f"/shopper/trips/{trip['id']}/cancel", headers=shopper.headers).json()["status"] == "cancelled"
    assert client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"] == "pending"
    offer = client.get(f"/shopper/offers/{offer_id}", headers=shopper.headers).json()
    assert offer["status"] == "withdrawn"
    assert [(stop["address"], stop["recipient_first_name"], stop["dropoff"]) for stop in offer["stops"]] == [
        (None, None, None)
    ]
    history = client.get("/shopper/trips", headers=shopper.headers).json()["items"]
    assert all(stop["address"] is None for item in history for stop in item["stops"])


def test_a_trip_past_its_leave_by_withdraws_its_accepted_offer(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    shopper = make_shopper()
    receipt = ingest(client, ops, store, clock)
    check_in(client, shopper, store, clock, leave_by=(clock.now() + timedelta(minutes=20)).isoformat())
    run_batch(client, ops, store)
    offer_id = current_offer(client, shopper)["id"]
    client.post(f"/shopper/offers/{offer_id}/accept", headers=shopper.headers)
    clock.advance(timedelta(minutes=21))
    assert run_batch(client, ops, store)["expired_trips"] == 1
    offers = client.get("/ops/offers", params={"status": "accepted"}, headers=ops.headers).json()
    assert offers["total"] == 0
    assert client.get(f"/shopper/offers/{offer_id}", headers=shopper.headers).json()["status"] == "withdrawn"
    assert client.get(f"/ops/orders/{receipt['order_id']}", headers=ops.headers).json()["status"] != "accepted"


def test_redis_flushed_mid_flow_loses_nothing_of_record(
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    redis_client: redis.Redis,
    db: ConnectionPool,
) -> None:
    """After accept, Redis is emptied: pickup and delivery still work, and positions come back from samples;
    once the trip is over its position leaves Redis and further positions are refused."""
    shopper = make_shopper()
    receipt = ingest(client, ops, store, clock)
    trip = check_in(client, shopper, store, clock)
    assert client.post("/shopper/location", json=NEAR_DOOR, headers=shopper.headers).json() == {"sampled": True}
    run_batch(client, ops, store)
    client.post(f"/shopper/offers/{current_offer(client, shopper)['id']}/accept", headers=shopper.headers)

    redis_client.flushdb()
    live = RedisLiveState(redis_client)
    assert live.needs_rebuild()
    assert shopper.shopper_id is not None
    assert live.position(shopper.shopper_id) is None
    with PostgresDispatchUnitOfWork(db) as uow:
        restored = live.rebuild_positions(uow.locations.latest_of_active_shoppers())
    assert restored == 1
    position = live.position(shopper.shopper_id)
    assert position is not None
    assert abs(position.lat - NEAR_DOOR["lat"]) < 1e-5
    assert not live.needs_rebuild()

    pickup = client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=shopper.headers
    )
    assert pickup.status_code == 200
    delivered = _deliver(client, shopper, receipt, NEAR_DOOR, receipt["delivery_code"]).json()
    assert delivered["status"] == "delivered"
    assert delivered["trip_completed"]
    assert live.position(shopper.shopper_id) is None
    assert_problem(client.post("/shopper/location", json=NEAR_DOOR, headers=shopper.headers), 409)


def test_incidents_can_be_reported_on_a_carried_order(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """The carrier reports damage; a blank description is refused naming the field."""
    shopper = make_shopper()
    receipt, _ = _picked_up(client, ops, store, clock, shopper)
    url = f"/shopper/orders/{receipt['order_id']}/incidents"
    created = client.post(url, json={"kind": "damage", "description": "bag torn"}, headers=shopper.headers)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "damage"
    problem = assert_problem(
        client.post(url, json={"kind": "theft", "description": "   "}, headers=shopper.headers), 422
    )
    assert problem["errors"][0]["field"] == "description"


def test_a_shopper_reports_at_most_five_incidents_on_one_order(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    shopper = make_shopper()
    receipt, _ = _picked_up(client, ops, store, clock, shopper)
    url = f"/shopper/orders/{receipt['order_id']}/incidents"
    report = {"kind": "damage", "description": "x" * 2_000}
    assert [client.post(url, json=report, headers=shopper.headers).status_code for _ in range(5)] == [201] * 5
    problem = assert_problem(client.post(url, json=report, headers=shopper.headers), 409)
    assert problem["type"] == "/problems/too-many-incidents"
    listed = client.get("/ops/incidents", params={"limit": 100}, headers=ops.headers).json()
    assert listed["total"] == 5
