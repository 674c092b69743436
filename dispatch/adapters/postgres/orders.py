"""Orders, their secrets and the summary a store's page shows, on PostGIS."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from crowdship.db import Repository, Row
from crowdship.pages import Page
from crowdship.units import Cents
from dispatch.adapters.postgres.sql import POINT, filters, point, point_columns, point_params, status_filter
from dispatch.errors import DuplicateOrder
from dispatch.model import Order, OrderStatus
from dispatch.repositories import NOT_SEEN_BY_A_BATCH, OrderSecret, StoreSummary


class PostgresOrderRepository(Repository):
    _COLUMNS = f"""
        o.id, o.store_id, o.external_ref, {point_columns("o.dropoff", "dropoff")}, o.dropoff_address,
        o.recipient_name, o.window_earliest, o.window_latest, o.dispatch_deadline, o.size_bags,
        o.value_cents, o.age_restricted, o.perishable, o.status, o.created_at, o.unassigned_reason,
        o.unassigned_at"""

    def add(self, order: Order) -> None:
        with self._refusing_duplicates(
            lambda: DuplicateOrder(f"store {order.store_id} already has an order {order.external_ref!r}")
        ):
            self._insert(order)

    def _insert(self, order: Order) -> None:
        self._execute(
            f"""INSERT INTO orders (id, store_id, external_ref, dropoff, dropoff_address, recipient_name,
                    window_earliest, window_latest, dispatch_deadline, size_bags, value_cents,
                    age_restricted, perishable, status, created_at, updated_at)
                VALUES (%s, %s, %s, {POINT}, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                order.id,
                order.store_id,
                order.external_ref,
                *point_params(order.dropoff),
                order.dropoff_address,
                order.recipient_name,
                order.window_earliest,
                order.window_latest,
                order.dispatch_deadline,
                order.size_bags,
                order.value_cents,
                order.age_restricted,
                order.perishable,
                order.status.value,
                order.created_at,
                order.created_at,
            ),
        )

    def get(self, order_id: UUID, *, for_update: bool = False) -> Order:
        lock = " FOR UPDATE" if for_update else ""
        row = self._one(f"SELECT {self._COLUMNS} FROM orders o WHERE o.id = %s{lock}", (order_id,), "order", order_id)
        return self._order(row)

    def save(self, order: Order, *, at: datetime) -> None:
        self._execute(
            """UPDATE orders SET status = %s, unassigned_reason = %s, unassigned_at = %s, updated_at = %s
               WHERE id = %s""",
            (order.status.value, order.unassigned_reason, order.unassigned_at, at, order.id),
        )

    def record_unassigned(self, reasons: Mapping[UUID, str], at: datetime) -> None:
        if not reasons:
            return
        ids = list(reasons)
        self._execute(
            """UPDATE orders o SET unassigned_reason = r.reason, unassigned_at = %s
               FROM unnest(%s::uuid[], %s::text[]) AS r(id, reason)
               WHERE o.id = r.id AND o.status = 'pending'
                 AND (o.unassigned_at IS NULL OR o.unassigned_at <= %s)""",
            (at, ids, [reasons[order_id] for order_id in ids], at),
        )

    def list_for_store(self, store_id: UUID, statuses: Sequence[OrderStatus] | None = None) -> list[Order]:
        where, params = status_filter("o.status", statuses)
        rows = self._all(
            f"SELECT {self._COLUMNS} FROM orders o WHERE o.store_id = %s{where} ORDER BY o.created_at, o.id",
            (store_id, *params),
        )
        return [self._order(row) for row in rows]

    def within_service_area(self, store_id: UUID, statuses: Sequence[OrderStatus] | None = None) -> list[Order]:
        """The store's orders whose drop-off lies inside (or on the edge of) its service area, with edges straight
        in (lon, lat) as intake's shapely check draws them: as geography, a long edge is a great-circle arc that
        may bow hundreds of metres across drop-offs intake accepted."""
        where, params = status_filter("o.status", statuses)
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM orders o JOIN stores s ON s.id = o.store_id
                WHERE o.store_id = %s AND ST_Covers(s.service_area::geometry, o.dropoff::geometry){where}
                ORDER BY o.created_at, o.id""",
            (store_id, *params),
        )
        return [self._order(row) for row in rows]

    def page(
        self,
        *,
        store_id: UUID | None,
        statuses: Sequence[OrderStatus] | None,
        limit: int,
        offset: int,
        external_ref: str | None = None,
    ) -> Page[Order]:
        where, params = filters(("o.store_id", store_id), ("o.status", statuses))
        if external_ref is not None:
            escaped = external_ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where += " AND o.external_ref ILIKE %s"
            params.append(f"{escaped}%")
        total = self._all(f"SELECT count(*) AS n FROM orders o WHERE true{where}", params)[0]["n"]
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM orders o WHERE true{where}
                ORDER BY o.created_at DESC, o.id LIMIT %s OFFSET %s""",
            (*params, limit, offset),
        )
        return Page([self._order(row) for row in rows], total)

    def on_trips(
        self, trip_ids: Collection[UUID], statuses: Sequence[OrderStatus] | None = None
    ) -> dict[UUID, list[Order]]:
        where, params = status_filter("o.status", statuses)
        rows = self._all(
            f"""SELECT {self._COLUMNS}, f.trip_id AS on_trip_id FROM orders o
                JOIN offer_orders oo ON oo.order_id = o.id
                JOIN offers f ON f.id = oo.offer_id AND f.status = 'accepted'
                WHERE f.trip_id = ANY(%s){where}
                ORDER BY f.resolved_at, f.id, oo.stop_index""",
            (list(trip_ids), *params),
        )
        carried: dict[UUID, list[Order]] = {trip_id: [] for trip_id in trip_ids}
        for row in rows:
            carried[row["on_trip_id"]].append(self._order(row))
        return carried

    def carrying_trips(self, order_ids: Collection[UUID]) -> Mapping[UUID, UUID]:
        rows = self._all(
            """SELECT DISTINCT ON (oo.order_id) oo.order_id, f.trip_id
               FROM offer_orders oo JOIN offers f ON f.id = oo.offer_id
               WHERE oo.order_id = ANY(%s) AND f.status = 'accepted'
               ORDER BY oo.order_id, f.resolved_at DESC, f.id DESC""",
            (list(order_ids),),
        )
        return {row["order_id"]: row["trip_id"] for row in rows}

    def references(self, order_ids: Collection[UUID]) -> Mapping[UUID, str]:
        rows = self._all("SELECT id, external_ref FROM orders WHERE id = ANY(%s)", (list(order_ids),))
        return {row["id"]: row["external_ref"] for row in rows}

    def summary(self, store_id: UUID, now: datetime) -> StoreSummary:
        by_status = {
            row["status"]: row["n"]
            for row in self._all(
                "SELECT status, count(*) AS n FROM orders WHERE store_id = %s GROUP BY status", (store_id,)
            )
        }
        counts = self._all(
            """SELECT
                 (SELECT count(*) FROM trips WHERE store_id = %(s)s AND status = 'open') AS open_trips,
                 (SELECT count(*) FROM offers f JOIN trips t ON t.id = f.trip_id
                   WHERE t.store_id = %(s)s AND f.status = 'open') AS open_offers,
                 (SELECT count(*) FROM orders WHERE store_id = %(s)s AND status = 'pending'
                   AND dispatch_deadline <= %(now)s) AS past_deadline""",
            {"s": store_id, "now": now},
        )[0]
        reasons = {
            row["reason"]: row["n"]
            for row in self._all(
                """SELECT coalesce(unassigned_reason, %s) AS reason, count(*) AS n FROM orders
                   WHERE store_id = %s AND status = 'pending' GROUP BY 1 ORDER BY 1""",
                (NOT_SEEN_BY_A_BATCH, store_id),
            )
        }
        return StoreSummary(
            store_id=store_id,
            orders_by_status=by_status,
            open_trips=counts["open_trips"],
            open_offers=counts["open_offers"],
            orders_past_deadline=counts["past_deadline"],
            pending_by_reason=reasons,
        )

    @staticmethod
    def _order(row: Row) -> Order:
        return Order(
            id=row["id"],
            store_id=row["store_id"],
            external_ref=row["external_ref"],
            dropoff=point(row, "dropoff"),
            dropoff_address=row["dropoff_address"],
            recipient_name=row["recipient_name"],
            window_earliest=row["window_earliest"],
            window_latest=row["window_latest"],
            dispatch_deadline=row["dispatch_deadline"],
            size_bags=row["size_bags"],
            value_cents=Cents(row["value_cents"]),
            age_restricted=row["age_restricted"],
            perishable=row["perishable"],
            status=OrderStatus(row["status"]),
            created_at=row["created_at"],
            unassigned_reason=row["unassigned_reason"],
            unassigned_at=row["unassigned_at"],
        )


class PostgresOrderSecretRepository(Repository):
    def add(self, secret: OrderSecret) -> None:
        self._execute(
            "INSERT INTO order_secrets (order_id, bag_code, delivery_code_hash) VALUES (%s, %s, %s)",
            (secret.order_id, secret.bag_code, secret.delivery_code_hash),
        )

    def get(self, order_id: UUID) -> OrderSecret:
        row = self._one(
            "SELECT order_id, bag_code, delivery_code_hash FROM order_secrets WHERE order_id = %s",
            (order_id,),
            "secrets of order",
            order_id,
        )
        return OrderSecret(row["order_id"], row["bag_code"], row["delivery_code_hash"])

    def replace_code_hash(self, order_id: UUID, delivery_code_hash: str) -> None:
        self._execute(
            "UPDATE order_secrets SET delivery_code_hash = %s WHERE order_id = %s", (delivery_code_hash, order_id)
        )

    def for_orders(self, order_ids: Sequence[UUID]) -> dict[UUID, OrderSecret]:
        rows = self._all(
            "SELECT order_id, bag_code, delivery_code_hash FROM order_secrets WHERE order_id = ANY(%s)",
            (list(order_ids),),
        )
        return {
            row["order_id"]: OrderSecret(row["order_id"], row["bag_code"], row["delivery_code_hash"]) for row in rows
        }
