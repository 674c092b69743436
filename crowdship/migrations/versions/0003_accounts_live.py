"""Accounts and live dispatch: users and roles, order secrets (bag code, hashed delivery code), idempotency
records, location samples, incidents.

Revision ID: 0003_accounts
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003_accounts"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE users (
        id            uuid PRIMARY KEY,
        email         text NOT NULL CHECK (email = lower(btrim(email)) AND email LIKE '%_@_%'),
        password_hash text NOT NULL,
        role          text NOT NULL CHECK (role IN ('shopper', 'ops', 'finance', 'admin')),
        shopper_id    uuid UNIQUE REFERENCES shoppers (id),
        active        boolean NOT NULL DEFAULT true,
        created_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_email_unique UNIQUE (email),
        -- A shopper account is always tied to its shopper profile, and only a shopper account is.
        CONSTRAINT users_shopper_link CHECK ((role = 'shopper') = (shopper_id IS NOT NULL))
    );

    -- What only the store and the recipient know about an order. The delivery code itself is never stored.
    CREATE TABLE order_secrets (
        order_id           uuid PRIMARY KEY REFERENCES orders (id),
        bag_code           text NOT NULL UNIQUE CHECK (btrim(bag_code) <> ''),
        delivery_code_hash text NOT NULL
    );

    -- One row per (caller, key): the first response of an idempotent request, replayed on a retry.
    CREATE TABLE idempotency_records (
        scope         text NOT NULL,
        key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
        request_hash  text NOT NULL,
        status_code   integer,
        response_body jsonb,
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key)
    );

    CREATE TABLE location_samples (
        id          bigserial PRIMARY KEY,
        shopper_id  uuid NOT NULL REFERENCES shoppers (id),
        trip_id     uuid REFERENCES trips (id),
        position    geography(Point, 4326) NOT NULL,
        recorded_at timestamptz NOT NULL
    );
    CREATE INDEX location_samples_by_shopper_time ON location_samples (shopper_id, recorded_at);
    CREATE INDEX location_samples_position_gist ON location_samples USING gist (position);

    CREATE TABLE incidents (
        id          uuid PRIMARY KEY,
        order_id    uuid NOT NULL REFERENCES orders (id),
        trip_id     uuid NOT NULL REFERENCES trips (id),
        shopper_id  uuid NOT NULL REFERENCES shoppers (id),
        kind        text NOT NULL CHECK (kind IN ('damage', 'theft', 'accident', 'other')),
        description text NOT NULL CHECK (btrim(description) <> ''),
        reported_at timestamptz NOT NULL
    );
    CREATE INDEX incidents_by_order ON incidents (order_id);

    -- The re-offer rule reads which trips an order was already offered to.
    CREATE INDEX offer_orders_by_order ON offer_orders (order_id);
    CREATE INDEX offers_open_by_expiry ON offers (expires_at) WHERE status = 'open';
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX offers_open_by_expiry;
    DROP INDEX offer_orders_by_order;
    DROP TABLE incidents;
    DROP TABLE location_samples;
    DROP TABLE idempotency_records;
    DROP TABLE order_secrets;
    DROP TABLE users;
    """)
