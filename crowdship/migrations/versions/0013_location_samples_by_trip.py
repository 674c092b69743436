"""Location samples by trip: a payout batch asks, per rewarded delivery, whether its trip came near the drop-off.

Revision ID: 0013_location_samples_by_trip
Revises: 0012_idempotency_keys_by_age
Create Date: 2026-12-05
"""

from alembic import op

revision = "0013_location_samples_by_trip"
down_revision = "0012_idempotency_keys_by_age"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX location_samples_by_trip ON location_samples (trip_id) WHERE trip_id IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX location_samples_by_trip")
