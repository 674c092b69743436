"""Dispatch schema: stores, shoppers, trips, orders, offers and their orders, delivery proofs.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE EXTENSION IF NOT EXISTS postgis;

    CREATE TABLE stores (
        id                  uuid PRIMARY KEY,
        name                text NOT NULL CHECK (btrim(name) <> ''),
        location            geography(Point, 4326) NOT NULL,
        service_area        geography(Polygon, 4326) NOT NULL,
        fallback_cost_cents bigint NOT NULL CHECK (fallback_cost_cents > 0),
        created_at          timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX stores_location_gist ON stores USING gist (location);
    CREATE INDEX stores_service_area_gist ON stores USING gist (service_area);

    CREATE TABLE shoppers (
        id                uuid PRIMARY KEY,
        display_name      text NOT NULL CHECK (btrim(display_name) <> ''),
        trust_tier        smallint NOT NULL DEFAULT 0 CHECK (trust_tier BETWEEN 0 AND 3),
        identity_verified boolean NOT NULL DEFAULT false,
        opted_in          boolean NOT NULL DEFAULT true,
        home_location     geography(Point, 4326),
        created_at        timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX shoppers_home_location_gist ON shoppers USING gist (home_location);

    CREATE TABLE trips (
        id               uuid PRIMARY KEY,
        shopper_id       uuid NOT NULL REFERENCES shoppers (id),
        store_id         uuid NOT NULL REFERENCES stores (id),
        destination      geography(Point, 4326) NOT NULL,
        capacity_bags    integer NOT NULL CHECK (capacity_bags > 0),
        max_detour_m     integer CHECK (max_detour_m >= 0),
        max_detour_s     integer CHECK (max_detour_s >= 0),
        checked_in_at    timestamptz NOT NULL,
        leave_by         timestamptz NOT NULL,
        status           text NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'departed', 'completed', 'cancelled', 'expired')),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT trips_detour_limit_given CHECK (max_detour_m IS NOT NULL OR max_detour_s IS NOT NULL),
        CONSTRAINT trips_leave_after_check_in CHECK (checked_in_at < leave_by)
    );
    CREATE INDEX trips_destination_gist ON trips USING gist (destination);
    CREATE INDEX trips_open_by_store ON trips (store_id) WHERE status = 'open';
    -- A shopper is on one trip at a time.
    CREATE UNIQUE INDEX trips_one_active_per_shopper ON trips (shopper_id)
        WHERE status IN ('open', 'departed');

    CREATE TABLE orders (
        id                uuid PRIMARY KEY,
        store_id          uuid NOT NULL REFERENCES stores (id),
        external_ref      text NOT NULL CHECK (btrim(external_ref) <> ''),
        dropoff           geography(Point, 4326) NOT NULL,
        dropoff_address   text NOT NULL CHECK (btrim(dropoff_address) <> ''),
        recipient_name    text NOT NULL CHECK (btrim(recipient_name) <> ''),
        window_earliest   timestamptz NOT NULL,
        window_latest     timestamptz NOT NULL,
        dispatch_deadline timestamptz NOT NULL,
        size_bags         integer NOT NULL CHECK (size_bags > 0),
        value_cents       bigint NOT NULL CHECK (value_cents > 0),
        age_restricted    boolean NOT NULL DEFAULT false,
        perishable        boolean NOT NULL DEFAULT false,
        status            text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'offered', 'accepted', 'picked_up', 'delivered',
                                            'failed', 'returned', 'fallback', 'cancelled')),
        created_at        timestamptz NOT NULL,
        updated_at        timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT orders_window_ordered CHECK (window_earliest < window_latest),
        CONSTRAINT orders_deadline_within_window CHECK (dispatch_deadline <= window_latest),
        CONSTRAINT orders_external_ref_unique UNIQUE (store_id, external_ref)
    );
    CREATE INDEX orders_dropoff_gist ON orders USING gist (dropoff);
    CREATE INDEX orders_by_store_status ON orders (store_id, status);

    CREATE TABLE offers (
        id                 uuid PRIMARY KEY,
        trip_id            uuid NOT NULL REFERENCES trips (id),
        status             text NOT NULL DEFAULT 'open'
                           CHECK (status IN ('open', 'accepted', 'declined', 'expired', 'withdrawn')),
        extra_distance_m   integer NOT NULL CHECK (extra_distance_m >= 0),
        extra_duration_s   integer NOT NULL CHECK (extra_duration_s >= 0),
        reward_quote_cents bigint NOT NULL CHECK (reward_quote_cents >= 0),
        created_at         timestamptz NOT NULL,
        expires_at         timestamptz NOT NULL,
        resolved_at        timestamptz,
        CONSTRAINT offers_expire_after_creation CHECK (created_at < expires_at),
        CONSTRAINT offers_resolved_when_closed CHECK ((status = 'open') = (resolved_at IS NULL))
    );
    -- A shopper (through their one active trip) holds at most one open offer.
    CREATE UNIQUE INDEX offers_one_open_per_trip ON offers (trip_id) WHERE status = 'open';

    CREATE TABLE offer_orders (
        offer_id   uuid NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
        order_id   uuid NOT NULL REFERENCES orders (id),
        stop_index smallint NOT NULL CHECK (stop_index >= 0),
        offer_open boolean NOT NULL DEFAULT true,
        PRIMARY KEY (offer_id, order_id),
        CONSTRAINT offer_orders_stop_unique UNIQUE (offer_id, stop_index)
    );
    -- An order is in at most one open offer. offer_open mirrors offers.status (trigger below) so that
    -- the rule can be a plain partial unique index.
    CREATE UNIQUE INDEX offer_orders_one_open_offer_per_order ON offer_orders (order_id) WHERE offer_open;

    CREATE FUNCTION offer_orders_follow_offer_status() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE offer_orders SET offer_open = (NEW.status = 'open') WHERE offer_id = NEW.id;
        RETURN NEW;
    END $$;
    CREATE TRIGGER offers_status_to_offer_orders AFTER UPDATE OF status ON offers
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION offer_orders_follow_offer_status();

    CREATE FUNCTION offer_orders_open_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.offer_open := (SELECT status = 'open' FROM offers WHERE id = NEW.offer_id);
        RETURN NEW;
    END $$;
    CREATE TRIGGER offer_orders_set_open BEFORE INSERT ON offer_orders
        FOR EACH ROW EXECUTE FUNCTION offer_orders_open_on_insert();

    CREATE TABLE delivery_proofs (
        id                   uuid PRIMARY KEY,
        order_id             uuid NOT NULL REFERENCES orders (id),
        trip_id              uuid NOT NULL REFERENCES trips (id),
        position             geography(Point, 4326) NOT NULL,
        recorded_at          timestamptz NOT NULL,
        distance_to_dropoff_m double precision NOT NULL CHECK (distance_to_dropoff_m >= 0),
        code_matched         boolean NOT NULL,
        accepted             boolean NOT NULL,
        photo_ref            text,
        CONSTRAINT delivery_proofs_accepted_needs_code CHECK (NOT accepted OR code_matched)
    );
    CREATE INDEX delivery_proofs_position_gist ON delivery_proofs USING gist (position);
    CREATE INDEX delivery_proofs_by_order ON delivery_proofs (order_id);
    -- An order is delivered once.
    CREATE UNIQUE INDEX delivery_proofs_one_accepted_per_order ON delivery_proofs (order_id) WHERE accepted;
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE delivery_proofs;
    DROP TABLE offer_orders;
    DROP FUNCTION offer_orders_open_on_insert();
    DROP TABLE offers;
    DROP FUNCTION offer_orders_follow_offer_status();
    DROP TABLE orders;
    DROP TABLE trips;
    DROP TABLE shoppers;
    DROP TABLE stores;
    """)
