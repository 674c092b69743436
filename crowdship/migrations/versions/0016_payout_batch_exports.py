"""Payout batches remember every download of their bank upload (who, when), and whether a batch rejected after
one was rejected on the word that the bank file was withdrawn. The database refuses to reject an exported batch
without that word: rejecting frees its lines for the next batch, and the bank may have paid the file already.
Batches exported before this revision have no record of it.

Revision ID: 0016_payout_batch_exports
Revises: 0015_tokens_valid_from
Create Date: 2026-12-05
"""

from alembic import op

revision = "0016_payout_batch_exports"
down_revision = "0015_tokens_valid_from"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE payout_batch_exports (
        sequence    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id          uuid NOT NULL UNIQUE,
        batch_id    uuid NOT NULL REFERENCES payout_batches (id),
        exported_by uuid NOT NULL,
        exported_at timestamptz NOT NULL
    );
    CREATE INDEX payout_batch_exports_by_batch ON payout_batch_exports (batch_id, exported_at);
    CREATE TRIGGER payout_batch_exports_append_only BEFORE UPDATE OR DELETE ON payout_batch_exports
        FOR EACH ROW EXECUTE FUNCTION rewards_refuse_change();

    ALTER TABLE payout_batches ADD COLUMN bank_file_withdrawn boolean NOT NULL DEFAULT false;
    ALTER TABLE payout_batches ADD CONSTRAINT payout_batches_withdrawn_when_rejected
        CHECK (NOT bank_file_withdrawn OR status = 'rejected');

    CREATE FUNCTION payout_batch_rejected_after_export() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.status = 'rejected' AND OLD.status <> 'rejected' AND NOT NEW.bank_file_withdrawn
           AND EXISTS (SELECT 1 FROM payout_batch_exports e WHERE e.batch_id = NEW.id)
        THEN
            RAISE EXCEPTION 'payout batch % was exported for the bank: it is rejected only once its file is withdrawn',
                NEW.id USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER payout_batches_rejected_after_export BEFORE UPDATE OF status ON payout_batches
        FOR EACH ROW EXECUTE FUNCTION payout_batch_rejected_after_export();
    """)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER payout_batches_rejected_after_export ON payout_batches;
    DROP FUNCTION payout_batch_rejected_after_export();
    ALTER TABLE payout_batches DROP CONSTRAINT payout_batches_withdrawn_when_rejected;
    ALTER TABLE payout_batches DROP COLUMN bank_file_withdrawn;
    DROP TABLE payout_batch_exports;
    """)
