"""Dispatch repositories on PostgreSQL + PostGIS, all sharing the transaction of one unit of work.

Points travel as (lon, lat) through ST_MakePoint and come back through ST_X/ST_Y; polygons travel as WKB.
Geography distances are metres on the WGS84 spheroid.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
import shapely
from psycopg_pool import ConnectionPool

from crowdship.db import PostgresIdempotencyStore, Repository, Row, UnitOfWork
from crowdship.pages import Page
from crowdship.units import Cents
from dispatch.accounts import Role, User
from dispatch.errors import AlreadyOffered, AlreadyOnTrip, DuplicateOrder, EmailTaken
from dispatch.model import (
    DeliveryProof,
    Incident,
    IncidentKind,
    LocationSample,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Shopper,
    Store,
    Trip,
    TripStatus,
    TrustTier,
)
from dispatch.repositories import OrderSecret, StoreSummary
from routing.geo import GeoPoint

POINT = "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography"


def _point_params(point: GeoPoint | None) -> tuple[float | None, float | None]:
    return (None, None) if point is None else (point.lon, point.lat)


def _point_columns(column: str, alias: str | None = None) -> str:
    name = alias or column
    return f"ST_Y({column}::geometry) AS {name}_lat, ST_X({column}::geometry) AS {name}_lon"


def _point(row: Row, name: str) -> GeoPoint:
    return GeoPoint(row[f"{name}_lat"], row[f"{name}_lon"])


def _optional_point(row: Row, name: str) -> GeoPoint | None:
    return None if row[f"{name}_lat"] is None else _point(row, name)


def _status_filter(column: str, statuses: Sequence[str] | None) -> tuple[str, list[Any]]:
    if statuses is None:
        return "", []
    return f" AND {column} = ANY(%s)", [list(statuses)]


def _filters(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """`AND column = value` for each given value; a sequence becomes `= ANY`; None is left out."""
    where, params = "", []
    for column, value in conditions:
        if value is None:
            continue
        if isinstance(value, list | tuple):
            where += f" AND {column} = ANY(%s)"
            params.append([str(item) for item in value])
        else:
            where += f" AND {column} = %s"
            params.append(value)
    return where, params


# --------------------------------------------------------------------------------------------------


class PostgresStoreRepository(Repository):
    _SELECT = f"""
        SELECT id, name, {_point_columns("location")}, ST_AsBinary(service_area) AS service_area,
               fallback_cost_cents
        FROM stores"""

    def add(self, store: Store) -> None:
        self._execute(
            f"""INSERT INTO stores (id, name, location, service_area, fallback_cost_cents)
                VALUES (%s, %s, {POINT}, ST_GeogFromWKB(%s), %s)""",
            (
                store.id,
                store.name,
                *_point_params(store.location),
                shapely.to_wkb(store.service_area),
                store.fallback_cost_cents,
            ),
        )

    def get(self, store_id: UUID) -> Store:
        return self._store(self._one(f"{self._SELECT} WHERE id = %s", (store_id,), "store", store_id))

    def list(self) -> list[Store]:
        return [self._store(row) for row in self._all(f"{self._SELECT} ORDER BY name, id", ())]

    @staticmethod
    def _store(row: Row) -> Store:
        return Store(
            id=row["id"],
            name=row["name"],
            location=_point(row, "location"),
            service_area=shapely.from_wkb(bytes(row["service_area"])),
            fallback_cost_cents=Cents(row["fallback_cost_cents"]),
        )


class PostgresShopperRepository(Repository):
    _SELECT = f"""
        SELECT id, display_name, trust_tier, identity_verified, opted_in,
               {_point_columns("home_location", "home")}
        FROM shoppers"""

    def add(self, shopper: Shopper) -> None:
        self._execute(
            f"""INSERT INTO shoppers (id, display_name, trust_tier, identity_verified, opted_in,
                    home_location)
                VALUES (%s, %s, %s, %s, %s, {POINT})""",
            (
                shopper.id,
                shopper.display_name,
                int(shopper.trust_tier),
                shopper.identity_verified,
                shopper.opted_in,
                *_point_params(shopper.home_location),
            ),
        )

    def get(self, shopper_id: UUID) -> Shopper:
        row = self._one(f"{self._SELECT} WHERE id = %s", (shopper_id,), "shopper", shopper_id)
        return Shopper(
            id=row["id"],
            display_name=row["display_name"],
            trust_tier=TrustTier(row["trust_tier"]),
            identity_verified=row["identity_verified"],
            opted_in=row["opted_in"],
            home_location=_optional_point(row, "home"),
        )

    def save(self, shopper: Shopper) -> None:
        self._execute(
            f"""UPDATE shoppers SET display_name = %s, trust_tier = %s, identity_verified = %s,
                       opted_in = %s, home_location = {POINT}
                WHERE id = %s""",
            (
                shopper.display_name,
                int(shopper.trust_tier),
                shopper.identity_verified,
                shopper.opted_in,
                *_point_params(shopper.home_location),
                shopper.id,
            ),
        )


class PostgresOrderRepository(Repository):
    _COLUMNS = f"""
        o.id, o.store_id, o.external_ref, {_point_columns("o.dropoff", "dropoff")}, o.dropoff_address,
        o.recipient_name, o.window_earliest, o.window_latest, o.dispatch_deadline, o.size_bags,
        o.value_cents, o.age_restricted, o.perishable, o.status, o.created_at"""

    def add(self, order: Order) -> None:
        with self._refusing_duplicates(
            lambda: DuplicateOrder(f"store {order.store_id} already has an order {order.external_ref!r}")
        ):
            self._insert(order)

    def _insert(self, order: Order) -> None:
        self._execute(
            f"""INSERT INTO orders (id, store_id, external_ref, dropoff, dropoff_address, recipient_name,
                    window_earliest, window_latest, dispatch_deadline, size_bags, value_cents,
                    age_restricted, perishable, status, created_at)
                VALUES (%s, %s, %s, {POINT}, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                order.id,
                order.store_id,
                order.external_ref,
                *_point_params(order.dropoff),
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
            ),
        )

    def get(self, order_id: UUID, *, for_update: bool = False) -> Order:
        lock = " FOR UPDATE" if for_update else ""
        row = self._one(
            f"SELECT {self._COLUMNS} FROM orders o WHERE o.id = %s{lock}",
            (order_id,),
            "order",
            order_id,
        )
        return self._order(row)

    def save(self, order: Order) -> None:
        self._execute(
            "UPDATE orders SET status = %s, updated_at = now() WHERE id = %s",
            (order.status.value, order.id),
        )

    def list_for_store(self, store_id: UUID, statuses: Sequence[OrderStatus] | None = None) -> list[Order]:
        where, params = _status_filter("o.status", statuses)
        rows = self._all(
            f"SELECT {self._COLUMNS} FROM orders o WHERE o.store_id = %s{where} ORDER BY o.created_at, o.id",
            (store_id, *params),
        )
        return [self._order(row) for row in rows]

    def within_service_area(self, store_id: UUID, statuses: Sequence[OrderStatus] | None = None) -> list[Order]:
        """The store's orders whose drop-off lies inside (or on the edge of) its service area."""
        where, params = _status_filter("o.status", statuses)
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM orders o JOIN stores s ON s.id = o.store_id
                WHERE o.store_id = %s AND ST_Covers(s.service_area, o.dropoff){where}
                ORDER BY o.created_at, o.id""",
            (store_id, *params),
        )
        return [self._order(row) for row in rows]

    def page(
        self, *, store_id: UUID | None, statuses: Sequence[OrderStatus] | None, limit: int, offset: int
    ) -> Page[Order]:
        where, params = _filters(("o.store_id", store_id), ("o.status", statuses))
        total = self._all(f"SELECT count(*) AS n FROM orders o WHERE true{where}", params)[0]["n"]
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM orders o WHERE true{where}
                ORDER BY o.created_at DESC, o.id LIMIT %s OFFSET %s""",
            (*params, limit, offset),
        )
        return Page([self._order(row) for row in rows], total)

    def on_trip(self, trip_id: UUID, statuses: Sequence[OrderStatus] | None = None) -> list[Order]:
        where, params = _status_filter("o.status", statuses)
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM orders o
                JOIN offer_orders oo ON oo.order_id = o.id
                JOIN offers f ON f.id = oo.offer_id AND f.status = 'accepted'
                WHERE f.trip_id = %s{where}
                ORDER BY f.resolved_at, oo.stop_index""",
            (trip_id, *params),
        )
        return [self._order(row) for row in rows]

    def carrying_trip(self, order_id: UUID) -> UUID | None:
        rows = self._all(
            """SELECT f.trip_id FROM offer_orders oo JOIN offers f ON f.id = oo.offer_id
               WHERE oo.order_id = %s AND f.status = 'accepted'
               ORDER BY f.resolved_at DESC LIMIT 1""",
            (order_id,),
        )
        return rows[0]["trip_id"] if rows else None

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
        return StoreSummary(
            store_id=store_id,
            orders_by_status=by_status,
            open_trips=counts["open_trips"],
            open_offers=counts["open_offers"],
            orders_past_deadline=counts["past_deadline"],
        )

    @staticmethod
    def _order(row: Row) -> Order:
        return Order(
            id=row["id"],
            store_id=row["store_id"],
            external_ref=row["external_ref"],
            dropoff=_point(row, "dropoff"),
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
        )


class PostgresTripRepository(Repository):
    _COLUMNS = f"""
        t.id, t.shopper_id, t.store_id, {_point_columns("t.destination", "destination")}, t.capacity_bags,
        t.max_detour_m, t.max_detour_s, t.checked_in_at, t.leave_by, t.status"""

    def add(self, trip: Trip) -> None:
        with self._refusing_duplicates(AlreadyOnTrip):
            self._insert(trip)

    def _insert(self, trip: Trip) -> None:
        self._execute(
            f"""INSERT INTO trips (id, shopper_id, store_id, destination, capacity_bags, max_detour_m,
                    max_detour_s, checked_in_at, leave_by, status)
                VALUES (%s, %s, %s, {POINT}, %s, %s, %s, %s, %s, %s)""",
            (
                trip.id,
                trip.shopper_id,
                trip.store_id,
                *_point_params(trip.destination),
                trip.capacity_bags,
                trip.max_detour_m,
                trip.max_detour_s,
                trip.checked_in_at,
                trip.leave_by,
                trip.status.value,
            ),
        )

    def get(self, trip_id: UUID, *, for_update: bool = False) -> Trip:
        lock = " FOR UPDATE" if for_update else ""
        return self._trip(
            self._one(
                f"SELECT {self._COLUMNS} FROM trips t WHERE t.id = %s{lock}",
                (trip_id,),
                "trip",
                trip_id,
            )
        )

    def save(self, trip: Trip) -> None:
        self._execute(
            "UPDATE trips SET status = %s, updated_at = now() WHERE id = %s",
            (trip.status.value, trip.id),
        )

    def list_for_store(self, store_id: UUID, statuses: Sequence[TripStatus] | None = None) -> list[Trip]:
        where, params = _status_filter("t.status", statuses)
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM trips t WHERE t.store_id = %s{where}
                ORDER BY t.checked_in_at, t.id""",
            (store_id, *params),
        )
        return [self._trip(row) for row in rows]

    def open_within(self, point: GeoPoint, radius_m: float, store_id: UUID | None = None) -> list[Trip]:
        """Open trips whose destination lies within `radius_m` metres (on the spheroid) of `point`."""
        store_filter, params = ("", []) if store_id is None else (" AND t.store_id = %s", [store_id])
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM trips t
                WHERE t.status = 'open' AND ST_DWithin(t.destination, {POINT}, %s){store_filter}
                ORDER BY t.checked_in_at, t.id""",
            (*_point_params(point), radius_m, *params),
        )
        return [self._trip(row) for row in rows]

    def active_for_shopper(self, shopper_id: UUID, *, for_update: bool = False) -> Trip | None:
        lock = " FOR UPDATE" if for_update else ""
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM trips t
                WHERE t.shopper_id = %s AND t.status IN ('open', 'departed'){lock}""",
            (shopper_id,),
        )
        return self._trip(rows[0]) if rows else None

    def on_a_trip(self, shopper_ids: Sequence[UUID]) -> set[UUID]:
        rows = self._all(
            "SELECT shopper_id FROM trips WHERE shopper_id = ANY(%s) AND status IN ('open', 'departed')",
            (list(shopper_ids),),
        )
        return {row["shopper_id"] for row in rows}

    def page(
        self,
        *,
        store_id: UUID | None,
        shopper_id: UUID | None,
        statuses: Sequence[TripStatus] | None,
        limit: int,
        offset: int,
    ) -> Page[Trip]:
        where, params = _filters(("t.store_id", store_id), ("t.shopper_id", shopper_id), ("t.status", statuses))
        total = self._all(f"SELECT count(*) AS n FROM trips t WHERE true{where}", params)[0]["n"]
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM trips t WHERE true{where}
                ORDER BY t.checked_in_at DESC, t.id LIMIT %s OFFSET %s""",
            (*params, limit, offset),
        )
        return Page([self._trip(row) for row in rows], total)

    def past_leave_by(self, store_id: UUID, now: datetime) -> list[Trip]:
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM trips t
                WHERE t.store_id = %s AND t.status = 'open' AND t.leave_by <= %s
                ORDER BY t.leave_by, t.id FOR UPDATE SKIP LOCKED""",
            (store_id, now),
        )
        return [self._trip(row) for row in rows]

    @staticmethod
    def _trip(row: Row) -> Trip:
        return Trip(
            id=row["id"],
            shopper_id=row["shopper_id"],
            store_id=row["store_id"],
            destination=_point(row, "destination"),
            capacity_bags=row["capacity_bags"],
            max_detour_m=row["max_detour_m"],
            max_detour_s=row["max_detour_s"],
            checked_in_at=row["checked_in_at"],
            leave_by=row["leave_by"],
            status=TripStatus(row["status"]),
        )


class PostgresOfferRepository(Repository):
    _SELECT = """
        SELECT f.id, f.trip_id, f.status, f.extra_distance_m, f.extra_duration_s, f.reward_quote_cents,
               f.created_at, f.expires_at, f.resolved_at,
               array(SELECT oo.order_id FROM offer_orders oo WHERE oo.offer_id = f.id
                     ORDER BY oo.stop_index) AS stops
        FROM offers f"""

    def add(self, offer: Offer) -> None:
        """Inserts the offer in a savepoint; the partial unique indexes turn a double offer into
        `AlreadyOffered` and leave the rest of the transaction intact."""
        with self._refusing_duplicates(
            lambda: AlreadyOffered(f"offer {offer.id}: an order or the trip already has an open offer")
        ):
            self._insert(offer)

    def _insert(self, offer: Offer) -> None:
        self._execute(
            """INSERT INTO offers (id, trip_id, status, extra_distance_m, extra_duration_s,
                   reward_quote_cents, created_at, expires_at, resolved_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                offer.id,
                offer.trip_id,
                offer.status.value,
                offer.extra_distance_m,
                offer.extra_duration_s,
                offer.reward_quote_cents,
                offer.created_at,
                offer.expires_at,
                offer.resolved_at,
            ),
        )
        with self._connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO offer_orders (offer_id, order_id, stop_index) VALUES (%s, %s, %s)",
                [(offer.id, order_id, index) for index, order_id in enumerate(offer.stops)],
            )

    def get(self, offer_id: UUID, *, for_update: bool = False) -> Offer:
        lock = " FOR UPDATE OF f" if for_update else ""
        return self._offer(self._one(f"{self._SELECT} WHERE f.id = %s{lock}", (offer_id,), "offer", offer_id))

    def save(self, offer: Offer) -> None:
        self._execute(
            "UPDATE offers SET status = %s, resolved_at = %s WHERE id = %s",
            (offer.status.value, offer.resolved_at, offer.id),
        )

    def list_for_trip(self, trip_id: UUID, statuses: Sequence[OfferStatus] | None = None) -> list[Offer]:
        where, params = _status_filter("f.status", statuses)
        rows = self._all(
            f"{self._SELECT} WHERE f.trip_id = %s{where} ORDER BY f.created_at, f.id",
            (trip_id, *params),
        )
        return [self._offer(row) for row in rows]

    def open_past_expiry(self, store_id: UUID, now: datetime) -> list[Offer]:
        rows = self._all(
            f"""{self._SELECT} JOIN trips t ON t.id = f.trip_id
                WHERE t.store_id = %s AND f.status = 'open' AND f.expires_at <= %s
                ORDER BY f.expires_at, f.id FOR UPDATE OF f SKIP LOCKED""",
            (store_id, now),
        )
        return [self._offer(row) for row in rows]

    def open_trip_of_order(self, order_id: UUID) -> UUID | None:
        rows = self._all(
            """SELECT f.trip_id FROM offer_orders oo JOIN offers f ON f.id = oo.offer_id
               WHERE oo.order_id = %s AND f.status = 'open'""",
            (order_id,),
        )
        return rows[0]["trip_id"] if rows else None

    def offered_pairs(self, order_ids: Sequence[UUID]) -> set[tuple[UUID, UUID]]:
        rows = self._all(
            """SELECT f.trip_id, oo.order_id FROM offer_orders oo JOIN offers f ON f.id = oo.offer_id
               WHERE oo.order_id = ANY(%s)""",
            (list(order_ids),),
        )
        return {(row["trip_id"], row["order_id"]) for row in rows}

    def page(
        self, *, store_id: UUID | None, statuses: Sequence[OfferStatus] | None, limit: int, offset: int
    ) -> Page[Offer]:
        where, params = _filters(("t.store_id", store_id), ("f.status", statuses))
        total = self._all(
            f"SELECT count(*) AS n FROM offers f JOIN trips t ON t.id = f.trip_id WHERE true{where}", params
        )[0]["n"]
        rows = self._all(
            f"""{self._SELECT} JOIN trips t ON t.id = f.trip_id WHERE true{where}
                ORDER BY f.created_at DESC, f.id LIMIT %s OFFSET %s""",
            (*params, limit, offset),
        )
        return Page([self._offer(row) for row in rows], total)

    @staticmethod
    def _offer(row: Row) -> Offer:
        return Offer(
            id=row["id"],
            trip_id=row["trip_id"],
            stops=tuple(row["stops"]),
            extra_distance_m=row["extra_distance_m"],
            extra_duration_s=row["extra_duration_s"],
            reward_quote_cents=Cents(row["reward_quote_cents"]),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            status=OfferStatus(row["status"]),
            resolved_at=row["resolved_at"],
        )


class PostgresDeliveryProofRepository(Repository):
    def add(self, proof: DeliveryProof) -> None:
        self._execute(
            f"""INSERT INTO delivery_proofs (id, order_id, trip_id, position, recorded_at,
                    distance_to_dropoff_m, code_matched, accepted, photo_ref)
                VALUES (%s, %s, %s, {POINT}, %s, %s, %s, %s, %s)""",
            (
                proof.id,
                proof.order_id,
                proof.trip_id,
                *_point_params(proof.position),
                proof.recorded_at,
                proof.distance_to_dropoff_m,
                proof.code_matched,
                proof.accepted,
                proof.photo_ref,
            ),
        )

    def list_for_order(self, order_id: UUID) -> list[DeliveryProof]:
        rows = self._all(
            f"""SELECT id, order_id, trip_id, {_point_columns("position")}, recorded_at,
                       distance_to_dropoff_m, code_matched, accepted, photo_ref
                FROM delivery_proofs WHERE order_id = %s ORDER BY recorded_at, id""",
            (order_id,),
        )
        return [
            DeliveryProof(
                id=row["id"],
                order_id=row["order_id"],
                trip_id=row["trip_id"],
                position=_point(row, "position"),
                recorded_at=row["recorded_at"],
                distance_to_dropoff_m=row["distance_to_dropoff_m"],
                code_matched=row["code_matched"],
                accepted=row["accepted"],
                photo_ref=row["photo_ref"],
            )
            for row in rows
        ]


class PostgresUserRepository(Repository):
    _SELECT = "SELECT id, email, password_hash, role, shopper_id, active, created_at FROM users"

    def add(self, user: User) -> None:
        with self._refusing_duplicates(EmailTaken):
            self._insert(user)

    def _insert(self, user: User) -> None:
        self._execute(
            """INSERT INTO users (id, email, password_hash, role, shopper_id, active, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (
                user.id,
                user.email,
                user.password_hash,
                user.role.value,
                user.shopper_id,
                user.active,
                user.created_at,
            ),
        )

    def get(self, user_id: UUID) -> User:
        return self._user(self._one(f"{self._SELECT} WHERE id = %s", (user_id,), "user", user_id))

    def save(self, user: User) -> None:
        self._execute("UPDATE users SET active = %s WHERE id = %s", (user.active, user.id))

    def by_email(self, email: str) -> User | None:
        rows = self._all(f"{self._SELECT} WHERE email = %s", (email,))
        return self._user(rows[0]) if rows else None

    def for_shopper(self, shopper_id: UUID) -> User:
        return self._user(
            self._one(f"{self._SELECT} WHERE shopper_id = %s", (shopper_id,), "user of shopper", shopper_id)
        )

    @staticmethod
    def _user(row: Row) -> User:
        return User(
            id=row["id"],
            email=row["email"],
            password_hash=row["password_hash"],
            role=Role(row["role"]),
            shopper_id=row["shopper_id"],
            active=row["active"],
            created_at=row["created_at"],
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


class PostgresLocationSampleRepository(Repository):
    def add(self, sample: LocationSample) -> None:
        self._execute(
            f"""INSERT INTO location_samples (shopper_id, trip_id, position, recorded_at)
                VALUES (%s, %s, {POINT}, %s)""",
            (sample.shopper_id, sample.trip_id, *_point_params(sample.position), sample.recorded_at),
        )

    def latest_of_active_shoppers(self) -> list[LocationSample]:
        rows = self._all(
            f"""SELECT DISTINCT ON (s.shopper_id) s.shopper_id, s.trip_id,
                       {_point_columns("s.position", "position")}, s.recorded_at
                FROM location_samples s
                JOIN trips t ON t.shopper_id = s.shopper_id AND t.status IN ('open', 'departed')
                ORDER BY s.shopper_id, s.recorded_at DESC""",
            (),
        )
        return [
            LocationSample(row["shopper_id"], row["trip_id"], _point(row, "position"), row["recorded_at"])
            for row in rows
        ]

    def count_for_shopper(self, shopper_id: UUID) -> int:
        count: int = self._all("SELECT count(*) AS n FROM location_samples WHERE shopper_id = %s", (shopper_id,))[0][
            "n"
        ]
        return count


class PostgresIncidentRepository(Repository):
    def add(self, incident: Incident) -> None:
        self._execute(
            """INSERT INTO incidents (id, order_id, trip_id, shopper_id, kind, description, reported_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (
                incident.id,
                incident.order_id,
                incident.trip_id,
                incident.shopper_id,
                incident.kind.value,
                incident.description,
                incident.reported_at,
            ),
        )

    def list_for_order(self, order_id: UUID) -> list[Incident]:
        rows = self._all(
            """SELECT id, order_id, trip_id, shopper_id, kind, description, reported_at
               FROM incidents WHERE order_id = %s ORDER BY reported_at, id""",
            (order_id,),
        )
        return [
            Incident(
                id=row["id"],
                order_id=row["order_id"],
                trip_id=row["trip_id"],
                shopper_id=row["shopper_id"],
                kind=IncidentKind(row["kind"]),
                description=row["description"],
                reported_at=row["reported_at"],
            )
            for row in rows
        ]


class PostgresDispatchUnitOfWork(UnitOfWork):
    """A dispatch transaction on PostGIS; satisfies `DispatchUnitOfWork` and `LiveUnitOfWork`."""

    stores: PostgresStoreRepository
    shoppers: PostgresShopperRepository
    orders: PostgresOrderRepository
    trips: PostgresTripRepository
    offers: PostgresOfferRepository
    proofs: PostgresDeliveryProofRepository
    users: PostgresUserRepository
    secrets: PostgresOrderSecretRepository
    idempotency: PostgresIdempotencyStore
    locations: PostgresLocationSampleRepository
    incidents: PostgresIncidentRepository

    def __init__(self, pool: ConnectionPool) -> None:
        super().__init__(pool)

    def _attach(self, connection: psycopg.Connection) -> None:
        self.stores = PostgresStoreRepository(connection)
        self.shoppers = PostgresShopperRepository(connection)
        self.orders = PostgresOrderRepository(connection)
        self.trips = PostgresTripRepository(connection)
        self.offers = PostgresOfferRepository(connection)
        self.proofs = PostgresDeliveryProofRepository(connection)
        self.users = PostgresUserRepository(connection)
        self.secrets = PostgresOrderSecretRepository(connection)
        self.idempotency = PostgresIdempotencyStore(connection)
        self.locations = PostgresLocationSampleRepository(connection)
        self.incidents = PostgresIncidentRepository(connection)
