"""What happens along the way: proofs of delivery, users, location samples, incidents and their claims, and
each order's history."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from uuid import UUID

from crowdship.db import Repository, Row
from crowdship.pages import Page
from crowdship.units import Cents
from dispatch.accounts import Role, User
from dispatch.adapters.postgres.sql import POINT, filters, point, point_columns, point_params
from dispatch.errors import ClaimExists, EmailTaken
from dispatch.evidence import DeliveryProof, LocationSample
from dispatch.history import OrderEvent
from dispatch.incidents import Incident, IncidentKind, IncidentStatus, InsuranceClaim
from dispatch.model import OrderStatus


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
                *point_params(proof.position),
                proof.recorded_at,
                proof.distance_to_dropoff_m,
                proof.code_matched,
                proof.accepted,
                proof.photo_ref,
            ),
        )

    def list_for_order(self, order_id: UUID) -> list[DeliveryProof]:
        rows = self._all(
            f"""SELECT id, order_id, trip_id, {point_columns("position")}, recorded_at,
                       distance_to_dropoff_m, code_matched, accepted, photo_ref
                FROM delivery_proofs WHERE order_id = %s ORDER BY recorded_at, id""",
            (order_id,),
        )
        return [
            DeliveryProof(
                id=row["id"],
                order_id=row["order_id"],
                trip_id=row["trip_id"],
                position=point(row, "position"),
                recorded_at=row["recorded_at"],
                distance_to_dropoff_m=row["distance_to_dropoff_m"],
                code_matched=row["code_matched"],
                accepted=row["accepted"],
                photo_ref=row["photo_ref"],
            )
            for row in rows
        ]


class PostgresUserRepository(Repository):
    _SELECT = "SELECT id, email, password_hash, role, shopper_id, active, created_at, tokens_valid_from FROM users"

    def add(self, user: User) -> None:
        with self._refusing_duplicates(EmailTaken):
            self._insert(user)

    def _insert(self, user: User) -> None:
        self._execute(
            """INSERT INTO users (id, email, password_hash, role, shopper_id, active, created_at, tokens_valid_from)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                user.id,
                user.email,
                user.password_hash,
                user.role.value,
                user.shopper_id,
                user.active,
                user.created_at,
                user.tokens_valid_from,
            ),
        )

    def get(self, user_id: UUID, *, for_update: bool = False) -> User:
        lock = " FOR UPDATE" if for_update else ""
        return self._user(self._one(f"{self._SELECT} WHERE id = %s{lock}", (user_id,), "user", user_id))

    def save(self, user: User) -> None:
        self._execute(
            "UPDATE users SET active = %s, tokens_valid_from = %s WHERE id = %s",
            (user.active, user.tokens_valid_from, user.id),
        )

    def by_email(self, email: str) -> User | None:
        rows = self._all(f"{self._SELECT} WHERE email = %s", (email,))
        return self._user(rows[0]) if rows else None

    def for_shopper(self, shopper_id: UUID, *, for_share: bool = False) -> User:
        lock = " FOR SHARE" if for_share else ""
        return self._user(
            self._one(f"{self._SELECT} WHERE shopper_id = %s{lock}", (shopper_id,), "user of shopper", shopper_id)
        )

    def emails(self, user_ids: Collection[UUID]) -> Mapping[UUID, str]:
        rows = self._all("SELECT id, email FROM users WHERE id = ANY(%s)", (list(user_ids),))
        return {row["id"]: row["email"] for row in rows}

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
            tokens_valid_from=row["tokens_valid_from"],
        )


class PostgresLocationSampleRepository(Repository):
    def add(self, sample: LocationSample) -> None:
        self._execute(
            f"""INSERT INTO location_samples (shopper_id, trip_id, position, recorded_at)
                VALUES (%s, %s, {POINT}, %s)""",
            (sample.shopper_id, sample.trip_id, *point_params(sample.position), sample.recorded_at),
        )

    def latest_of_active_shoppers(self) -> list[LocationSample]:
        rows = self._all(
            f"""SELECT DISTINCT ON (s.shopper_id) s.shopper_id, s.trip_id,
                       {point_columns("s.position", "position")}, s.recorded_at
                FROM location_samples s
                JOIN trips t ON t.shopper_id = s.shopper_id AND t.status IN ('open', 'departed')
                ORDER BY s.shopper_id, s.recorded_at DESC""",
            (),
        )
        return [
            LocationSample(row["shopper_id"], row["trip_id"], point(row, "position"), row["recorded_at"])
            for row in rows
        ]

    def count_for_shopper(self, shopper_id: UUID) -> int:
        count: int = self._all("SELECT count(*) AS n FROM location_samples WHERE shopper_id = %s", (shopper_id,))[0][
            "n"
        ]
        return count


class PostgresIncidentRepository(Repository):
    _SELECT = """
        SELECT i.id, i.order_id, i.trip_id, i.shopper_id, i.kind, i.description, i.reported_at, i.status,
               i.resolved_at, i.resolved_by, i.resolution
        FROM incidents i"""

    def add(self, incident: Incident) -> None:
        self._execute(
            """INSERT INTO incidents (id, order_id, trip_id, shopper_id, kind, description, reported_at, status,
                   resolved_at, resolved_by, resolution)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                incident.id,
                incident.order_id,
                incident.trip_id,
                incident.shopper_id,
                incident.kind.value,
                incident.description,
                incident.reported_at,
                incident.status.value,
                incident.resolved_at,
                incident.resolved_by,
                incident.resolution,
            ),
        )

    def get(self, incident_id: UUID, *, for_update: bool = False) -> Incident:
        lock = " FOR UPDATE" if for_update else ""
        row = self._one(f"{self._SELECT} WHERE i.id = %s{lock}", (incident_id,), "incident", incident_id)
        return self._incident(row)

    def save(self, incident: Incident) -> None:
        """Writes back its resolution."""
        self._execute(
            "UPDATE incidents SET status = %s, resolved_at = %s, resolved_by = %s, resolution = %s WHERE id = %s",
            (incident.status.value, incident.resolved_at, incident.resolved_by, incident.resolution, incident.id),
        )

    def list_for_order(self, order_id: UUID) -> list[Incident]:
        rows = self._all(f"{self._SELECT} WHERE i.order_id = %s ORDER BY i.reported_at, i.id", (order_id,))
        return [self._incident(row) for row in rows]

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
        where, params = filters(
            ("i.status", statuses), ("i.kind", kinds), ("o.store_id", store_id), ("i.shopper_id", shopper_id)
        )
        joined = f"{self._SELECT} JOIN orders o ON o.id = i.order_id WHERE true{where}"
        total = self._all(f"SELECT count(*) AS n FROM ({joined}) counted", params)[0]["n"]
        rows = self._all(f"{joined} ORDER BY i.reported_at DESC, i.id LIMIT %s OFFSET %s", (*params, limit, offset))
        return Page([self._incident(row) for row in rows], total)

    def add_claim(self, claim: InsuranceClaim) -> None:
        with self._refusing_duplicates(lambda: ClaimExists(claim.claim_ref)):
            self._execute(
                """INSERT INTO insurance_claims (id, incident_id, claim_ref, amount_cents, recorded_at, recorded_by)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (
                    claim.id,
                    claim.incident_id,
                    claim.claim_ref,
                    claim.amount_cents,
                    claim.recorded_at,
                    claim.recorded_by,
                ),
            )

    def claims_for(self, incident_id: UUID) -> list[InsuranceClaim]:
        rows = self._all(
            """SELECT id, incident_id, claim_ref, amount_cents, recorded_at, recorded_by FROM insurance_claims
               WHERE incident_id = %s ORDER BY recorded_at, id""",
            (incident_id,),
        )
        return [
            InsuranceClaim(
                id=row["id"],
                incident_id=row["incident_id"],
                claim_ref=row["claim_ref"],
                amount_cents=Cents(row["amount_cents"]),
                recorded_at=row["recorded_at"],
                recorded_by=row["recorded_by"],
            )
            for row in rows
        ]

    @staticmethod
    def _incident(row: Row) -> Incident:
        return Incident(
            id=row["id"],
            order_id=row["order_id"],
            trip_id=row["trip_id"],
            shopper_id=row["shopper_id"],
            kind=IncidentKind(row["kind"]),
            description=row["description"],
            reported_at=row["reported_at"],
            status=IncidentStatus(row["status"]),
            resolved_at=row["resolved_at"],
            resolved_by=row["resolved_by"],
            resolution=row["resolution"],
        )


class PostgresOrderHistoryRepository(Repository):
    """Append-only (the table refuses updates and deletes)."""

    def add(self, event: OrderEvent) -> None:
        self._execute(
            "INSERT INTO order_events (order_id, at, status, note, actor_id) VALUES (%s, %s, %s, %s, %s)",
            (event.order_id, event.at, event.status.value, event.note, event.actor_id),
        )

    def for_order(self, order_id: UUID) -> list[OrderEvent]:
        rows = self._all(
            "SELECT order_id, at, status, note, actor_id FROM order_events WHERE order_id = %s ORDER BY at, id",
            (order_id,),
        )
        return [
            OrderEvent(row["order_id"], row["at"], OrderStatus(row["status"]), row["note"], row["actor_id"])
            for row in rows
        ]

    def page_for_order(self, order_id: UUID, *, limit: int, offset: int) -> Page[OrderEvent]:
        total = self._all("SELECT count(*) AS n FROM order_events WHERE order_id = %s", (order_id,))[0]["n"]
        rows = self._all(
            """SELECT order_id, at, status, note, actor_id FROM order_events WHERE order_id = %s
               ORDER BY at, id LIMIT %s OFFSET %s""",
            (order_id, limit, offset),
        )
        events = [
            OrderEvent(row["order_id"], row["at"], OrderStatus(row["status"]), row["note"], row["actor_id"])
            for row in rows
        ]
        return Page(events, int(total))
