"""Operations' console: stores edited by ops (a service area may be a MultiPolygon; opening hours per weekday),
incidents resolved and their insurance claims, and an append-only history of each order's status changes.

Revision ID: 0008_ops_console
Revises: 0007_one_idempotency
Create Date: 2026-12-04
"""

from alembic import op

revision = "0008_ops_console"
down_revision = "0007_one_idempotency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE stores
        ALTER COLUMN service_area TYPE geography(Geometry, 4326) USING service_area::geometry::geography,
        ADD CONSTRAINT stores_service_area_polygonal
            CHECK (GeometryType(service_area::geometry) IN ('POLYGON', 'MULTIPOLYGON'));

    -- One opening interval per weekday (0 = Monday); a weekday without a row is closed. Minutes since midnight,
    -- so that a store open until midnight closes at 1440.
    CREATE TABLE store_opening_hours (
        store_id     uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
        weekday      smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),
        opens_minute smallint NOT NULL CHECK (opens_minute BETWEEN 0 AND 1439),
        closes_minute smallint NOT NULL CHECK (closes_minute BETWEEN 1 AND 1440),
        PRIMARY KEY (store_id, weekday),
        CONSTRAINT store_opening_hours_order CHECK (opens_minute < closes_minute)
    );

    ALTER TABLE incidents
        ADD COLUMN status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
        ADD COLUMN resolved_at timestamptz,
        ADD COLUMN resolved_by uuid REFERENCES users (id),
        ADD COLUMN resolution  text CHECK (resolution IS NULL OR btrim(resolution) <> ''),
        ADD CONSTRAINT incidents_resolved_fields
            CHECK ((status = 'resolved') = (resolved_at IS NOT NULL AND resolution IS NOT NULL));
    CREATE INDEX incidents_by_status_time ON incidents (status, reported_at DESC);
    CREATE INDEX incidents_by_shopper ON incidents (shopper_id, reported_at DESC);

    CREATE TABLE insurance_claims (
        id           uuid PRIMARY KEY,
        incident_id  uuid NOT NULL REFERENCES incidents (id),
        claim_ref    text NOT NULL CHECK (btrim(claim_ref) <> ''),
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        recorded_at  timestamptz NOT NULL,
        recorded_by  uuid REFERENCES users (id),
        CONSTRAINT insurance_claims_ref_unique UNIQUE (claim_ref)
    );
    CREATE INDEX insurance_claims_by_incident ON insurance_claims (incident_id);

    -- Append-only: what happened to an order and when (offers and proofs keep their own times).
    CREATE TABLE order_events (
        id       bigserial PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES orders (id),
        at       timestamptz NOT NULL,
        status   text NOT NULL,
        note     text,
        actor_id uuid REFERENCES users (id)
    );
    CREATE INDEX order_events_by_order ON order_events (order_id, at, id);
    CREATE FUNCTION order_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'order_events is append-only';
    END $$;
    CREATE TRIGGER order_events_no_change BEFORE UPDATE OR DELETE ON order_events
        FOR EACH ROW EXECUTE FUNCTION order_events_append_only();
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE order_events;
    DROP FUNCTION order_events_append_only();
    DROP TABLE insurance_claims;
    DROP INDEX incidents_by_shopper;
    DROP INDEX incidents_by_status_time;
    ALTER TABLE incidents DROP CONSTRAINT incidents_resolved_fields,
        DROP COLUMN resolution, DROP COLUMN resolved_by, DROP COLUMN resolved_at, DROP COLUMN status;
    DROP TABLE store_opening_hours;
    ALTER TABLE stores DROP CONSTRAINT stores_service_area_polygonal,
        ALTER COLUMN service_area TYPE geography(Polygon, 4326)
            USING ST_GeometryN(service_area::geometry, 1)::geography;
    """)
