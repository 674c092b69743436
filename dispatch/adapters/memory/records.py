"""Proofs of delivery, users, location samples, incidents and their claims, and order histories in memory."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from uuid import UUID

from crowdship.errors import NotFound
from crowdship.pages import Page
from dispatch.accounts import User
from dispatch.adapters.memory.database import MemoryRepository, copy_of, forget
from dispatch.errors import ClaimExists, EmailTaken
from dispatch.evidence import DeliveryProof, LocationSample
from dispatch.history import OrderEvent
from dispatch.incidents import Incident, IncidentKind, IncidentStatus, InsuranceClaim


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

    def get(self, user_id: UUID, *, for_update: bool = False) -> User:  # noqa: ARG002
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

    def for_shopper(self, shopper_id: UUID, *, for_share: bool = False) -> User:  # noqa: ARG002
        found = [user for user in self._db.users.values() if user.shopper_id == shopper_id]
        if not found:
            raise NotFound(f"user of shopper {shopper_id} not found")
        return copy_of(found[0])

    def emails(self, user_ids: Collection[UUID]) -> Mapping[UUID, str]:
        return {user_id: self._db.users[user_id].email for user_id in user_ids if user_id in self._db.users}


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

    def get(self, incident_id: UUID, *, for_update: bool = False) -> Incident:  # noqa: ARG002
        for listed in self._db.incidents.values():
            for incident in listed:
                if incident.id == incident_id:
                    return incident
        raise NotFound(f"incident {incident_id} not found")

    def save(self, incident: Incident) -> None:
        db = self._db
        listed = db.incidents[incident.order_id]
        index = next(index for index, known in enumerate(listed) if known.id == incident.id)
        before = listed[index]
        listed[index] = incident
        db.record(lambda: listed.__setitem__(index, before))

    def list_for_order(self, order_id: UUID) -> list[Incident]:
        return sorted(self._db.incidents.get(order_id, []), key=lambda i: (i.reported_at, i.id))

    def page(
        self,
        *,
        statuses: Sequence[IncidentStatus] | None = None,
        kinds: Sequence[IncidentKind] | None = None,
        store_id: UUID | None = None,
        shopper_id: UUID | None = None,
        limit: int,
        offset: int,
    ) -> Page[Incident]:
        db = self._db
        chosen = [
            incident
            for listed in db.incidents.values()
            for incident in listed
            if (statuses is None or incident.status in statuses)
            and (kinds is None or incident.kind in kinds)
            and (store_id is None or db.orders[incident.order_id].store_id == store_id)
            and (shopper_id is None or incident.shopper_id == shopper_id)
        ]
        chosen.sort(key=lambda i: i.id)
        chosen.sort(key=lambda i: i.reported_at, reverse=True)
        return Page(chosen[offset : offset + limit], len(chosen))

    def add_claim(self, claim: InsuranceClaim) -> None:
        db = self._db
        if any(known.claim_ref == claim.claim_ref for listed in db.claims.values() for known in listed):
            raise ClaimExists(claim.claim_ref)
        db.claims.setdefault(claim.incident_id, []).append(claim)
        db.record(lambda: db.claims[claim.incident_id].remove(claim))

    def claims_for(self, incident_id: UUID) -> list[InsuranceClaim]:
        return sorted(self._db.claims.get(incident_id, []), key=lambda c: (c.recorded_at, c.id))


class MemoryOrderHistoryRepository(MemoryRepository):
    def add(self, event: OrderEvent) -> None:
        db = self._db
        db.order_events.setdefault(event.order_id, []).append(event)
        db.record(lambda: db.order_events[event.order_id].remove(event))

    def for_order(self, order_id: UUID) -> list[OrderEvent]:
        """In time order; events at the same instant in the order they were added (a stable sort)."""
        return sorted(self._db.order_events.get(order_id, []), key=lambda e: e.at)

    def page_for_order(self, order_id: UUID, *, limit: int, offset: int) -> Page[OrderEvent]:
        events = self.for_order(order_id)
        return Page(events[offset : offset + limit], len(events))
