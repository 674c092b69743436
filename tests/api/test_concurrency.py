"""The invariants under truly parallel requests against a running server (uvicorn on a loopback port):
an order is in at most one open offer, a shopper holds at most one, racing shoppers and double taps
produce exactly one winner, and an accept after expiry is refused."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx2
from api_support import HOME, Account, assert_problem, order_body, trip_body
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from dispatch.model import Store


def _setup(
    http: httpx2.Client, ops: Account, store: Store, clock: ManualClock, shoppers: list[Account], orders: int
) -> None:
    for index in range(orders):
        body = order_body(store, clock, ref=f"WEB-{index}", size_bags=1)
        body["dropoff"] = {"lat": 30.47 + 0.004 * index, "lon": -84.2211 + 0.001 * (index % 3)}
        assert (
            http.post("/ops/orders", json=body, headers={**ops.headers, "Idempotency-Key": f"k{index}"}).status_code
            == 201
        )
    for shopper in shoppers:
        trip = http.post("/shopper/trips", json=trip_body(store, clock, capacity_bags=1), headers=shopper.headers)
        assert trip.status_code == 201, trip.text


def _open_offer_counts(db: ConnectionPool) -> tuple[Counter[Any], Counter[Any]]:
    with db.connection() as connection:
        rows = connection.execute(
            """SELECT f.trip_id, oo.order_id FROM offers f JOIN offer_orders oo ON oo.offer_id = f.id
               WHERE f.status = 'open'"""
        ).fetchall()
    return Counter(row[0] for row in rows), Counter(row[1] for row in rows)


def test_parallel_batches_never_double_offer_an_order_or_a_shopper(
    live_server: str,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
) -> None:
    """Twelve batch triggers at once over six orders and four trips: each order and each trip in at most one
    open offer, and some offers were made."""
    shoppers = [make_shopper(f"S{index}") for index in range(4)]
    with httpx2.Client(base_url=live_server, timeout=60) as http:
        _setup(http, ops, store, clock, shoppers, orders=6)
        with ThreadPoolExecutor(12) as pool:
            results = list(
                pool.map(lambda _: http.post(f"/ops/stores/{store.id}/batches", headers=ops.headers), range(12))
            )
    assert all(result.status_code == 200 for result in results), [r.text for r in results]
    per_trip, per_order = _open_offer_counts(db)
    assert per_trip
    assert max(per_trip.values()) == 1
    assert max(per_order.values()) == 1


def test_when_two_shoppers_race_for_one_order_exactly_one_wins(
    live_server: str, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """One order, two shoppers on the same way, batches and accepts fired in parallel: one accept succeeds,
    the order is accepted once."""
    ana, ben = make_shopper("Ana", home=HOME), make_shopper("Ben", home=HOME)
    with httpx2.Client(base_url=live_server, timeout=60) as http:
        _setup(http, ops, store, clock, [ana, ben], orders=1)

        [order] = http.get("/ops/orders", headers=ops.headers).json()["items"]
        deadline = time.monotonic() + 30

        def grab(shopper: Account) -> list[int]:
            """Batches and looks for an offer until one is answered or the order is taken: a fixed number of
            tries could all fall while the other thread's batch holds the store (skipped) and is still matching."""
            statuses: list[int] = []
            while not statuses and time.monotonic() < deadline:
                http.post(f"/ops/stores/{store.id}/batches", headers=ops.headers)
                offer = http.get("/shopper/offers/current", headers=shopper.headers)
                if offer.status_code == 200:
                    statuses.append(
                        http.post(f"/shopper/offers/{offer.json()['id']}/accept", headers=shopper.headers).status_code
                    )
                elif http.get(f"/ops/orders/{order['id']}", headers=ops.headers).json()["status"] == "accepted":
                    break
            return statuses

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(grab, [ana, ben]))
        orders = http.get("/ops/orders", headers=ops.headers).json()["items"]
        accepted = http.get("/ops/offers", params={"status": "accepted"}, headers=ops.headers).json()
    wins = [statuses.count(200) for statuses in outcomes]
    assert sorted(wins) == [0, 1]
    assert orders[0]["status"] == "accepted"
    assert accepted["total"] == 1


def test_a_double_tapped_accept_accepts_once_and_answers_every_tap_alike(
    live_server: str, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Eight parallel accepts of one offer: the offer is accepted once (one resolution time, the orders
    accepted once), and every tap gets the accepted offer back."""
    ana = make_shopper("Ana")
    with httpx2.Client(base_url=live_server, timeout=60) as http:
        _setup(http, ops, store, clock, [ana], orders=1)
        assert http.post(f"/ops/stores/{store.id}/batches", headers=ops.headers).json()["offers"]
        offer_id = http.get("/shopper/offers/current", headers=ana.headers).json()["id"]
        with ThreadPoolExecutor(8) as pool:
            responses = list(
                pool.map(lambda _: http.post(f"/shopper/offers/{offer_id}/accept", headers=ana.headers), range(8))
            )
        orders = http.get("/ops/orders", headers=ops.headers).json()["items"]
        offers = http.get("/ops/offers", headers=ops.headers).json()["items"]
    assert [r.status_code for r in responses] == [200] * 8
    assert len({r.text for r in responses}) == 1
    assert responses[0].json()["status"] == "accepted"
    assert [order["status"] for order in orders] == ["accepted"]
    assert len(offers) == 1
    assert offers[0]["resolved_at"] is not None


def test_an_accept_after_expiry_is_refused_with_409(
    live_server: str, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Past `expires_at` the offer cannot be accepted, even before a batch has swept it."""
    ana = make_shopper("Ana")
    with httpx2.Client(base_url=live_server, timeout=60) as http:
        _setup(http, ops, store, clock, [ana], orders=1)
        http.post(f"/ops/stores/{store.id}/batches", headers=ops.headers)
        offer = http.get("/shopper/offers/current", headers=ana.headers).json()
        clock.advance(timedelta(seconds=61))
        problem = assert_problem(http.post(f"/shopper/offers/{offer['id']}/accept", headers=ana.headers), 409)
        assert problem["type"] == "/problems/offer-expired"
        assert http.get("/shopper/offers/current", headers=ana.headers).status_code == 404


def _picked_up_order(
    http: httpx2.Client, ops: Account, store: Store, clock: ManualClock, shopper: Account, *, pick_up: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One order taken in, offered to the shopper's trip and accepted (and picked up when asked): the intake's
    receipt (with its bag and delivery codes) and the accepted offer."""
    receipt = http.post(
        "/ops/orders", json=order_body(store, clock, size_bags=1), headers={**ops.headers, "Idempotency-Key": "k1"}
    ).json()
    trip = http.post("/shopper/trips", json=trip_body(store, clock), headers=shopper.headers)
    assert trip.status_code == 201, trip.text
    assert http.post(f"/ops/stores/{store.id}/batches", headers=ops.headers).json()["offers"]
    offer_id = http.get("/shopper/offers/current", headers=shopper.headers).json()["id"]
    offer = http.post(f"/shopper/offers/{offer_id}/accept", headers=shopper.headers).json()
    if pick_up:
        body = {"bag_codes": [receipt["bag_code"]]}
        picked = http.post(f"/shopper/trips/{offer['trip_id']}/pickup", json=body, headers=shopper.headers)
        assert picked.status_code == 200, picked.text
    return receipt, offer


def test_a_double_tapped_pickup_picks_up_once_and_answers_every_tap_alike(
    live_server: str,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
) -> None:
    """Six parallel pickups of the same bags (a double tap, a retry after a lost answer): the trip leaves once,
    and every tap gets the trip and its stops back, where all but the first were told 409 'departed'."""
    ana = make_shopper("Ana")
    with httpx2.Client(base_url=live_server, timeout=60) as http:
        receipt, offer = _picked_up_order(http, ops, store, clock, ana, pick_up=False)
        body = {"bag_codes": [receipt["bag_code"]]}
        with ThreadPoolExecutor(6) as pool:
            responses = list(
                pool.map(
                    lambda _: http.post(f"/shopper/trips/{offer['trip_id']}/pickup", json=body, headers=ana.headers),
                    range(6),
                )
            )
        again = http.post(f"/shopper/trips/{offer['trip_id']}/pickup", json=body, headers=ana.headers)
        wrong = http.post(
            f"/shopper/trips/{offer['trip_id']}/pickup", json={"bag_codes": ["BAG-X"]}, headers=ana.headers
        )
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    assert len({r.text for r in [*responses, again]}) == 1
    assert responses[0].json()["trip"]["status"] == "departed"
    assert [stop["status"] for stop in responses[0].json()["stops"]] == ["picked_up"]
    assert assert_problem(wrong, 409)["type"] == "/problems/illegal-transition"  # not the bags it left with
    with db.connection() as connection:
        moves = connection.execute(
            "SELECT count(*) FROM order_events WHERE order_id = %s AND status = 'picked_up'", (receipt["order_id"],)
        ).fetchone()
    assert moves == (1,)


def test_a_double_tapped_delivery_delivers_once_and_answers_every_tap_alike(
    live_server: str,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
) -> None:
    """Six parallel proofs of one delivery: one proof is recorded and the order delivered once, and every tap
    gets the delivery back, where all but the first were told 409 'cannot go from delivered to delivered' at
    the recipient's door. Anyone else still hears 404."""
    ana, ben = make_shopper("Ana"), make_shopper("Ben")
    with httpx2.Client(base_url=live_server, timeout=60) as http:
        receipt, offer = _picked_up_order(http, ops, store, clock, ana, pick_up=True)
        stop = offer["stops"][0]
        body = {"position": stop["dropoff"], "code": receipt["delivery_code"]}
        path = f"/shopper/orders/{receipt['order_id']}/delivery"
        with ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(lambda _: http.post(path, json=body, headers=ana.headers), range(6)))
        again = http.post(path, json=body, headers=ana.headers)
        someone_else = http.post(path, json=body, headers=ben.headers)
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    assert len({r.text for r in [*responses, again]}) == 1
    assert responses[0].json() == {
        "order_id": receipt["order_id"],
        "status": "delivered",
        "distance_to_dropoff_m": 0.0,
        "trip_completed": True,
    }
    assert_problem(someone_else, 404)
    with db.connection() as connection:
        proofs = connection.execute(
            "SELECT count(*) FROM delivery_proofs WHERE order_id = %s", (receipt["order_id"],)
        ).fetchone()
    assert proofs == (1,)


def test_a_double_tapped_decline_or_trip_cancellation_answers_every_tap_alike(
    live_server: str, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Six parallel declines of one offer, then six cancellations of the trip: each happens once, and every tap
    gets the declined offer or the cancelled trip back, where all but the first were told 409."""
    ana = make_shopper("Ana")
    with httpx2.Client(base_url=live_server, timeout=60) as http:
        _setup(http, ops, store, clock, [ana], orders=1)
        assert http.post(f"/ops/stores/{store.id}/batches", headers=ops.headers).json()["offers"]
        offer = http.get("/shopper/offers/current", headers=ana.headers).json()
        with ThreadPoolExecutor(6) as pool:
            declines = list(
                pool.map(lambda _: http.post(f"/shopper/offers/{offer['id']}/decline", headers=ana.headers), range(6))
            )
            cancels = list(
                pool.map(
                    lambda _: http.post(f"/shopper/trips/{offer['trip_id']}/cancel", headers=ana.headers), range(6)
                )
            )
        orders = http.get("/ops/orders", headers=ops.headers).json()["items"]
    assert [r.status_code for r in declines] == [200] * 6, [r.text for r in declines]
    assert len({r.text for r in declines}) == 1
    assert declines[0].json()["status"] == "declined"
    assert [r.status_code for r in cancels] == [200] * 6, [r.text for r in cancels]
    assert len({r.text for r in cancels}) == 1
    assert cancels[0].json()["status"] == "cancelled"
    assert [order["status"] for order in orders] == ["pending"]
