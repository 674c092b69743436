"""Idempotency keys by age: the dispatcher forgets those past their retention every hour.

Revision ID: 0012_idempotency_keys_by_age
Revises: 0011_trips_by_check_in
Create Date: 2026-12-04
"""

from alembic import op

revision = "0012_idempotency_keys_by_age"
down_revision = "0011_trips_by_check_in"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at)")


def downgrade() -> None:
    op.execute("DROP INDEX idempotency_keys_by_age")
