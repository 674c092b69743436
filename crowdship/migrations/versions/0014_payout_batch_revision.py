"""Payout batches count their revisions: every hold and release of a line bumps it, so that an approval can name
the batch as its approver reviewed it and be refused when a line was held or released since. Batches prepared
before this revision start at 0.

Revision ID: 0014_payout_batch_revision
Revises: 0013_location_samples_by_trip
Create Date: 2026-12-05
"""

from alembic import op

revision = "0014_payout_batch_revision"
down_revision = "0013_location_samples_by_trip"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE payout_batches ADD COLUMN revision integer NOT NULL DEFAULT 0 CHECK (revision >= 0)")


def downgrade() -> None:
    op.execute("ALTER TABLE payout_batches DROP COLUMN revision")
