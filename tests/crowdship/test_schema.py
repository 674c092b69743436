"""The database refuses bad rows on its own, whatever the code above it does."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import errors
from psycopg_pool import ConnectionPool

POINT = "ST_SetSRID(ST_MakePoint(-84.22, 30.46), 4326)::geography"
AREA = "ST_GeogFromText('POLYGON((-84.3 30.4, -84.1 30.4, -84.1 30.5, -84.3 30.5, -84.3 30.4))')"


@pytest.fixture
def connection(db: ConnectionPool) -> Iterator[psycopg.Connection]:
    """One connection in autocommit, so each refused statement stands alone."""
    with db.connection() as conn:
        conn.autocommit = True
        yield conn


def insert_store(connection: psycopg.Connection, fallback: int = 899) -> UUID:
    store_id = uuid4()
    connection.execute(
        f"""INSERT INTO stores (id, name, location, service_area, fallback_cost_cents)
            VALUES (%s, 'S', {POINT}, {AREA}, %s)""",
        (store_id, fallback),
    )
    return store_id


def insert_shopper(connection: psycopg.Connection, tier: int = 0) -> UUID:
    shopper_id = uuid4()
    connection.execute("INSERT INTO shoppers (id, display_name, trust_tier) VALUES (%s, 'B', %s)", (shopper_id, tier))
    return shopper_id


def insert_trip(connection: psycopg.Connection, shopper: UUID, store: UUID, **overrides: object) -> UUID:
    values: dict[str, object] = {
        "capacity_bags": 3, "max_detour_m": 2000, "max_detour_s": None, "status": "open",
        "checked_in_at": "2026-11-22T17:00Z", "leave_by": "2026-11-22T18:00Z",
    }  # fmt: skip
    values.update(overrides)
    trip_id = uuid4()
    connection.execute(
        f"""INSERT INTO trips (id, shopper_id, store_id, destination, capacity_bags, max_detour_m, max_detour_s,
                               checked_in_at, leave_by, status)
            VALUES (%s, %s, %s, {POINT}, %(capacity_bags)s, %(max_detour_m)s, %(max_detour_s)s,
                    %(checked_in_at)s, %(leave_by)s, %(status)s)""".replace(
            "%s, %s, %s,", "%(id)s, %(shopper)s, %(store)s,"
        ),
        {"id": trip_id, "shopper": shopper, "store": store, **values},
    )
    return trip_id


def insert_order(connection: psycopg.Connection, store: UUID, **overrides: object) -> UUID:
    values: dict[str, object] = {
        "size_bags": 1, "value_cents": 1000, "status": "pending", "external_ref": f"WEB-{uuid4()}",
        "window_earliest": "2026-11-22T18:00Z", "window_latest": "2026-11-22T20:00Z",
        "dispatch_deadline": "2026-11-22T19:00Z",
    }  # fmt: skip
    values.update(overrides)
    order_id = uuid4()
    connection.execute(
        f"""INSERT INTO orders (id, store_id, external_ref, dropoff, dropoff_address, recipient_name,
                window_earliest, window_latest, dispatch_deadline, size_bags, value_cents, status, created_at)
            VALUES (%(id)s, %(store)s, %(external_ref)s, {POINT}, '1 Main St', 'Ana', %(window_earliest)s,
                    %(window_latest)s, %(dispatch_deadline)s, %(size_bags)s, %(value_cents)s, %(status)s,
                    '2026-11-22T17:00Z')""",
        {"id": order_id, "store": store, **values},
    )
    return order_id


def insert_offer(connection: psycopg.Connection, trip: UUID, orders: list[UUID], status: str = "open") -> UUID:
    offer_id = uuid4()
    resolved = None if status == "open" else "2026-11-22T17:00:30Z"
    with connection.transaction():  # an offer and its orders stand or fall together
        _insert_offer_rows(connection, offer_id, trip, orders, status, resolved)
    return offer_id


def _insert_offer_rows(
    connection: psycopg.Connection,
    offer_id: UUID,
    trip: UUID,
    orders: list[UUID],
    status: str,
    resolved: str | None,
) -> None:
    connection.execute(
        """INSERT INTO offers (id, trip_id, status, extra_distance_m, extra_duration_s, reward_quote_cents,
                               created_at, expires_at, resolved_at)
           VALUES (%s, %s, %s, 100, 60, 250, '2026-11-22T17:00Z', '2026-11-22T17:01Z', %s)""",
        (offer_id, trip, status, resolved),
    )
    for index, order in enumerate(orders):
        connection.execute(
            "INSERT INTO offer_orders (offer_id, order_id, stop_index) VALUES (%s, %s, %s)",
            (offer_id, order, index),
        )


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"size_bags": 0}, errors.CheckViolation),
        ({"value_cents": -5}, errors.CheckViolation),
        ({"status": "lost"}, errors.CheckViolation),
        ({"window_earliest": "2026-11-22T20:00Z"}, errors.CheckViolation),
        ({"window_earliest": "2026-11-22T21:00Z"}, errors.CheckViolation),
        ({"dispatch_deadline": "2026-11-22T21:00Z"}, errors.CheckViolation),
        ({"external_ref": " "}, errors.CheckViolation),
    ],
    ids=[
        "zero-size",
        "negative-value",
        "unknown-status",
        "empty-window",
        "reversed-window",
        "late-deadline",
        "blank-ref",
    ],
)
def test_bad_orders_are_refused(
    connection: psycopg.Connection, overrides: dict[str, object], error: type[Exception]
) -> None:
    """Sizes and amounts are positive, statuses are known, and earliest < latest, checked by PostgreSQL."""
    store = insert_store(connection)
    with pytest.raises(error):
        insert_order(connection, store, **overrides)
    assert connection.execute("SELECT count(*) FROM orders").fetchone() == (0,)


def test_an_order_for_a_store_that_does_not_exist_is_refused(connection: psycopg.Connection) -> None:
    """Foreign keys hold every reference."""
    with pytest.raises(errors.ForeignKeyViolation):
        insert_order(connection, uuid4())


def test_the_same_external_order_cannot_be_ingested_twice_for_a_store(connection: psycopg.Connection) -> None:
    """The e-commerce reference is unique per store."""
    store = insert_store(connection)
    insert_order(connection, store, external_ref="WEB-7")
    with pytest.raises(errors.UniqueViolation):
        insert_order(connection, store, external_ref="WEB-7")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"capacity_bags": 0}, errors.CheckViolation),
        ({"max_detour_m": None, "max_detour_s": None}, errors.CheckViolation),
        ({"max_detour_m": -1}, errors.CheckViolation),
        ({"status": "wandering"}, errors.CheckViolation),
        ({"leave_by": "2026-11-22T16:00Z"}, errors.CheckViolation),
    ],
    ids=["zero-capacity", "no-detour-limit", "negative-detour", "unknown-status", "leave-before-check-in"],
)
def test_bad_trips_are_refused(
    connection: psycopg.Connection, overrides: dict[str, object], error: type[Exception]
) -> None:
    """Trip capacity is positive, a detour limit is given, and it leaves after it checked in."""
    store, shopper = insert_store(connection), insert_shopper(connection)
    with pytest.raises(error):
        insert_trip(connection, shopper, store, **overrides)


def test_bad_stores_and_shoppers_are_refused(connection: psycopg.Connection) -> None:
    """A store's fallback cost is positive; a shopper's trust tier is one of the four."""
    with pytest.raises(errors.CheckViolation):
        insert_store(connection, fallback=0)
    with pytest.raises(errors.CheckViolation):
        insert_shopper(connection, tier=7)
    with pytest.raises(errors.CheckViolation):  # the area is a Polygon or MultiPolygon, never a point
        connection.execute(
            f"""INSERT INTO stores (id, name, location, service_area, fallback_cost_cents)
                VALUES (%s, 'S', {POINT}, {POINT}, 1)""",
            (uuid4(),),
        )


def test_a_shopper_is_on_one_active_trip_at_a_time(connection: psycopg.Connection) -> None:
    """A second open trip for the same shopper is refused; after the first closes, a new one is fine."""
    store, shopper = insert_store(connection), insert_shopper(connection)
    first = insert_trip(connection, shopper, store)
    with pytest.raises(errors.UniqueViolation):
        insert_trip(connection, shopper, store)
    connection.execute("UPDATE trips SET status = 'completed' WHERE id = %s", (first,))
    insert_trip(connection, shopper, store)


def test_an_order_is_in_at_most_one_open_offer(connection: psycopg.Connection) -> None:
    """The second open offer of the same order is refused; once the first closes, the order can be re-offered."""
    store = insert_store(connection)
    order = insert_order(connection, store)
    trip_a = insert_trip(connection, insert_shopper(connection), store)
    trip_b = insert_trip(connection, insert_shopper(connection), store)
    first = insert_offer(connection, trip_a, [order])
    with pytest.raises(errors.UniqueViolation):
        insert_offer(connection, trip_b, [order])
    connection.execute("UPDATE offers SET status = 'declined', resolved_at = now() WHERE id = %s", (first,))
    insert_offer(connection, trip_b, [order])
    # Closed offers never block: an order may sit in any number of them.
    insert_offer(connection, trip_a, [order], status="expired")
    open_rows = connection.execute("SELECT count(*) FROM offer_orders WHERE order_id = %s AND offer_open", (order,))
    assert open_rows.fetchone() == (1,)


def test_a_trip_holds_at_most_one_open_offer(connection: psycopg.Connection) -> None:
    """One open offer per trip, so a shopper never juggles two."""
    store = insert_store(connection)
    trip = insert_trip(connection, insert_shopper(connection), store)
    insert_offer(connection, trip, [insert_order(connection, store)])
    with pytest.raises(errors.UniqueViolation):
        insert_offer(connection, trip, [insert_order(connection, store)])


def test_offer_resolution_time_matches_its_status(connection: psycopg.Connection) -> None:
    """An open offer has no resolution time and a closed one must have it."""
    store = insert_store(connection)
    trip = insert_trip(connection, insert_shopper(connection), store)
    offer = insert_offer(connection, trip, [insert_order(connection, store)])
    with pytest.raises(errors.CheckViolation):
        connection.execute("UPDATE offers SET status = 'accepted' WHERE id = %s", (offer,))
    with pytest.raises(errors.CheckViolation):
        connection.execute("UPDATE offers SET status = 'maybe', resolved_at = now() WHERE id = %s", (offer,))


def test_an_order_is_delivered_once(connection: psycopg.Connection) -> None:
    """Failed attempts may pile up, but only one accepted proof per order; and never one without the code."""
    store = insert_store(connection)
    trip = insert_trip(connection, insert_shopper(connection), store)
    order = insert_order(connection, store)

    def proof(accepted: bool, code: bool) -> None:
        connection.execute(
            f"""INSERT INTO delivery_proofs (id, order_id, trip_id, position, recorded_at, distance_to_dropoff_m,
                                             code_matched, accepted)
                VALUES (%s, %s, %s, {POINT}, now(), 5, %s, %s)""",
            (uuid4(), order, trip, code, accepted),
        )

    proof(accepted=False, code=False)
    proof(accepted=False, code=True)
    proof(accepted=True, code=True)
    with pytest.raises(errors.UniqueViolation):
        proof(accepted=True, code=True)
    with pytest.raises(errors.CheckViolation):
        proof(accepted=True, code=False)
