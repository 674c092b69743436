"""Accounts' e-mail addresses stored as sign-in now spells them: NFKC-folded, then lower-cased. An address stored
before (full-width letters, a decomposed accent) could no longer sign in, since sign-in folds what is typed before
looking it up. Where another account already holds the folded spelling, both are left as they are: which of the two
is the person's is not for a migration to decide (the count is logged, never the addresses).

Revision ID: 0022_emails_folded
Revises: 0021_store_leases
Create Date: 2026-12-05
"""

import logging
import unicodedata

from alembic import op
from sqlalchemy import text

revision = "0022_emails_folded"
down_revision = "0021_store_leases"
branch_labels = None
depends_on = None


def _folded(email: str) -> str:
    """The rule of `dispatch.accounts.normalise_email` as of this revision, written out so that a later change to
    it does not change what this revision did."""
    return unicodedata.normalize("NFKC", email.strip()).lower()


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(text("SELECT id, email FROM users ORDER BY created_at, id")).all()
    taken = {email for _, email in rows}
    left = 0
    for user_id, email in rows:
        folded = _folded(email)
        if folded == email:
            continue
        if folded in taken:
            left += 1
            continue
        connection.execute(text("UPDATE users SET email = :folded WHERE id = :id"), {"folded": folded, "id": user_id})
        taken.discard(email)
        taken.add(folded)
    if left:
        logging.getLogger("alembic.runtime.migration").warning(
            "%d account(s) left under an unfolded e-mail address: another account holds the folded spelling", left
        )


def downgrade() -> None:
    """Folding is not undone: the spelling an address had before is not kept, and sign-in needs the folded one."""
