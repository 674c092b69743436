"""Why a batch left an order pending (its reason code and when) and why an offer (its breakdown).

Revision ID: 0009_batch_explanations
Revises: 0008_ops_console
Create Date: 2026-12-04
"""

from alembic import op

revision = "0009_batch_explanations"
down_revision = "0008_ops_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE orders
        ADD COLUMN unassigned_reason text CHECK (btrim(unassigned_reason) <> '' AND length(unassigned_reason) <= 64),
        ADD COLUMN unassigned_at timestamptz,
        ADD CONSTRAINT orders_unassigned_reason_has_instant
            CHECK ((unassigned_reason IS NULL) = (unassigned_at IS NULL));
    ALTER TABLE offers ADD COLUMN breakdown jsonb CHECK (breakdown IS NULL OR jsonb_typeof(breakdown) = 'object');
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE offers DROP COLUMN breakdown;
    ALTER TABLE orders DROP CONSTRAINT orders_unassigned_reason_has_instant,
        DROP COLUMN unassigned_at, DROP COLUMN unassigned_reason;
    """)
