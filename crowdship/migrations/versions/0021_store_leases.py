"""Stores' batch leases as rows with an expiry and a fence number: a dispatcher that freezes (SIGSTOP, a
paused VM) keeps its session open, so a lock held by the session would keep the store for ever; a row whose
time runs out frees it, and the fence, bumped at every new holder, lets the write transaction tell that its
batch's lease was taken over meanwhile. No foreign key: a lease is coordination, not a record of the store.

Revision ID: 0021_store_leases
Revises: 0020_offer_tiers
Create Date: 2026-12-05
"""

from alembic import op

revision = "0021_store_leases"
down_revision = "0020_offer_tiers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE store_leases (
            store_id uuid PRIMARY KEY,
            fence bigint NOT NULL,
            expires_at timestamptz NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE store_leases")
