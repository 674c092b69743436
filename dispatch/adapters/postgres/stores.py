"""Stores and shoppers on PostGIS."""

from __future__ import annotations

from uuid import UUID

import shapely

from crowdship.db import Repository, Row
from crowdship.units import Cents
from dispatch.adapters.postgres.sql import POINT, optional_point, point, point_columns, point_params
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

    def get(self, store_id: UUID) -> Store:
        return self._store(self._one(f"{self._SELECT} WHERE id = %s", (store_id,), "store", store_id))

    def list(self) -> list[Store]:
        return [self._store(row) for row in self._all(f"{self._SELECT} ORDER BY name, id", ())]

    @staticmethod
    def _store(row: Row) -> Store:
        return Store(
            id=row["id"],
            name=row["name"],
            location=point(row, "location"),
            service_area=shapely.from_wkb(bytes(row["service_area"])),
            fallback_cost_cents=Cents(row["fallback_cost_cents"]),
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
        row = self._one(f"{self._SELECT} WHERE id = %s", (shopper_id,), "shopper", shopper_id)
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
