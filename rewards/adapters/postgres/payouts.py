"""Payout batches and their lines on PostgreSQL, and the facts the anomaly rules judge them by."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from psycopg.types.json import Jsonb

from crowdship.db import Repository, Row
from crowdship.errors import NotFound
from crowdship.pages import Page
from crowdship.units import Cents
from dispatch.evidence import LocationSample
from rewards.anomalies import TRACK_REACH_M, AnomalyFlag, DeliveryFact
from rewards.ledger import PromisedPayout
from rewards.payouts import BatchExport, BatchStatus, PayoutBatch, PayoutLine
from rewards.policy import EarningsSoFar, RewardInputs
from rewards.policy_versions import RewardPolicy
from rewards.records import PayableBalance, ShopperAlreadyInOpenBatch, StandingHold
from routing.geo import GeoPoint


class PostgresPayoutRepository(Repository):
    def payable_balances(self) -> list[PayableBalance]:
        """Positive cash-payable balances of shoppers who are not already in an open batch."""
        rows = self._all(
            """SELECT a.shopper_id, a.id AS account_id, a.balance_cents FROM ledger_accounts a
               WHERE a.kind = 'cash_payable' AND a.balance_cents > 0
                 AND NOT EXISTS (SELECT 1 FROM payout_lines l WHERE l.shopper_id = a.shopper_id AND l.open)
               ORDER BY a.shopper_id""",
            (),
        )
        return [PayableBalance(row["shopper_id"], row["account_id"], Cents(int(row["balance_cents"]))) for row in rows]

    def standing_holds(self, shopper_ids: Sequence[UUID]) -> dict[UUID, StandingHold]:
        """Per shopper, the hold on their latest closed line, if that line was held when its batch closed."""
        rows = self._all(
            """SELECT * FROM (
                   SELECT DISTINCT ON (l.shopper_id) l.shopper_id, l.held, l.hold_reason, l.held_by, l.batch_id
                   FROM payout_lines l JOIN payout_batches b ON b.id = l.batch_id
                   WHERE l.shopper_id = ANY(%s) AND NOT l.open
                   ORDER BY l.shopper_id, b.prepared_at DESC, b.id DESC
               ) latest WHERE latest.held""",
            (list(shopper_ids),),
        )
        return {
            row["shopper_id"]: StandingHold(row["batch_id"], str(row["hold_reason"]), row["held_by"]) for row in rows
        }

    def promised(self, shopper_ids: Sequence[UUID]) -> dict[UUID, PromisedPayout]:
        if not shopper_ids:
            return {}
        rows = self._all(
            """SELECT l.account_id, l.batch_id, l.amount_cents
               FROM payout_lines l JOIN payout_batches b ON b.id = l.batch_id
               WHERE l.shopper_id = ANY(%s) AND l.open AND NOT l.held AND b.status = 'approved'""",
            (list(shopper_ids),),
        )
        return {row["account_id"]: PromisedPayout(row["batch_id"], Cents(int(row["amount_cents"]))) for row in rows}

    def add(self, batch: PayoutBatch) -> None:
        with self._refusing_duplicates(
            lambda: ShopperAlreadyInOpenBatch(
                "a shopper of this batch was put in another open batch meanwhile; prepare again"
            )
        ):
            self._execute(
                """INSERT INTO payout_batches (id, period_start, period_end, status, prepared_by, prepared_at)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (
                    batch.id,
                    batch.period_start,
                    batch.period_end,
                    batch.status.value,
                    batch.prepared_by,
                    batch.prepared_at,
                ),
            )
            with self._connection.cursor() as cursor:
                cursor.executemany(
                    """INSERT INTO payout_lines (id, batch_id, shopper_id, account_id, amount_cents, flags,
                           held, hold_reason, held_by, hold_released_by, open)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    [
                        (
                            line.id,
                            batch.id,
                            line.shopper_id,
                            line.account_id,
                            line.amount_cents,
                            Jsonb([flag.to_json() for flag in line.flags]),
                            line.held,
                            line.hold_reason,
                            line.held_by,
                            line.hold_released_by,
                            line.open,
                        )
                        for line in batch.lines
                    ],
                )

    def get(self, batch_id: UUID, *, for_update: bool = False) -> PayoutBatch:
        lock = " FOR UPDATE" if for_update else ""
        row = self._one_or_none(f"SELECT * FROM payout_batches WHERE id = %s{lock}", (batch_id,))
        if row is None:
            raise NotFound(f"payout batch {batch_id} not found")
        lines = self._all("SELECT * FROM payout_lines WHERE batch_id = %s ORDER BY shopper_id, id" + lock, (batch_id,))
        exports = self._all(
            """SELECT id, exported_by, exported_at FROM payout_batch_exports WHERE batch_id = %s
               ORDER BY exported_at, sequence""",
            (batch_id,),
        )
        return PayoutBatch(
            id=row["id"],
            period_start=row["period_start"],
            period_end=row["period_end"],
            prepared_by=row["prepared_by"],
            prepared_at=row["prepared_at"],
            status=BatchStatus(row["status"]),
            approved_by=row["approved_by"],
            approved_at=row["approved_at"],
            paid_by=row["paid_by"],
            paid_at=row["paid_at"],
            rejected_by=row["rejected_by"],
            rejected_at=row["rejected_at"],
            rejection_reason=row["rejection_reason"],
            bank_file_withdrawn=row["bank_file_withdrawn"],
            exports=[BatchExport(e["exported_by"], e["exported_at"], e["id"]) for e in exports],
            revision=row["revision"],
            lines=[
                PayoutLine(
                    id=line["id"],
                    batch_id=line["batch_id"],
                    shopper_id=line["shopper_id"],
                    account_id=line["account_id"],
                    amount_cents=Cents(int(line["amount_cents"])),
                    flags=tuple(AnomalyFlag.from_json(flag) for flag in line["flags"]),
                    held=line["held"],
                    hold_reason=line["hold_reason"],
                    held_by=line["held_by"],
                    hold_released_by=line["hold_released_by"],
                    open=line["open"],
                )
                for line in lines
            ],
        )

    def save(self, batch: PayoutBatch) -> None:
        self._execute(
            """UPDATE payout_batches SET status = %s, approved_by = %s, approved_at = %s, paid_by = %s,
                   paid_at = %s, rejected_by = %s, rejected_at = %s, rejection_reason = %s, revision = %s,
                   bank_file_withdrawn = %s
               WHERE id = %s""",
            (
                batch.status.value,
                batch.approved_by,
                batch.approved_at,
                batch.paid_by,
                batch.paid_at,
                batch.rejected_by,
                batch.rejected_at,
                batch.rejection_reason,
                batch.revision,
                batch.bank_file_withdrawn,
                batch.id,
            ),
        )
        with self._connection.cursor() as cursor:
            if batch.exports:
                cursor.executemany(
                    """INSERT INTO payout_batch_exports (id, batch_id, exported_by, exported_at)
                       VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO NOTHING""",
                    [(e.id, batch.id, e.exported_by, e.exported_at) for e in batch.exports],
                )
            cursor.executemany(
                """UPDATE payout_lines SET held = %s, hold_reason = %s, held_by = %s, hold_released_by = %s, open = %s
                   WHERE id = %s""",
                [
                    (line.held, line.hold_reason, line.held_by, line.hold_released_by, line.open, line.id)
                    for line in batch.lines
                ],
            )

    def periods(self, batch_ids: Collection[UUID]) -> dict[UUID, tuple[datetime, datetime]]:
        rows = self._all(
            "SELECT id, period_start, period_end FROM payout_batches WHERE id = ANY(%s)", (list(batch_ids),)
        )
        return {row["id"]: (row["period_start"], row["period_end"]) for row in rows}

    def export_numbers(self, export_ids: Collection[UUID]) -> dict[UUID, int]:
        rows = self._all(
            """SELECT id, n FROM (
                   SELECT id, row_number() OVER (PARTITION BY batch_id ORDER BY exported_at, id) AS n
                   FROM payout_batch_exports
                   WHERE batch_id IN (SELECT batch_id FROM payout_batch_exports WHERE id = ANY(%(ids)s))) numbered
               WHERE id = ANY(%(ids)s)""",
            {"ids": list(export_ids)},
        )
        return {row["id"]: int(row["n"]) for row in rows}

    def line_payees(self, line_ids: Collection[UUID]) -> dict[UUID, UUID]:
        rows = self._all("SELECT id, shopper_id FROM payout_lines WHERE id = ANY(%s)", (list(line_ids),))
        return {row["id"]: row["shopper_id"] for row in rows}

    def batch_ids(
        self, statuses: Sequence[BatchStatus] | None, *, newest_first: bool, limit: int, offset: int
    ) -> Page[UUID]:
        where, params = ("", []) if statuses is None else (" WHERE status = ANY(%s)", [[s.value for s in statuses]])
        total = self._all(f"SELECT count(*) AS n FROM payout_batches{where}", params)[0]["n"]
        order = "DESC" if newest_first else "ASC"
        rows = self._all(
            f"SELECT id FROM payout_batches{where} ORDER BY prepared_at {order}, id {order} LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        return Page([row["id"] for row in rows], total)

    def delivery_facts(
        self,
        start: datetime,
        end: datetime,
        policies: Mapping[UUID, RewardPolicy],
        *,
        unpaid_of: Collection[UUID] = (),
    ) -> list[DeliveryFact]:
        # Credits and payouts lock the shopper's accounts, so their entries' ids follow the order they happened:
        # a reward is unpaid when its entry on the cash account comes after the account's last payout entry.
        rows = self._all(
            f"""WITH last_paid AS (
                    SELECT e.account_id, max(e.id) AS entry_id
                    FROM ledger_accounts a
                    JOIN ledger_entries e ON e.account_id = a.id
                    JOIN ledger_transactions t ON t.id = e.transaction_id AND t.kind = 'payout'
                    WHERE a.kind = 'cash_payable' AND a.shopper_id = ANY(%(shoppers)s)
                    GROUP BY e.account_id),
                unpaid AS (
                    SELECT r.id
                    FROM delivery_rewards r
                    JOIN ledger_entries e ON e.transaction_id = r.transaction_id
                    JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'cash_payable'
                                          AND a.shopper_id = r.shopper_id
                    LEFT JOIN last_paid lp ON lp.account_id = a.id
                    WHERE r.shopper_id = ANY(%(shoppers)s) AND e.id > coalesce(lp.entry_id, 0))
                {_FACTS}
                WHERE (r.earned_at >= %(start)s AND r.earned_at < %(end)s) OR r.id IN (SELECT id FROM unpaid)
                ORDER BY r.earned_at, r.id""",
            {"start": start, "end": end, "shoppers": list(unpaid_of), "reach": TRACK_REACH_M},
        )
        return [_fact(row, policies) for row in rows]

    def location_samples(self, shopper_ids: Sequence[UUID], start: datetime, end: datetime) -> Iterator[LocationSample]:
        rows = self._stream(
            """SELECT shopper_id, trip_id, ST_Y(position::geometry) AS lat, ST_X(position::geometry) AS lon, recorded_at
               FROM location_samples
               WHERE shopper_id = ANY(%s) AND recorded_at >= %s AND recorded_at < %s
               ORDER BY shopper_id, recorded_at""",
            (list(shopper_ids), start, end),
        )
        for row in rows:
            yield LocationSample(
                row["shopper_id"], row["trip_id"], GeoPoint(row["lat"], row["lon"]), row["recorded_at"]
            )


# A rewarded delivery with its recipient (normalised), its accepted proof, and whether the proof's trip sent a
# position near the drop-off (NULL when it sent none).
_FACTS = """
    SELECT r.order_id, r.shopper_id, r.store_id, r.policy_id, r.inputs, r.cash_value_cents, r.amount_cents,
           r.earned_at >= %(start)s AND r.earned_at < %(end)s AS in_period,
           lower(btrim(o.recipient_name)) || ' | ' || lower(btrim(o.dropoff_address)) AS recipient,
           p.trip_id IS NOT NULL AS has_proof,
           CASE WHEN EXISTS (SELECT 1 FROM location_samples s WHERE s.trip_id = p.trip_id)
                THEN EXISTS (SELECT 1 FROM location_samples s
                             WHERE s.trip_id = p.trip_id AND ST_DWithin(s.position, o.dropoff, %(reach)s))
           END AS track_near
    FROM delivery_rewards r
    JOIN orders o ON o.id = r.order_id
    LEFT JOIN LATERAL (SELECT d.trip_id FROM delivery_proofs d WHERE d.order_id = r.order_id AND d.accepted
                       ORDER BY d.recorded_at DESC LIMIT 1) p ON true"""


def _fact(row: Row, policies: Mapping[UUID, RewardPolicy]) -> DeliveryFact:
    inputs = row["inputs"]
    return DeliveryFact(
        order_id=row["order_id"],
        shopper_id=row["shopper_id"],
        store_id=row["store_id"],
        recipient_key=row["recipient"],
        has_position_proof=row["has_proof"],
        track_near_dropoff=row["track_near"],
        cash_value_cents=Cents(int(row["cash_value_cents"])),
        amount_cents=Cents(int(row["amount_cents"])),
        policy=policies[row["policy_id"]],
        inputs=RewardInputs.from_json(inputs["offer"]),
        earned_before=EarningsSoFar(inputs["earned_today_cents"], inputs["earned_this_week_cents"]),
        in_period=row["in_period"],
    )
