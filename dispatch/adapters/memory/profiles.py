"""Commute profiles in memory."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from crowdship.errors import NotFound
from dispatch.adapters.memory.database import MemoryRepository, copy_of, forget
from dispatch.profiles import CommuteProfile


class MemoryCommuteProfileRepository(MemoryRepository):
    def add(self, profile: CommuteProfile) -> None:
        db = self._db
        db.profiles[profile.id] = copy_of(profile)
        db.record(forget(db.profiles, profile.id))

    def get(self, profile_id: UUID) -> CommuteProfile:
        try:
            return copy_of(self._db.profiles[profile_id])
        except KeyError:
            raise NotFound(f"commute profile {profile_id} not found") from None

    def save(self, profile: CommuteProfile, *, at: datetime) -> None:  # noqa: ARG002 - no change times kept
        db = self._db
        before = db.profiles[profile.id]
        kept = copy_of(profile)
        kept.shopper_id, kept.created_at = before.shopper_id, before.created_at
        db.profiles[profile.id] = kept
        db.record(lambda: db.profiles.__setitem__(profile.id, before))

    def delete(self, profile_id: UUID) -> None:
        db = self._db
        before = db.profiles.pop(profile_id, None)
        if before is not None:
            db.record(lambda: db.profiles.__setitem__(profile_id, before))

    def list_for_shopper(self, shopper_id: UUID, *, for_update: bool = False) -> list[CommuteProfile]:  # noqa: ARG002
        mine = [profile for profile in self._db.profiles.values() if profile.shopper_id == shopper_id]
        return [copy_of(profile) for profile in sorted(mine, key=lambda p: (p.created_at, p.id))]
