"""Who released a hold someone else placed on a payout line: that finance user may not approve the line's
batch (four eyes on a held line). Lines released before this revision have none recorded.

Revision ID: 0019_hold_released_by
Revises: 0018_policy_versions_forward
Create Date: 2026-12-05
"""

from alembic import op

revision = "0019_hold_released_by"
down_revision = "0018_policy_versions_forward"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE payout_lines ADD COLUMN hold_released_by uuid")


def downgrade() -> None:
    op.execute("ALTER TABLE payout_lines DROP COLUMN hold_released_by")
