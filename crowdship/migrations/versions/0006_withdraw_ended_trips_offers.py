"""Offers accepted on trips that then ended before pickup (cancelled, or past their leave-by) were left
'accepted', and kept showing the shopper the recipient's address and name. They become 'withdrawn', as the
use cases now do when a trip ends; their orders were already given back to the pool.

Revision ID: 0006_withdraw_ended
Revises: 0005_policy_approval
Create Date: 2026-12-04
"""

from alembic import op

revision = "0006_withdraw_ended"
down_revision = "0005_policy_approval"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    UPDATE offers f SET status = 'withdrawn', resolved_at = greatest(f.resolved_at, t.updated_at)
    FROM trips t
    WHERE t.id = f.trip_id AND f.status = 'accepted' AND t.status IN ('cancelled', 'expired')
    """)


def downgrade() -> None:
    """Nothing to undo: which offers were 'accepted' before is not kept, and withdrawn is what they are."""
