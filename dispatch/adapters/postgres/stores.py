"""Stores (with their opening hours) and shoppers on PostGIS."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from uuid import UUID

import shapely

from crowdship.db import Repository, Row
from crowdship.errors import NotFound
from crowdship.pages import Page
from crowdship.units import Cents
from dispatch.adapters.postgres.sql import POINT, optional_point, point, point_columns, point_params
from dispatch.hours import DayHours, OpeningHours
from dispatch.model import Shopper, Store, TrustTier


class PostgresStoreRepository(Repository):
    _SELECT = f"""
        SELECT id, name, {point_columns("location")}, ST_AsBinary(service_area) AS service_area,
               fallback_cost_cents
        FROM stores"""

    def add(self, store: Store) -> None:
        self._execute(
            f"""INSERT INTO stores (id, name, location, service_area, fallback_cost_cents)
                VALUES (%s, %s, {POINT}, ST_GeogFromWKB(%s), %s)""",
            (
                store.id,
                store.name,
                *point_params(store.location),
                shapely.to_wkb(store.service_area),
                store.fallback_cost_cents,
            ),
        )
        self._write_hours(store)

    def save(self, store: Store) -> None:
        """Writes back everything but the id: name, location, area, fallback cost and opening hours."""
        self._execute(
            f"""UPDATE stores SET name = %s, location = {POINT}, service_area = ST_GeogFromWKB(%s),
                       fallback_cost_cents = %s
                WHERE id = %s""",
            (
                store.name,
                *point_params(store.location),
                shapely.to_wkb(store.service_area),
                store.fallback_cost_cents,
                store.id,
            ),
        )
        self._execute("DELETE FROM store_opening_hours WHERE store_id = %s", (store.id,))
        self._write_hours(store)

    def _write_hours(self, store: Store) -> None:
        for weekday, day in store.opening_hours.days.items():
            self._execute(
                """INSERT INTO store_opening_hours (store_id, weekday, opens_minute, closes_minute)
                   VALUES (%s, %s, %s, %s)""",
                (store.id, weekday, day.opens_minute, day.closes_minute),
            )

    def get(self, store_id: UUID) -> Store:
        row = self._one(f"{self._SELECT} WHERE id = %s", (store_id,), "store", store_id)
        return self._store(row, self._hours([store_id]).get(store_id))

    def _stores(self, rows: Sequence[Row]) -> list[Store]:
        hours = self._hours([row["id"] for row in rows])
        return [self._store(row, hours.get(row["id"])) for row in rows]

    def list(self) -> list[Store]:
        return self._stores(self._all(f"{self._SELECT} ORDER BY name, id", ()))

    def page(self, *, limit: int, offset: int) -> Page[Store]:
        total = self._all("SELECT count(*) AS n FROM stores", ())[0]["n"]
        rows = self._all(f"{self._SELECT} ORDER BY name, id LIMIT %s OFFSET %s", (limit, offset))
        return Page(self._stores(rows), total)

    def _hours(self, store_ids: Sequence[UUID]) -> dict[UUID, OpeningHours]:
        days: dict[UUID, dict[int, DayHours]] = {}
        for row in self._all(
            """SELECT store_id, weekday, opens_minute, closes_minute FROM store_opening_hours
               WHERE store_id = ANY(%s)""",
            (list(store_ids),),
        ):
            days.setdefault(row["store_id"], {})[row["weekday"]] = DayHours(row["opens_minute"], row["closes_minute"])
        return {store_id: OpeningHours(by_day) for store_id, by_day in days.items()}

    @staticmethod
    def _store(row: Row, hours: OpeningHours | None) -> Store:
        return Store(
            id=row["id"],
            name=row["name"],
            location=point(row, "location"),
            service_area=shapely.from_wkb(bytes(row["service_area"])),
            fallback_cost_cents=Cents(row["fallback_cost_cents"]),
            opening_hours=hours or OpeningHours(),
        )


class PostgresShopperRepository(Repository):
    _SELECT = f"""
        SELECT id, display_name, trust_tier, identity_verified, opted_in,
               {point_columns("home_location", "home")}
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
                *point_params(shopper.home_location),
            ),
        )

    def get(self, shopper_id: UUID) -> Shopper:
        return self._shopper(self._one(f"{self._SELECT} WHERE id = %s", (shopper_id,), "shopper", shopper_id))

    def get_many(self, shopper_ids: Collection[UUID]) -> Mapping[UUID, Shopper]:
        rows = self._all(f"{self._SELECT} WHERE id = ANY(%s)", (list(shopper_ids),))
        return {row["id"]: self._shopper(row) for row in rows}

    def lock(self, shopper_id: UUID) -> None:
        if self._one_or_none("SELECT 1 AS found FROM shoppers WHERE id = %s FOR UPDATE", (shopper_id,)) is None:
            raise NotFound(f"shopper {shopper_id} not found")

    def page(self, *, limit: int, offset: int) -> Page[Shopper]:
        """Shoppers by name (then id)."""
        total = self._all("SELECT count(*) AS n FROM shoppers", ())[0]["n"]
        rows = self._all(f'{self._SELECT} ORDER BY display_name COLLATE "C", id LIMIT %s OFFSET %s', (limit, offset))
        return Page([self._shopper(row) for row in rows], total)

    def named(self, prefix: str, *, limit: int) -> list[Shopper]:
        pattern = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._all(
            f"""{self._SELECT} WHERE lower(display_name) LIKE %s ESCAPE '\\'
                ORDER BY display_name COLLATE "C", id LIMIT %s""",
            (pattern, limit),
        )
        return [self._shopper(row) for row in rows]

    @staticmethod
    def _shopper(row: Row) -> Shopper:
        return Shopper(
            id=row["id"],
            display_name=row["display_name"],
            trust_tier=TrustTier(row["trust_tier"]),
            identity_verified=row["identity_verified"],
            opted_in=row["opted_in"],
            home_location=optional_point(row, "home"),
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
                *point_params(shopper.home_location),
                shopper.id,
            ),
        )
