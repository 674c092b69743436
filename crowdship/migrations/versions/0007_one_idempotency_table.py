"""One idempotency table for every operation: order intake's `idempotency_records` and the ledger's
`ledger_idempotency` become `idempotency_keys (scope, key)`. Intake keys keep their scope (`orders:<user>`),
with their stored answer as `{"status_code": ..., "receipt": ...}`; ledger keys take their operation as scope.

Revision ID: 0007_one_idempotency
Revises: 0006_withdraw_ended
Create Date: 2026-12-04
"""

from alembic import op

revision = "0007_one_idempotency"
down_revision = "0006_withdraw_ended"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE idempotency_keys (
        scope        text NOT NULL CHECK (btrim(scope) <> ''),
        key          text NOT NULL CHECK (btrim(key) <> '' AND length(key) <= 200),
        request_hash text NOT NULL,
        result       jsonb,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key)
    );
    INSERT INTO idempotency_keys (scope, key, request_hash, result, created_at)
    SELECT scope, key, request_hash,
           CASE WHEN status_code IS NULL THEN NULL
                ELSE jsonb_build_object('status_code', status_code, 'receipt', response_body) END,
           created_at
    FROM idempotency_records;
    INSERT INTO idempotency_keys (scope, key, request_hash, result, created_at)
    SELECT operation, key, request_hash, result, created_at FROM ledger_idempotency;
    DROP TABLE idempotency_records;
    DROP TABLE ledger_idempotency;
    """)


def downgrade() -> None:
    op.execute("""
    CREATE TABLE idempotency_records (
        scope         text NOT NULL,
        key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
        request_hash  text NOT NULL,
        status_code   integer,
        response_body jsonb,
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key)
    );
    CREATE TABLE ledger_idempotency (
        key          text PRIMARY KEY CHECK (btrim(key) <> '' AND length(key) <= 200),
        operation    text NOT NULL,
        request_hash text NOT NULL,
        result       jsonb,
        created_at   timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO idempotency_records (scope, key, request_hash, status_code, response_body, created_at)
    SELECT scope, key, request_hash, (result ->> 'status_code')::integer, result -> 'receipt', created_at
    FROM idempotency_keys WHERE scope LIKE 'orders:%' OR scope IN ('demo', 'simulation');
    INSERT INTO ledger_idempotency (key, operation, request_hash, result, created_at)
    SELECT key, scope, request_hash, result, created_at
    FROM idempotency_keys WHERE NOT (scope LIKE 'orders:%' OR scope IN ('demo', 'simulation'))
    ON CONFLICT (key) DO NOTHING;
    DROP TABLE idempotency_keys;
    """)
