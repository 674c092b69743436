"""Commute profiles: a shopper's saved recurring trips, for one-tap check-in.

Revision ID: 0010_commute_profiles
Revises: 0009_batch_explanations
Create Date: 2026-12-04
"""

from alembic import op

revision = "0010_commute_profiles"
down_revision = "0009_batch_explanations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE commute_profiles (
        id              uuid PRIMARY KEY,
        shopper_id      uuid NOT NULL REFERENCES shoppers (id) ON DELETE CASCADE,
        store_id        uuid NOT NULL REFERENCES stores (id),
        name            text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 60),
        destination     geography(Point, 4326) NOT NULL,
        days            text[] NOT NULL CHECK (
                            cardinality(days) BETWEEN 1 AND 7
                            AND days <@ ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']),
        departure       time NOT NULL,
        time_zone       text NOT NULL CHECK (btrim(time_zone) <> '' AND length(time_zone) <= 64),
        capacity_bags   integer NOT NULL CHECK (capacity_bags BETWEEN 1 AND 50),
        max_detour_m    integer CHECK (max_detour_m BETWEEN 0 AND 100000),
        max_detour_s    integer CHECK (max_detour_s BETWEEN 0 AND 86400),
        created_at      timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT commute_profiles_detour_limit CHECK (max_detour_m IS NOT NULL OR max_detour_s IS NOT NULL)
    );
    CREATE INDEX commute_profiles_shopper ON commute_profiles (shopper_id, created_at, id);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE commute_profiles")
