"""The trust tier a shopper had when they delivered an order that went without a reward (no policy was in
force): finance credits such a delivery later, and prices it with the tier of the delivery, not the tier the
shopper has by then. Written by the delivery hook from this revision on; deliveries recorded before it have no
row, and their late credit falls back to the shopper's current tier.

Revision ID: 0017_delivery_tiers
Revises: 0016_payout_batch_exports
Create Date: 2026-12-05
"""

from alembic import op

revision = "0017_delivery_tiers"
down_revision = "0016_payout_batch_exports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE delivery_tiers (
        order_id     uuid PRIMARY KEY REFERENCES orders (id),
        shopper_id   uuid NOT NULL REFERENCES shoppers (id),
        trust_tier   smallint NOT NULL CHECK (trust_tier BETWEEN 0 AND 3),
        delivered_at timestamptz NOT NULL
    );
    CREATE TRIGGER delivery_tiers_append_only BEFORE UPDATE OR DELETE ON delivery_tiers
        FOR EACH ROW EXECUTE FUNCTION rewards_refuse_change();
    """)


def downgrade() -> None:
    op.execute("DROP TABLE delivery_tiers")
