"""Migrations build the schema from an empty database, and can be undone and re-applied."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql

from crowdship import migrate

DISPATCH_TABLES = {"stores", "shoppers", "trips", "orders", "offers", "offer_orders", "delivery_proofs"}
GEOGRAPHY_COLUMNS = {
    ("stores", "location", "Point"),
    ("stores", "service_area", "Geometry"),  # a Polygon or a MultiPolygon (a CHECK says which)
    ("shoppers", "home_location", "Point"),
    ("trips", "destination", "Point"),
    ("orders", "dropoff", "Point"),
    ("delivery_proofs", "position", "Point"),
}


@pytest.fixture
def scratch_database(admin_database_url: str) -> Iterator[str]:
    """A brand-new database with nothing in it, dropped when the test ends."""
    name = f"crowdship_scratch_{uuid4().hex[:12]}"  # unique: tests run in parallel sessions and workers
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield admin_database_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def test_migrating_an_empty_database_builds_the_whole_schema(scratch_database: str) -> None:
    """From nothing to the newest revision: PostGIS, every table, typed geography columns with GiST indexes."""
    assert migrate.current_revisions(scratch_database) == ()
    migrate.upgrade(scratch_database)
    assert migrate.current_revisions(scratch_database) == migrate.head_revisions()
    assert _tables(scratch_database) >= DISPATCH_TABLES
    with psycopg.connect(scratch_database) as connection:
        assert connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
        columns = set(
            connection.execute(
                "SELECT f_table_name, f_geography_column, type FROM geography_columns WHERE srid = 4326"
            ).fetchall()
        )
        gist_indexed = {
            (row[0], row[1])
            for row in connection.execute(
                """SELECT t.relname, a.attname
                   FROM pg_index i
                   JOIN pg_class c ON c.oid = i.indexrelid
                   JOIN pg_am am ON am.oid = c.relam AND am.amname = 'gist'
                   JOIN pg_class t ON t.oid = i.indrelid
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey)"""
            ).fetchall()
        }
    assert columns >= GEOGRAPHY_COLUMNS
    assert {(table, column) for table, column, _ in GEOGRAPHY_COLUMNS} <= gist_indexed


def test_migrations_undo_to_empty_and_apply_again(scratch_database: str) -> None:
    """Every revision has a working downgrade, and the schema can be rebuilt after it."""
    migrate.upgrade(scratch_database)
    migrate.downgrade(scratch_database, "base")
    assert migrate.current_revisions(scratch_database) == ()
    assert _tables(scratch_database) & DISPATCH_TABLES == set()
    migrate.upgrade(scratch_database)
    assert _tables(scratch_database) >= DISPATCH_TABLES


def test_applying_migrations_twice_changes_nothing(scratch_database: str) -> None:
    """A second upgrade to the newest revision is a no-op, not an error."""
    migrate.upgrade(scratch_database)
    before = _tables(scratch_database)
    migrate.upgrade(scratch_database)
    assert _tables(scratch_database) == before
    assert migrate.current_revisions(scratch_database) == migrate.head_revisions()


def test_a_throwaway_database_is_migrated_beside_the_given_one_and_dropped_even_after_an_error(
    database_url: str, admin_database_url: str
) -> None:
    """What a benchmark writes into must never be the real data, nor outlive the benchmark."""
    seen: list[str] = []

    def benchmark() -> None:
        with migrate.throwaway_database(database_url, "crowdship_bench_check") as url:
            seen.append(url)
            assert migrate.current_revisions(url) == migrate.head_revisions()
            raise RuntimeError("the benchmark failed")

    with pytest.raises(RuntimeError, match="the benchmark failed"):
        benchmark()
    (url,) = seen
    server, name = url.rsplit("/", 1)
    assert name.startswith("crowdship_bench_check_")
    assert server == database_url.rsplit("/", 1)[0]
    with psycopg.connect(admin_database_url) as connection:
        assert connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None


def test_a_url_that_is_not_postgres_is_refused() -> None:
    """Migrations only ever run against PostgreSQL."""
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        migrate.sqlalchemy_url("mysql://localhost/crowdship")


def test_hardening_migrations_grandfather_policies_and_withdraw_offers_of_ended_trips(scratch_database: str) -> None:
    """0005: versions published before approval existed count as approved at their creation (the rewards
    priced with them stand). 0006: an offer accepted on a trip that was then cancelled becomes withdrawn; one
    on a departed trip stays accepted."""
    migrate.upgrade(scratch_database, "0004_payment_choice")
    author = uuid4()
    with psycopg.connect(scratch_database) as connection:
        connection.execute(
            """INSERT INTO reward_policies (id, version, parameters, created_by, created_at)
               VALUES (%s, 1, '{}', %s, '2026-11-01T00:00:00Z')""",
            (uuid4(), author),
        )
        store, shopper, order = uuid4(), uuid4(), uuid4()
        connection.execute(
            """INSERT INTO stores (id, name, location, service_area, fallback_cost_cents)
               VALUES (%s, 'S', 'SRID=4326;POINT(-84.22 30.46)',
                       'SRID=4326;POLYGON((-84.3 30.4,-84.1 30.4,-84.1 30.6,-84.3 30.6,-84.3 30.4))', 899)""",
            (store,),
        )
        connection.execute("INSERT INTO shoppers (id, display_name) VALUES (%s, 'Ana')", (shopper,))
        connection.execute(
            """INSERT INTO orders (id, store_id, external_ref, dropoff, dropoff_address, recipient_name,
                   window_earliest, window_latest, dispatch_deadline, size_bags, value_cents, status, created_at)
               VALUES (%s, %s, 'W1', 'SRID=4326;POINT(-84.21 30.48)', '1 Main St', 'Jade Moreau',
                   '2026-11-01T10:00Z', '2026-11-01T12:00Z', '2026-11-01T11:00Z', 1, 1000, 'pending',
                   '2026-11-01T09:00Z')""",
            (order, store),
        )
        offers = {}
        for trip_status in ("cancelled", "departed"):
            trip, offer = uuid4(), uuid4()
            connection.execute(
                """INSERT INTO trips (id, shopper_id, store_id, destination, capacity_bags, max_detour_m,
                       checked_in_at, leave_by, status)
                   VALUES (%s, %s, %s, 'SRID=4326;POINT(-84.22 30.5)', 2, 3000, '2026-11-01T09:00Z',
                       '2026-11-01T10:00Z', %s)""",
                (trip, shopper, store, trip_status),
            )
            connection.execute(
                """INSERT INTO offers (id, trip_id, status, extra_distance_m, extra_duration_s, reward_quote_cents,
                       created_at, expires_at, resolved_at)
                   VALUES (%s, %s, 'accepted', 100, 60, 300, '2026-11-01T09:10Z', '2026-11-01T09:11Z',
                       '2026-11-01T09:10:30Z')""",
                (offer, trip),
            )
            offers[trip_status] = offer
    migrate.upgrade(scratch_database)
    with psycopg.connect(scratch_database) as connection:
        decision = connection.execute("SELECT decision, decided_by FROM reward_policy_decisions").fetchall()
        statuses: dict[UUID, str] = dict(connection.execute("SELECT id, status FROM offers").fetchall())
    assert decision == [("approved", author)]
    assert statuses == {offers["cancelled"]: "withdrawn", offers["departed"]: "accepted"}


def test_e_mails_stored_before_folding_are_folded_unless_another_account_has_that_spelling(
    scratch_database: str,
) -> None:
    """0022: sign-in folds an address with NFKC before looking it up, so an account stored under a full-width or
    decomposed spelling could no longer sign in: it is stored folded; where an account already holds the folded
    spelling, both are left as they are (merging them is a person's decision), the one unfolded unreachable."""
    migrate.upgrade(scratch_database, "0021_store_leases")
    spellings = {
        "full-width": "\uff53hop1@example.org",
        "decomposed": "jose\u0301@example.org",
        "taken": "\uff41na@example.org",
        "holder": "ana@example.org",
        "plain": "bo@example.org",
    }
    ids = {name: uuid4() for name in spellings}
    with psycopg.connect(scratch_database) as connection:
        for name, email in spellings.items():
            connection.execute(
                """INSERT INTO users (id, email, password_hash, role, active, created_at)
                   VALUES (%s, %s, 'x', 'ops', true, '2026-11-01T00:00:00Z')""",
                (ids[name], email),
            )
    migrate.upgrade(scratch_database)
    with psycopg.connect(scratch_database) as connection:
        stored: dict[UUID, str] = dict(connection.execute("SELECT id, email FROM users").fetchall())
    assert {name: stored[ids[name]] for name in spellings} == {
        "full-width": "shop1@example.org",
        "decomposed": "jos\u00e9@example.org",
        "taken": "\uff41na@example.org",
        "holder": "ana@example.org",
        "plain": "bo@example.org",
    }
