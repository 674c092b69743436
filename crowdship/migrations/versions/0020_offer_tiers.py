"""The shopper's trust tier an offer's quote was priced with: its deliveries are credited with it, whatever the
tier is by the delivery, so that what the offer promised is what is paid. Offers made before this revision have
none, and their deliveries keep being priced with the tier at the delivery.

Revision ID: 0020_offer_tiers
Revises: 0019_hold_released_by
Create Date: 2026-12-05
"""

from alembic import op

revision = "0020_offer_tiers"
down_revision = "0019_hold_released_by"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE offers ADD COLUMN trust_tier smallint CHECK (trust_tier BETWEEN 0 AND 3)")


def downgrade() -> None:
    op.execute("ALTER TABLE offers DROP COLUMN trust_tier")
