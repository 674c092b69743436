"""Rewards schema: versioned reward policies, a double-entry ledger, rewards, referrals, payouts, audit log.

The ledger protects itself: every transaction's entries sum to zero (deferred constraint triggers, checked
at commit), entries and transactions can be neither updated nor deleted (triggers that raise), a
transaction is reversed at most once (unique `reverses_id`), a payout line is paid at most once (unique
`payout_line_id`), and accounts that may not go negative carry a CHECK on their running balance, which a
trigger keeps equal to the sum of their entries (company accounts, which may go negative, keep no running
balance: theirs is the sum of their entries, read when asked, so that concurrent credits do not queue on
one row). TRUNCATE is left alone: test fixtures empty every table.

Actor ids (ops and finance users) are plain uuid columns until the users table exists.

Revision ID: 0002_rewards
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op

revision = "0002_rewards"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE FUNCTION rewards_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$;

    -- Policies ------------------------------------------------------------------------------------------
    CREATE TABLE reward_policies (
        id          uuid PRIMARY KEY,
        version     integer NOT NULL UNIQUE CHECK (version > 0),
        parameters  jsonb NOT NULL,
        created_by  uuid NOT NULL,
        created_at  timestamptz NOT NULL,
        note        text NOT NULL DEFAULT ''
    );
    CREATE TRIGGER reward_policies_immutable BEFORE UPDATE OR DELETE ON reward_policies
        FOR EACH ROW EXECUTE FUNCTION rewards_refuse_change();

    -- Ledger --------------------------------------------------------------------------------------------
    CREATE TABLE ledger_accounts (
        id             uuid PRIMARY KEY,
        shopper_id     uuid REFERENCES shoppers (id),
        kind           text NOT NULL CHECK (kind IN (
                           'store_credit', 'cash_payable',
                           'reward_expense', 'referral_expense', 'payouts_clearing',
                           'store_credit_redeemed')),
        allow_negative boolean NOT NULL,
        -- Kept by a trigger for accounts that may not go negative, so that a CHECK guards them; company
        -- accounts (which may) keep none: every credit would otherwise queue on their one row.
        balance_cents  bigint,
        created_at     timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ledger_accounts_shopper_kinds CHECK (
            (shopper_id IS NOT NULL) = (kind IN ('store_credit', 'cash_payable'))),
        CONSTRAINT ledger_accounts_balance_kept_when_guarded CHECK (allow_negative = (balance_cents IS NULL)),
        CONSTRAINT ledger_accounts_not_negative CHECK (allow_negative OR balance_cents >= 0)
    );
    CREATE UNIQUE INDEX ledger_accounts_one_per_shopper_kind ON ledger_accounts (shopper_id, kind)
        WHERE shopper_id IS NOT NULL;
    CREATE UNIQUE INDEX ledger_accounts_one_per_company_kind ON ledger_accounts (kind)
        WHERE shopper_id IS NULL;

    CREATE TABLE payout_batches (
        id               uuid PRIMARY KEY,
        period_start     timestamptz NOT NULL,
        period_end       timestamptz NOT NULL,
        status           text NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft', 'approved', 'paid', 'rejected')),
        prepared_by      uuid NOT NULL,
        prepared_at      timestamptz NOT NULL,
        approved_by      uuid,
        approved_at      timestamptz,
        paid_by          uuid,
        paid_at          timestamptz,
        rejected_by      uuid,
        rejected_at      timestamptz,
        rejection_reason text,
        CONSTRAINT payout_batches_period_ordered CHECK (period_start < period_end),
        -- Four eyes: whoever prepared a batch cannot approve it.
        CONSTRAINT payout_batches_four_eyes CHECK (approved_by IS NULL OR approved_by <> prepared_by),
        CONSTRAINT payout_batches_approved_when CHECK (
            (status IN ('approved', 'paid')) <= (approved_by IS NOT NULL)),
        CONSTRAINT payout_batches_paid_when CHECK ((status = 'paid') = (paid_by IS NOT NULL))
    );

    CREATE TABLE payout_lines (
        id           uuid PRIMARY KEY,
        batch_id     uuid NOT NULL REFERENCES payout_batches (id),
        shopper_id   uuid NOT NULL REFERENCES shoppers (id),
        account_id   uuid NOT NULL REFERENCES ledger_accounts (id),
        amount_cents bigint NOT NULL CHECK (amount_cents > 0),
        flags        jsonb NOT NULL DEFAULT '[]',
        held         boolean NOT NULL DEFAULT false,
        hold_reason  text,
        held_by      uuid,
        -- Open while its batch can still pay it; a shopper has at most one open line.
        open         boolean NOT NULL DEFAULT true,
        CONSTRAINT payout_lines_hold_has_reason CHECK (NOT held OR btrim(coalesce(hold_reason, '')) <> ''),
        CONSTRAINT payout_lines_one_per_batch UNIQUE (batch_id, shopper_id)
    );
    CREATE UNIQUE INDEX payout_lines_one_open_per_shopper ON payout_lines (shopper_id) WHERE open;

    CREATE TABLE ledger_transactions (
        id              uuid PRIMARY KEY,
        kind            text NOT NULL CHECK (kind IN (
                            'delivery_reward', 'referral_bonus', 'payout', 'store_credit_redemption',
                            'reversal')),
        description     text NOT NULL,
        created_at      timestamptz NOT NULL,
        actor_id        uuid,
        order_id        uuid REFERENCES orders (id),
        payout_line_id  uuid UNIQUE REFERENCES payout_lines (id),
        -- A transaction is reversed at most once, by a transaction that names it.
        reverses_id     uuid UNIQUE REFERENCES ledger_transactions (id),
        CONSTRAINT ledger_transactions_reversal_links CHECK ((kind = 'reversal') = (reverses_id IS NOT NULL))
    );
    CREATE INDEX ledger_transactions_by_order ON ledger_transactions (order_id);
    CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
        FOR EACH ROW EXECUTE FUNCTION rewards_refuse_change();

    CREATE TABLE ledger_entries (
        id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id uuid NOT NULL REFERENCES ledger_transactions (id),
        account_id     uuid NOT NULL REFERENCES ledger_accounts (id),
        amount_cents   bigint NOT NULL CHECK (amount_cents <> 0)
    );
    CREATE INDEX ledger_entries_by_transaction ON ledger_entries (transaction_id);
    CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id);
    CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
        FOR EACH ROW EXECUTE FUNCTION rewards_refuse_change();

    CREATE FUNCTION ledger_entries_move_balance() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE ledger_accounts SET balance_cents = balance_cents + NEW.amount_cents
            WHERE id = NEW.account_id AND NOT allow_negative;
        RETURN NULL;
    END $$;
    CREATE TRIGGER ledger_entries_balance AFTER INSERT ON ledger_entries
        FOR EACH ROW EXECUTE FUNCTION ledger_entries_move_balance();

    CREATE FUNCTION ledger_transaction_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        checked_id uuid;
        total bigint;
        entry_count integer;
    BEGIN
        -- Each branch names a column of its own table only, so each is planned for that table.
        IF TG_TABLE_NAME = 'ledger_entries' THEN
            checked_id := NEW.transaction_id;
        ELSE
            checked_id := NEW.id;
        END IF;
        SELECT coalesce(sum(amount_cents), 0), count(*) INTO total, entry_count
            FROM ledger_entries WHERE transaction_id = checked_id;
        IF total <> 0 OR entry_count < 2 THEN
            RAISE EXCEPTION 'ledger transaction % does not balance: % entries summing to %',
                checked_id, entry_count, total USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_must_balance();
    CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_must_balance();

    -- Idempotency of money-moving requests: the first result is kept with a hash of its request.
    CREATE TABLE ledger_idempotency (
        key          text PRIMARY KEY CHECK (btrim(key) <> '' AND length(key) <= 200),
        operation    text NOT NULL,
        request_hash text NOT NULL,
        result       jsonb,
        created_at   timestamptz NOT NULL DEFAULT now()
    );

    -- Rewards -------------------------------------------------------------------------------------------
    CREATE TABLE delivery_rewards (
        id                uuid PRIMARY KEY,
        order_id          uuid NOT NULL UNIQUE REFERENCES orders (id),
        shopper_id        uuid NOT NULL REFERENCES shoppers (id),
        store_id          uuid NOT NULL REFERENCES stores (id),
        policy_id         uuid NOT NULL REFERENCES reward_policies (id),
        policy_version    integer NOT NULL,
        inputs            jsonb NOT NULL,
        breakdown         jsonb NOT NULL,
        method            text NOT NULL CHECK (method IN ('store_credit', 'cash')),
        cash_value_cents  bigint NOT NULL CHECK (cash_value_cents >= 0),
        amount_cents      bigint NOT NULL CHECK (amount_cents >= 0),
        earned_at         timestamptz NOT NULL,
        transaction_id    uuid UNIQUE REFERENCES ledger_transactions (id),
        referral_transaction_id uuid UNIQUE REFERENCES ledger_transactions (id),
        CONSTRAINT delivery_rewards_posted_when_positive
            CHECK ((amount_cents > 0) = (transaction_id IS NOT NULL))
    );
    CREATE INDEX delivery_rewards_by_shopper_time ON delivery_rewards (shopper_id, earned_at);
    CREATE TRIGGER delivery_rewards_append_only BEFORE UPDATE OR DELETE ON delivery_rewards
        FOR EACH ROW EXECUTE FUNCTION rewards_refuse_change();

    CREATE TABLE referrals (
        referred_shopper_id uuid PRIMARY KEY REFERENCES shoppers (id),
        referrer_shopper_id uuid NOT NULL REFERENCES shoppers (id),
        created_at          timestamptz NOT NULL,
        created_by          uuid NOT NULL,
        CONSTRAINT referrals_not_self CHECK (referred_shopper_id <> referrer_shopper_id)
    );

    -- Audit -----------------------------------------------------------------------------------------------
    CREATE TABLE rewards_audit_log (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        actor_id     uuid,
        action       text NOT NULL,
        subject_kind text NOT NULL,
        subject_id   uuid,
        details      jsonb NOT NULL DEFAULT '{}',
        at           timestamptz NOT NULL
    );
    CREATE INDEX rewards_audit_log_by_subject ON rewards_audit_log (subject_kind, subject_id);
    CREATE TRIGGER rewards_audit_log_append_only BEFORE UPDATE OR DELETE ON rewards_audit_log
        FOR EACH ROW EXECUTE FUNCTION rewards_refuse_change();
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE rewards_audit_log;
    DROP TABLE referrals;
    DROP TABLE delivery_rewards;
    DROP TABLE ledger_idempotency;
    DROP TABLE ledger_entries;
    DROP TABLE ledger_transactions;
    DROP TABLE payout_lines;
    DROP TABLE payout_batches;
    DROP TABLE ledger_accounts;
    DROP TABLE reward_policies;
    DROP FUNCTION ledger_transaction_must_balance();
    DROP FUNCTION ledger_entries_move_balance();
    DROP FUNCTION rewards_refuse_change();
    """)
