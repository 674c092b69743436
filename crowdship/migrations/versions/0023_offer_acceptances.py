"""When each offer was accepted, kept once it is withdrawn: an accepted offer withdrawn with its trip before
pickup is a drop-out (the shopper saw the recipients' addresses and left), which bars the order from that
shopper for good and, past a bound in a rolling window, holds the shopper back from offers. Offers accepted
before this revision have none: their drop-outs are not known.

Revision ID: 0023_offer_acceptances
Revises: 0022_emails_folded
Create Date: 2026-12-05
"""

from alembic import op

revision = "0023_offer_acceptances"
down_revision = "0022_emails_folded"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE offers ADD COLUMN accepted_at timestamptz")
    # the drop-outs within the window, read by every batch and the ops pages: few rows however many offers there
    # are (trips have no index by shopper beyond the active one, so reads start here and join trips by id)
    op.execute(
        "CREATE INDEX offers_drop_outs ON offers (resolved_at) WHERE status = 'withdrawn' AND accepted_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX offers_drop_outs")
    op.execute("ALTER TABLE offers DROP COLUMN accepted_at")
