"""Four eyes on reward policies: a version takes effect only once someone other than its author approves it.

Decisions are their own append-only table (policies stay immutable): one row per version, approved or
rejected, by whom and when; the database refuses a decision by the version's author. Versions published
before this revision were in force without a second look: they are recorded as approved at their creation,
by their author, with a note saying so, since the offers and rewards already priced with them stand.

Revision ID: 0005_policy_approval
Revises: 0004_payment_choice
Create Date: 2026-12-04
"""

from alembic import op

revision = "0005_policy_approval"
down_revision = "0004_payment_choice"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE reward_policy_decisions (
        policy_id   uuid PRIMARY KEY REFERENCES reward_policies (id),
        decision    text NOT NULL CHECK (decision IN ('approved', 'rejected')),
        decided_by  uuid NOT NULL,
        decided_at  timestamptz NOT NULL,
        reason      text NOT NULL DEFAULT ''
    );
    CREATE INDEX reward_policy_decisions_approved_at
        ON reward_policy_decisions (decided_at) WHERE decision = 'approved';
    CREATE TRIGGER reward_policy_decisions_immutable BEFORE UPDATE OR DELETE ON reward_policy_decisions
        FOR EACH ROW EXECUTE FUNCTION rewards_refuse_change();

    INSERT INTO reward_policy_decisions (policy_id, decision, decided_by, decided_at, reason)
    SELECT id, 'approved', created_by, created_at, 'in force before approval by a second person was required'
    FROM reward_policies;

    CREATE FUNCTION reward_policy_decision_by_another() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM reward_policies p WHERE p.id = NEW.policy_id AND p.created_by = NEW.decided_by)
        THEN
            RAISE EXCEPTION 'a reward policy is approved or rejected by someone other than its author'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER reward_policy_decisions_four_eyes BEFORE INSERT ON reward_policy_decisions
        FOR EACH ROW EXECUTE FUNCTION reward_policy_decision_by_another();
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE reward_policy_decisions;
    DROP FUNCTION reward_policy_decision_by_another();
    """)
