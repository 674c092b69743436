"""Reads a store's recorded day from PostgreSQL for a replay: in one read-only snapshot, the day's orders and
trips (through the dispatch repositories, so that they come back as the live service reads them), their
shoppers and offers, when each trip left the store and each order was delivered, and the rewards credited for
the day's orders; the delivery attempts refused at the door and the failures that followed, with what
operations did with each failed order after; and what the day's shoppers earned that it does not replay, which
their caps counted."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg_pool import ConnectionPool

from crowdship.errors import InvalidInput
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import OrderStatus
from rewards.adapters.postgres import PostgresRewardsRepositories
from rewards.policy import PaymentMethod
from rewards.recorded_day import RecordedDay, departures, failures_of
from rewards.records import EarnedElsewhere, PaymentMethodChoice

MAX_RECORDED_ORDERS = 20_000
"""A replay holds a day in memory and reads it row by row: a larger day is refused rather than half-read."""


def read_recorded_day(pool: ConnectionPool, *, store_id: UUID, start: datetime, end: datetime) -> RecordedDay:
    """The store's orders taken and trips checked in within [start, end), each as it stands now."""
    with PostgresDispatchUnitOfWork(pool) as uow:
        connection = uow.connection
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        store = uow.stores.get(store_id)
        order_rows = connection.execute(
            """SELECT id, updated_at FROM orders WHERE store_id = %s AND created_at >= %s AND created_at < %s
               ORDER BY created_at, id LIMIT %s""",
            (store_id, start, end, MAX_RECORDED_ORDERS + 1),
        ).fetchall()
        if len(order_rows) > MAX_RECORDED_ORDERS:
            raise InvalidInput("day", f"more than {MAX_RECORDED_ORDERS} orders: too large a day to replay")
        trip_rows = connection.execute(
            """SELECT id, updated_at FROM trips WHERE store_id = %s AND checked_in_at >= %s AND checked_in_at < %s
               ORDER BY checked_in_at, id""",
            (store_id, start, end),
        ).fetchall()
        reward_rows = connection.execute(
            """SELECT r.order_id, r.amount_cents FROM delivery_rewards r JOIN orders o ON o.id = r.order_id
               WHERE o.store_id = %s AND o.created_at >= %s AND o.created_at < %s""",
            (store_id, start, end),
        ).fetchall()
        pickup_rows = connection.execute(
            """SELECT e.order_id, e.at FROM order_events e JOIN orders o ON o.id = e.order_id
               WHERE o.store_id = %s AND o.created_at >= %s AND o.created_at < %s AND e.status = 'picked_up'
               ORDER BY e.at, e.id""",
            (store_id, start, end),
        ).fetchall()
        delivery_rows = connection.execute(
            """SELECT p.order_id, p.trip_id, p.recorded_at FROM delivery_proofs p JOIN orders o ON o.id = p.order_id
               WHERE o.store_id = %s AND o.created_at >= %s AND o.created_at < %s AND p.accepted
               ORDER BY p.recorded_at, p.id""",
            (store_id, start, end),
        ).fetchall()
        refused_rows = connection.execute(
            """SELECT DISTINCT p.order_id FROM delivery_proofs p JOIN orders o ON o.id = p.order_id
               WHERE o.store_id = %s AND o.created_at >= %s AND o.created_at < %s AND NOT p.accepted""",
            (store_id, start, end),
        ).fetchall()
        failure_rows = connection.execute(
            """SELECT e.order_id, e.status, e.at, e.note FROM order_events e JOIN orders o ON o.id = e.order_id
               WHERE o.store_id = %s AND o.created_at >= %s AND o.created_at < %s
                 AND EXISTS (SELECT FROM order_events f WHERE f.order_id = e.order_id AND f.status = 'failed')
               ORDER BY e.at, e.id""",
            (store_id, start, end),
        ).fetchall()
        refused = {
            order_id: tuple(proof for proof in uow.proofs.list_for_order(order_id) if not proof.accepted)
            for (order_id,) in refused_rows
        }
        orders = [uow.orders.get(order_id) for order_id, _ in order_rows]
        trips = [uow.trips.get(trip_id) for trip_id, _ in trip_rows]
        offers = sorted(
            (offer for trip in trips for offer in uow.offers.list_for_trip(trip.id)),
            key=lambda offer: (offer.created_at, offer.id),
        )
        shoppers = dict(uow.shoppers.get_many({trip.shopper_id for trip in trips}))
        choices = payment_choices_of_the_day(connection, shoppers, start=start, end=end)
        elsewhere = earned_elsewhere(connection, shoppers, {order.id for order in orders}, start=start, end=end)
    return RecordedDay(
        store=store,
        start=start,
        end=end,
        orders=orders,
        trips=trips,
        shoppers=shoppers,
        offers=offers,
        changed_at={row_id: changed for row_id, changed in [*order_rows, *trip_rows]},
        departed_at=departures(offers, pickup_rows),
        delivered={order_id: (trip_id, at) for order_id, trip_id, at in delivery_rows},
        refused=refused,
        failures=failures_of(
            offers, [(order_id, OrderStatus(status), at, note) for order_id, status, at, note in failure_rows]
        ),
        rewards_cents={order_id: Cents(amount) for order_id, amount in reward_rows},
        payment_choices=choices,
        earned_elsewhere=elsewhere,
    )


def payment_choices_of_the_day(
    connection: Connection[Any], shopper_ids: Collection[UUID], *, start: datetime, end: datetime
) -> tuple[PaymentMethodChoice, ...]:
    """Each shopper's choice in force at `start` and every choice they made before `end`, oldest first."""
    in_force = PostgresRewardsRepositories(connection).payment_choices.in_force_at(shopper_ids, start)
    rows = connection.execute(
        """SELECT shopper_id, method, chosen_at, chosen_by FROM shopper_payment_choices
           WHERE shopper_id = ANY(%s) AND chosen_at > %s AND chosen_at < %s ORDER BY chosen_at, id""",
        (list(shopper_ids), start, end),
    ).fetchall()
    later = [PaymentMethodChoice(shopper, PaymentMethod(method), at, by) for shopper, method, at, by in rows]
    return (*sorted(in_force.values(), key=lambda choice: (choice.chosen_at, str(choice.shopper_id))), *later)


CAPPED_SPAN = timedelta(days=7)
"""The longest span a cap counts (a week): earnings older than this before the day count towards none of it."""


def earned_elsewhere(
    connection: Connection[Any],
    shoppers: Collection[UUID],
    replayed: Collection[UUID],
    *,
    start: datetime,
    end: datetime,
) -> tuple[EarnedElsewhere, ...]:
    """The shoppers' rewards for deliveries the day does not replay (orders not among `replayed`), earned from a
    week before `start` to `end` and standing at some instant of the day, oldest first: each with when it was
    reversed, if it was. One reversed after `start`, on the day or any day after, was counted by the caps (until
    its reversal) as the day happened; one reversed before the day began never was."""
    if not shoppers:
        return ()
    rows = connection.execute(
        """SELECT r.shopper_id, r.earned_at, r.cash_value_cents, v.created_at FROM delivery_rewards r
           LEFT JOIN ledger_transactions v ON v.reverses_id = r.transaction_id
           WHERE r.shopper_id = ANY(%s) AND r.earned_at >= %s AND r.earned_at < %s AND NOT (r.order_id = ANY(%s))
             AND (v.id IS NULL OR v.created_at > %s)
           ORDER BY r.earned_at, r.id""",
        (list(shoppers), start - CAPPED_SPAN, end, list(replayed), start),
    ).fetchall()
    return tuple(
        EarnedElsewhere(shopper_id, earned_at, Cents(cents), reversed_at)
        for shopper_id, earned_at, cents, reversed_at in rows
    )
