"""Proofs of delivery, users, location samples and incidents in memory."""

from __future__ import annotations

from uuid import UUID

from crowdship.errors import NotFound
from dispatch.accounts import User
from dispatch.adapters.memory.database import MemoryRepository, copy_of, forget
from dispatch.errors import EmailTaken
from dispatch.model import DeliveryProof, Incident, LocationSample


class MemoryDeliveryProofRepository(MemoryRepository):
    def add(self, proof: DeliveryProof) -> None:
        db = self._db
        if proof.accepted and any(earlier.accepted for earlier in db.proofs.get(proof.order_id, [])):
            raise DuplicateProof(f"order {proof.order_id} already has an accepted delivery proof")
        db.proofs.setdefault(proof.order_id, []).append(proof)
        db.record(lambda: db.proofs[proof.order_id].remove(proof))

    def list_for_order(self, order_id: UUID) -> list[DeliveryProof]:
        return sorted(self._db.proofs.get(order_id, []), key=lambda p: (p.recorded_at, p.id))


class DuplicateProof(Exception):
    """A second accepted proof for one order; the database refuses it with a unique index too."""


class MemoryUserRepository(MemoryRepository):
    def add(self, user: User) -> None:
        db = self._db
        if self.by_email(user.email) is not None:
            raise EmailTaken
        db.users[user.id] = copy_of(user)
        db.record(forget(db.users, user.id))

    def get(self, user_id: UUID) -> User:
        try:
            return copy_of(self._db.users[user_id])
        except KeyError:
            raise NotFound(f"user {user_id} not found") from None

    def save(self, user: User) -> None:
        db = self._db
        before = db.users[user.id]
        db.users[user.id] = copy_of(user)
        db.record(lambda: db.users.__setitem__(user.id, before))

    def by_email(self, email: str) -> User | None:
        found = [user for user in self._db.users.values() if user.email == email]
        return copy_of(found[0]) if found else None

    def for_shopper(self, shopper_id: UUID) -> User:
        found = [user for user in self._db.users.values() if user.shopper_id == shopper_id]
        if not found:
            raise NotFound(f"user of shopper {shopper_id} not found")
        return copy_of(found[0])


class MemoryLocationSampleRepository(MemoryRepository):
    def add(self, sample: LocationSample) -> None:
        db = self._db
        db.locations.append(sample)
        db.record(lambda: db.locations.remove(sample))

    def latest_of_active_shoppers(self) -> list[LocationSample]:
        db = self._db
        latest: dict[UUID, LocationSample] = {}
        for sample in db.locations:
            if sample.shopper_id not in db.active_trip_of_shopper:
                continue
            known = latest.get(sample.shopper_id)
            if known is None or sample.recorded_at >= known.recorded_at:
                latest[sample.shopper_id] = sample
        return [latest[shopper_id] for shopper_id in sorted(latest)]

    def count_for_shopper(self, shopper_id: UUID) -> int:
        return sum(1 for sample in self._db.locations if sample.shopper_id == shopper_id)


class MemoryIncidentRepository(MemoryRepository):
    def add(self, incident: Incident) -> None:
        db = self._db
        db.incidents.setdefault(incident.order_id, []).append(incident)
        db.record(lambda: db.incidents[incident.order_id].remove(incident))

    def list_for_order(self, order_id: UUID) -> list[Incident]:
        return sorted(self._db.incidents.get(order_id, []), key=lambda i: (i.reported_at, i.id))
