"""Dispatch repositories on PostgreSQL + PostGIS, all sharing the transaction of one unit of work.

Points travel as (lon, lat) through ST_MakePoint and come back through ST_X/ST_Y; polygons travel as WKB.
Geography distances are metres on the WGS84 spheroid.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from crowdship.db import PostgresIdempotencyStore, UnitOfWork
from dispatch.adapters.leases import PostgresLeaseFence
from dispatch.adapters.postgres.orders import PostgresOrderRepository, PostgresOrderSecretRepository
from dispatch.adapters.postgres.profiles import PostgresCommuteProfileRepository
from dispatch.adapters.postgres.records import (
    PostgresDeliveryProofRepository,
    PostgresIncidentRepository,
    PostgresLocationSampleRepository,
    PostgresOrderHistoryRepository,
    PostgresUserRepository,
)
from dispatch.adapters.postgres.stores import PostgresShopperRepository, PostgresStoreRepository
from dispatch.adapters.postgres.trips import PostgresOfferRepository, PostgresTripRepository

__all__ = [
    "PostgresCommuteProfileRepository",
    "PostgresDeliveryProofRepository",
    "PostgresDispatchUnitOfWork",
    "PostgresIncidentRepository",
    "PostgresLocationSampleRepository",
    "PostgresOfferRepository",
    "PostgresOrderHistoryRepository",
    "PostgresOrderRepository",
    "PostgresOrderSecretRepository",
    "PostgresShopperRepository",
    "PostgresStoreRepository",
    "PostgresTripRepository",
    "PostgresUserRepository",
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
    profiles: PostgresCommuteProfileRepository
    history: PostgresOrderHistoryRepository
    leases: PostgresLeaseFence

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
        self.profiles = PostgresCommuteProfileRepository(connection)
        self.history = PostgresOrderHistoryRepository(connection)
        self.leases = PostgresLeaseFence(connection)
