"""Commute profiles on PostGIS."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from crowdship.db import Repository, Row
from dispatch.adapters.postgres.sql import POINT, point, point_columns, point_params
from dispatch.profiles import CommuteProfile, Weekday


class PostgresCommuteProfileRepository(Repository):
    _SELECT = f"""
        SELECT id, shopper_id, store_id, name, {point_columns("destination")}, days, departure, time_zone,
               capacity_bags, max_detour_m, max_detour_s, created_at
        FROM commute_profiles"""

    def add(self, profile: CommuteProfile) -> None:
        self._execute(
            f"""INSERT INTO commute_profiles (id, shopper_id, store_id, name, destination, days, departure,
                    time_zone, capacity_bags, max_detour_m, max_detour_s, created_at, updated_at)
                VALUES (%s, %s, %s, %s, {POINT}, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                profile.id,
                profile.shopper_id,
                profile.store_id,
                profile.name,
                *point_params(profile.destination),
                [day.value for day in profile.days],
                profile.departure,
                profile.time_zone,
                profile.capacity_bags,
                profile.max_detour_m,
                profile.max_detour_s,
                profile.created_at,
                profile.created_at,
            ),
        )

    def get(self, profile_id: UUID) -> CommuteProfile:
        return self._profile(self._one(f"{self._SELECT} WHERE id = %s", (profile_id,), "commute profile", profile_id))

    def save(self, profile: CommuteProfile, *, at: datetime) -> None:
        self._execute(
            f"""UPDATE commute_profiles SET store_id = %s, name = %s, destination = {POINT}, days = %s,
                       departure = %s, time_zone = %s, capacity_bags = %s, max_detour_m = %s,
                       max_detour_s = %s, updated_at = %s
                WHERE id = %s""",
            (
                profile.store_id,
                profile.name,
                *point_params(profile.destination),
                [day.value for day in profile.days],
                profile.departure,
                profile.time_zone,
                profile.capacity_bags,
                profile.max_detour_m,
                profile.max_detour_s,
                at,
                profile.id,
            ),
        )

    def delete(self, profile_id: UUID) -> None:
        self._execute("DELETE FROM commute_profiles WHERE id = %s", (profile_id,))

    def list_for_shopper(self, shopper_id: UUID, *, for_update: bool = False) -> list[CommuteProfile]:
        if for_update:
            self._execute("SELECT 1 FROM shoppers WHERE id = %s FOR UPDATE", (shopper_id,))
        rows = self._all(f"{self._SELECT} WHERE shopper_id = %s ORDER BY created_at, id", (shopper_id,))
        return [self._profile(row) for row in rows]

    @staticmethod
    def _profile(row: Row) -> CommuteProfile:
        return CommuteProfile(
            id=row["id"],
            shopper_id=row["shopper_id"],
            store_id=row["store_id"],
            name=row["name"],
            destination=point(row, "destination"),
            days=tuple(Weekday(day) for day in row["days"]),
            departure=row["departure"],
            time_zone=row["time_zone"],
            capacity_bags=row["capacity_bags"],
            max_detour_m=row["max_detour_m"],
            max_detour_s=row["max_detour_s"],
            created_at=row["created_at"],
        )
