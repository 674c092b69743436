"""How each shopper wants to be paid (cash or store credit), as an append-only history of their choices.

A history rather than one row per shopper: an offer is priced with the choice in force when it was made, and
the delivery is credited with that same choice even if the shopper changed it in between, so the quote shown
and the credit agree. No row means the default, cash. Also merges the rewards and accounts branches.

Revision ID: 0004_payment_choice
Revises: 0002_rewards, 0003_accounts
Create Date: 2026-11-22
"""

from alembic import op

revision = "0004_payment_choice"
down_revision = ("0002_rewards", "0003_accounts")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE shopper_payment_choices (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        shopper_id uuid NOT NULL REFERENCES shoppers (id),
        method     text NOT NULL CHECK (method IN ('cash', 'store_credit')),
        chosen_at  timestamptz NOT NULL,
        chosen_by  uuid
    );
    -- The choice in force at an instant: the newest row at or before it.
    CREATE INDEX shopper_payment_choices_in_force
        ON shopper_payment_choices (shopper_id, chosen_at DESC, id DESC);
    CREATE TRIGGER shopper_payment_choices_append_only BEFORE UPDATE OR DELETE ON shopper_payment_choices
        FOR EACH ROW EXECUTE FUNCTION rewards_refuse_change();
    """)


def downgrade() -> None:
    op.execute("DROP TABLE shopper_payment_choices;")
