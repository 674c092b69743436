"""Trips and the offers made on them, on PostGIS."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from psycopg.types.json import Jsonb

from crowdship.db import Repository, Row
from crowdship.pages import Page
from crowdship.units import Cents
from dispatch.adapters.postgres.sql import POINT, filters, point, point_columns, point_params, status_filter
from dispatch.errors import AlreadyOffered, AlreadyOnTrip
from dispatch.model import Offer, OfferStatus, Trip, TripStatus, TrustTier
from dispatch.repositories import AnsweredOffer
from dispatch.rules import DropOut, PairOffer
from routing.geo import GeoPoint


class PostgresTripRepository(Repository):
    _COLUMNS = f"""
        t.id, t.shopper_id, t.store_id, {point_columns("t.destination", "destination")}, t.capacity_bags,
        t.max_detour_m, t.max_detour_s, t.checked_in_at, t.leave_by, t.status"""

    def add(self, trip: Trip) -> None:
        with self._refusing_duplicates(AlreadyOnTrip):
            self._insert(trip)

    def _insert(self, trip: Trip) -> None:
        self._execute(
            f"""INSERT INTO trips (id, shopper_id, store_id, destination, capacity_bags, max_detour_m,
                    max_detour_s, checked_in_at, leave_by, status, updated_at)
                VALUES (%s, %s, %s, {POINT}, %s, %s, %s, %s, %s, %s, %s)""",
            (
                trip.id,
                trip.shopper_id,
                trip.store_id,
                *point_params(trip.destination),
                trip.capacity_bags,
                trip.max_detour_m,
                trip.max_detour_s,
                trip.checked_in_at,
                trip.leave_by,
                trip.status.value,
                trip.checked_in_at,
            ),
        )

    def get(self, trip_id: UUID, *, for_update: bool = False) -> Trip:
        lock = " FOR UPDATE" if for_update else ""
        return self._trip(
            self._one(f"SELECT {self._COLUMNS} FROM trips t WHERE t.id = %s{lock}", (trip_id,), "trip", trip_id)
        )

    def save(self, trip: Trip, *, at: datetime) -> None:
        self._execute("UPDATE trips SET status = %s, updated_at = %s WHERE id = %s", (trip.status.value, at, trip.id))

    def list_for_store(self, store_id: UUID, statuses: Sequence[TripStatus] | None = None) -> list[Trip]:
        where, params = status_filter("t.status", statuses)
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
            (*point_params(point), radius_m, *params),
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

    def shoppers_of(self, trip_ids: Collection[UUID]) -> Mapping[UUID, UUID]:
        if not trip_ids:
            return {}
        rows = self._all("SELECT id, shopper_id FROM trips WHERE id = ANY(%s)", (list(trip_ids),))
        return {row["id"]: row["shopper_id"] for row in rows}

    def page(
        self,
        *,
        store_id: UUID | None,
        shopper_id: UUID | None,
        statuses: Sequence[TripStatus] | None,
        limit: int,
        offset: int,
    ) -> Page[Trip]:
        where, params = filters(("t.store_id", store_id), ("t.shopper_id", shopper_id), ("t.status", statuses))
        total = self._all(f"SELECT count(*) AS n FROM trips t WHERE true{where}", params)[0]["n"]
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM trips t WHERE true{where}
                ORDER BY t.checked_in_at DESC, t.id LIMIT %s OFFSET %s""",
            (*params, limit, offset),
        )
        return Page([self._trip(row) for row in rows], total)

    def open_of_active_accounts(self, store_id: UUID) -> list[Trip]:
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM trips t
                WHERE t.store_id = %s AND t.status = 'open'
                  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.shopper_id = t.shopper_id AND NOT u.active)
                ORDER BY t.checked_in_at, t.id""",
            (store_id,),
        )
        return [self._trip(row) for row in rows]

    def past_leave_by(self, store_id: UUID, now: datetime) -> list[Trip]:
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM trips t
                WHERE t.store_id = %s AND t.status = 'open' AND t.leave_by <= %s
                ORDER BY t.leave_by, t.id FOR UPDATE SKIP LOCKED""",
            (store_id, now),
        )
        return [self._trip(row) for row in rows]

    def checked_in_between(self, store_id: UUID, since: datetime, until: datetime, limit: int) -> list[Trip]:
        rows = self._all(
            f"""SELECT {self._COLUMNS} FROM trips t
                WHERE t.store_id = %s AND t.checked_in_at BETWEEN %s AND %s
                ORDER BY t.checked_in_at DESC, t.id DESC LIMIT %s""",
            (store_id, since, until, limit),
        )
        return [self._trip(row) for row in reversed(rows)]

    @staticmethod
    def _trip(row: Row) -> Trip:
        return Trip(
            id=row["id"],
            shopper_id=row["shopper_id"],
            store_id=row["store_id"],
            destination=point(row, "destination"),
            capacity_bags=row["capacity_bags"],
            max_detour_m=row["max_detour_m"],
            max_detour_s=row["max_detour_s"],
            checked_in_at=row["checked_in_at"],
            leave_by=row["leave_by"],
            status=TripStatus(row["status"]),
        )


_ANSWERED = (OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.EXPIRED)


class PostgresOfferRepository(Repository):
    _SELECT = """
        SELECT f.id, f.trip_id, f.status, f.extra_distance_m, f.extra_duration_s, f.reward_quote_cents,
               f.created_at, f.expires_at, f.resolved_at, f.breakdown, f.trust_tier, f.accepted_at,
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
                   reward_quote_cents, created_at, expires_at, resolved_at, breakdown, trust_tier, accepted_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
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
                None if offer.breakdown is None else Jsonb(dict(offer.breakdown)),
                None if offer.trust_tier is None else int(offer.trust_tier),
                offer.accepted_at,
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
            "UPDATE offers SET status = %s, resolved_at = %s, accepted_at = %s WHERE id = %s",
            (offer.status.value, offer.resolved_at, offer.accepted_at, offer.id),
        )

    def busy_trips(self, trip_ids: Collection[UUID]) -> set[UUID]:
        rows = self._all(
            "SELECT DISTINCT trip_id FROM offers WHERE trip_id = ANY(%s) AND status IN ('open', 'accepted')",
            (list(trip_ids),),
        )
        return {row["trip_id"] for row in rows}

    def list_for_trip(self, trip_id: UUID, statuses: Sequence[OfferStatus] | None = None) -> list[Offer]:
        where, params = status_filter("f.status", statuses)
        rows = self._all(f"{self._SELECT} WHERE f.trip_id = %s{where} ORDER BY f.created_at, f.id", (trip_id, *params))
        return [self._offer(row) for row in rows]

    def open_past_expiry(self, store_id: UUID, now: datetime) -> list[Offer]:
        rows = self._all(
            f"""{self._SELECT} JOIN trips t ON t.id = f.trip_id
                WHERE t.store_id = %s AND f.status = 'open' AND f.expires_at <= %s
                ORDER BY f.expires_at, f.id FOR UPDATE OF f SKIP LOCKED""",
            (store_id, now),
        )
        return [self._offer(row) for row in rows]

    def for_order(self, order_id: UUID) -> list[Offer]:
        rows = self._all(
            f"""{self._SELECT} WHERE f.id IN (SELECT offer_id FROM offer_orders WHERE order_id = %s)
                ORDER BY f.created_at, f.id""",
            (order_id,),
        )
        return [self._offer(row) for row in rows]

    def page_for_order(self, order_id: UUID, *, limit: int, offset: int) -> Page[Offer]:
        total = self._all("SELECT count(*) AS n FROM offer_orders WHERE order_id = %s", (order_id,))[0]["n"]
        rows = self._all(
            f"""{self._SELECT} WHERE f.id IN (SELECT offer_id FROM offer_orders WHERE order_id = %s)
                ORDER BY f.created_at, f.id LIMIT %s OFFSET %s""",
            (order_id, limit, offset),
        )
        return Page([self._offer(row) for row in rows], int(total))

    def for_order_within(self, order_id: UUID, *, since: datetime | None, until: datetime | None) -> list[Offer]:
        rows = self._all(
            f"""{self._SELECT} WHERE f.id IN (SELECT offer_id FROM offer_orders WHERE order_id = %(order)s)
                AND ((%(since)s::timestamptz IS NULL OR f.created_at >= %(since)s)
                     AND (%(until)s::timestamptz IS NULL OR f.created_at < %(until)s)
                     OR (%(since)s::timestamptz IS NULL OR f.resolved_at >= %(since)s)
                     AND (%(until)s::timestamptz IS NULL OR f.resolved_at < %(until)s))
                ORDER BY f.created_at, f.id""",
            {"order": order_id, "since": since, "until": until},
        )
        return [self._offer(row) for row in rows]

    def open_trip_of_order(self, order_id: UUID) -> UUID | None:
        rows = self._all(
            """SELECT f.trip_id FROM offer_orders oo JOIN offers f ON f.id = oo.offer_id
               WHERE oo.order_id = %s AND f.status = 'open'""",
            (order_id,),
        )
        return rows[0]["trip_id"] if rows else None

    def pair_offers(self, order_ids: Sequence[UUID]) -> list[PairOffer]:
        rows = self._all(
            """SELECT f.trip_id, oo.order_id, f.status, f.expires_at, t.shopper_id, f.accepted_at
               FROM offer_orders oo JOIN offers f ON f.id = oo.offer_id JOIN trips t ON t.id = f.trip_id
               WHERE oo.order_id = ANY(%s) ORDER BY f.created_at, f.id""",
            (list(order_ids),),
        )
        return [
            PairOffer(
                row["trip_id"],
                row["order_id"],
                OfferStatus(row["status"]),
                row["expires_at"],
                row["shopper_id"],
                row["accepted_at"],
            )
            for row in rows
        ]

    def drop_outs(self, shopper_ids: Collection[UUID], since: datetime) -> list[DropOut]:
        rows = self._all(
            """SELECT t.shopper_id, f.resolved_at FROM offers f JOIN trips t ON t.id = f.trip_id
               WHERE f.status = 'withdrawn' AND f.accepted_at IS NOT NULL AND f.resolved_at > %s
                 AND t.shopper_id = ANY(%s)
               ORDER BY f.resolved_at, f.id""",
            (since, list(shopper_ids)),
        )
        return [DropOut(row["shopper_id"], row["resolved_at"]) for row in rows]

    def answered(self, *, store_id: UUID | None, since: datetime, limit: int) -> list[AnsweredOffer]:
        where, params = filters(("t.store_id", store_id), ("f.status", _ANSWERED))
        rows = self._all(
            f"""SELECT q.*, (SELECT coalesce(sum(o.size_bags), 0) FROM offer_orders oo
                             JOIN orders o ON o.id = oo.order_id WHERE oo.offer_id = q.id) AS bags
                FROM ({self._SELECT} JOIN trips t ON t.id = f.trip_id
                      WHERE f.created_at >= %s{where}
                      ORDER BY f.created_at DESC, f.id LIMIT %s) q
                ORDER BY q.created_at DESC, q.id""",
            (since, *params, limit),
        )
        return [AnsweredOffer(self._offer(row), int(row["bags"])) for row in rows]

    def page(
        self, *, store_id: UUID | None, statuses: Sequence[OfferStatus] | None, limit: int, offset: int
    ) -> Page[Offer]:
        where, params = filters(("t.store_id", store_id), ("f.status", statuses))
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
            breakdown=row["breakdown"],
            trust_tier=None if row["trust_tier"] is None else TrustTier(row["trust_tier"]),
            accepted_at=row["accepted_at"],
        )
