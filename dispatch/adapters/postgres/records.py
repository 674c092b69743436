"""What happens along the way: proofs of delivery, users, location samples and incidents."""

from __future__ import annotations

from uuid import UUID

from crowdship.db import Repository, Row
from dispatch.accounts import Role, User
from dispatch.adapters.postgres.sql import POINT, point, point_columns, point_params
from dispatch.errors import EmailTaken
from dispatch.model import DeliveryProof, Incident, IncidentKind, LocationSample


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
    _SELECT = "SELECT id, email, password_hash, role, shopper_id, active, created_at FROM users"

    def add(self, user: User) -> None:
        with self._refusing_duplicates(EmailTaken):
            self._insert(user)

    def _insert(self, user: User) -> None:
        self._execute(
            """INSERT INTO users (id, email, password_hash, role, shopper_id, active, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (user.id, user.email, user.password_hash, user.role.value, user.shopper_id, user.active, user.created_at),
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
