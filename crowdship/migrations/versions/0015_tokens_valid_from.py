"""Accounts remember when their tokens last stopped: a deactivation sets it, so that reactivating an account does
not bring back the tokens issued before (one of them may be why it was deactivated). Existing accounts have
none: all their tokens stand.

Revision ID: 0015_tokens_valid_from
Revises: 0014_payout_batch_revision
Create Date: 2026-12-05
"""

from alembic import op

revision = "0015_tokens_valid_from"
down_revision = "0014_payout_batch_revision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE users ADD COLUMN tokens_valid_from timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP COLUMN tokens_valid_from")
