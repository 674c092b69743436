"""Trips by store and check-in time: each batch reads the store's recent check-ins (an order's prospects).

Revision ID: 0011_trips_by_check_in
Revises: 0010_commute_profiles
Create Date: 2026-12-04
"""

from alembic import op

revision = "0011_trips_by_check_in"
down_revision = "0010_commute_profiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX trips_by_store_check_in ON trips (store_id, checked_in_at DESC, id DESC)")


def downgrade() -> None:
    op.execute("DROP INDEX trips_by_store_check_in")
