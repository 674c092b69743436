"""Reward policy versions only go forward, in the database too: recording an approval of a version older than
the newest approved one is refused (it would silently put an older policy back in force), as the use case
already refuses it with `PolicySuperseded`. Decisions are taken one at a time (a transaction-scoped advisory
lock), so two approvals written side by side cannot both see none newer than their own. Rejections are free.

Revision ID: 0018_policy_versions_forward
Revises: 0017_delivery_tiers
Create Date: 2026-12-05
"""

from alembic import op

revision = "0018_policy_versions_forward"
down_revision = "0017_delivery_tiers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE FUNCTION reward_policy_approved_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        approving integer;
        newest    integer;
    BEGIN
        IF NEW.decision <> 'approved' THEN
            RETURN NEW;
        END IF;
        PERFORM pg_advisory_xact_lock('reward_policy_decisions'::regclass::oid::bigint);
        SELECT version INTO approving FROM reward_policies WHERE id = NEW.policy_id;
        SELECT max(p.version) INTO newest
        FROM reward_policy_decisions d JOIN reward_policies p ON p.id = d.policy_id
        WHERE d.decision = 'approved';
        IF newest IS NOT NULL AND approving < newest THEN
            RAISE EXCEPTION 'reward policy versions only go forward: version % is older than version %, approved',
                approving, newest USING ERRCODE = 'raise_exception';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER reward_policy_decisions_forward BEFORE INSERT ON reward_policy_decisions
        FOR EACH ROW EXECUTE FUNCTION reward_policy_approved_forward();
    """)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER reward_policy_decisions_forward ON reward_policy_decisions;
    DROP FUNCTION reward_policy_approved_forward();
    """)
