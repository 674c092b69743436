"""Payout batches in plain Python: lifecycle and four eyes, holds, the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from crowdship.errors import InvalidInput
from crowdship.units import Cents
from dispatch.errors import IllegalTransition
from rewards.anomalies import AnomalyFlag, FlagCode
from rewards.payouts import (
    BatchChanged,
    BatchExported,
    BatchNotEditable,
    BatchNotExportable,
    BatchStatus,
    FourEyesViolation,
    HoldPlacedByAnother,
    LineAlreadyHeld,
    PayoutBatch,
    PayoutLine,
    ReleasedAnothersHold,
    batch_csv,
)

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)
PREPARER = uuid4()
APPROVER = uuid4()


def a_batch(*amounts: int) -> PayoutBatch:
    batch = PayoutBatch(period_start=NOW - timedelta(days=7), period_end=NOW, prepared_by=PREPARER, prepared_at=NOW)
    batch.lines = [PayoutLine(batch.id, uuid4(), uuid4(), Cents(amount)) for amount in amounts]
    return batch


def test_the_preparer_cannot_approve_their_own_batch() -> None:
    """Four eyes: same user → FourEyesViolation (forbidden), another user → approved."""
    batch = a_batch(1_000)
    with pytest.raises(FourEyesViolation) as raised:
        batch.approve(actor_id=PREPARER, now=NOW)
    assert raised.value.kind == "forbidden"
    assert [batch.status] == [BatchStatus.DRAFT]  # a list, so that the type checker does not narrow
    batch.approve(actor_id=APPROVER, now=NOW)
    assert batch.status is BatchStatus.APPROVED
    assert batch.approved_by == APPROVER


def test_only_an_approved_batch_can_be_paid_and_only_once() -> None:
    """draft → paid is not a move; approved → paid is, once."""
    batch = a_batch(1_000)
    with pytest.raises(IllegalTransition):
        batch.mark_paid(actor_id=APPROVER, now=NOW)
    batch.approve(actor_id=APPROVER, now=NOW)
    batch.mark_paid(actor_id=APPROVER, now=NOW)
    with pytest.raises(IllegalTransition):
        batch.mark_paid(actor_id=APPROVER, now=NOW)


def test_held_lines_are_not_paid_and_every_line_closes() -> None:
    """Paying returns the lines not held; held money stays for a later batch."""
    batch = a_batch(1_000, 2_000, 3_000)
    held = batch.lines[1]
    batch.hold(held.id, reason="checking proof", actor_id=PREPARER)
    assert batch.payable_cents == 4_000
    batch.approve(actor_id=APPROVER, now=NOW)
    with pytest.raises(BatchNotEditable):
        batch.unhold(held.id, actor_id=APPROVER)
    paid = batch.mark_paid(actor_id=APPROVER, now=NOW)
    assert held not in paid
    assert len(paid) == 2
    assert not any(line.open for line in batch.lines)


def test_the_preparer_cannot_release_a_hold_someone_else_placed() -> None:
    """Four eyes on holds: B holds a line of A's batch; A's release is refused (forbidden) and the line stays
    held; B, or a third finance user, may release it; A releases their own holds."""
    batch = a_batch(1_000, 2_000)
    suspicious, own = batch.lines
    batch.hold(suspicious.id, reason="suspicious", actor_id=APPROVER)
    with pytest.raises(HoldPlacedByAnother) as raised:
        batch.unhold(suspicious.id, actor_id=PREPARER)
    assert raised.value.kind == "forbidden"
    assert (suspicious.held, suspicious.held_by) == (True, APPROVER)
    batch.hold(own.id, reason="checking", actor_id=PREPARER)
    batch.unhold(own.id, actor_id=PREPARER)
    batch.unhold(suspicious.id, actor_id=uuid4())
    assert not suspicious.held


def test_a_hold_without_a_holder_is_released_by_someone_other_than_the_preparer() -> None:
    """A hold whose holder is unknown (carried over from before holders were kept) is someone else's."""
    batch = a_batch(1_000)
    line = batch.lines[0]
    line.held, line.hold_reason, line.held_by = True, "carried over", None
    with pytest.raises(HoldPlacedByAnother):
        batch.unhold(line.id, actor_id=PREPARER)
    batch.unhold(line.id, actor_id=APPROVER)
    assert not line.held


def test_whoever_releases_a_hold_another_placed_does_not_approve_the_batch() -> None:
    """Four eyes on a held line: A holds it, B releases it; B's approval would pay it on B's word alone, so it is
    refused (forbidden) and the batch stays a draft. A third finance user approves it; so does B once A releases
    their own hold instead, and a line held again and left held needs nobody's release."""
    third = uuid4()
    batch = a_batch(1_000)
    line = batch.lines[0]
    batch.hold(line.id, reason="suspicious", actor_id=PREPARER)
    batch.unhold(line.id, actor_id=APPROVER)
    with pytest.raises(ReleasedAnothersHold) as raised:
        batch.approve(actor_id=APPROVER, now=NOW)
    assert raised.value.kind == "forbidden"
    assert str(line.id) in raised.value.message
    assert [batch.status] == [BatchStatus.DRAFT]
    batch.approve(actor_id=third, now=NOW)
    assert batch.approved_by == third

    agreed = a_batch(1_000)
    line = agreed.lines[0]
    agreed.hold(line.id, reason="checking", actor_id=PREPARER)
    agreed.unhold(line.id, actor_id=PREPARER)
    agreed.approve(actor_id=APPROVER, now=NOW)
    assert agreed.status is BatchStatus.APPROVED

    held_again = a_batch(1_000)
    line = held_again.lines[0]
    held_again.hold(line.id, reason="suspicious", actor_id=PREPARER)
    held_again.unhold(line.id, actor_id=APPROVER)
    held_again.hold(line.id, reason="still suspicious", actor_id=PREPARER)
    assert line.hold_released_by is None
    held_again.approve(actor_id=APPROVER, now=NOW)
    assert held_again.status is BatchStatus.APPROVED


def test_a_held_line_is_not_held_again_so_its_holder_stays() -> None:
    """Holding a held line is refused (conflict): the preparer cannot take over another's hold to release it."""
    batch = a_batch(1_000)
    line = batch.lines[0]
    batch.hold(line.id, reason="suspicious", actor_id=APPROVER)
    with pytest.raises(LineAlreadyHeld) as raised:
        batch.hold(line.id, reason="mine now", actor_id=PREPARER)
    assert raised.value.kind == "conflict"
    assert (line.hold_reason, line.held_by) == ("suspicious", APPROVER)


def test_every_hold_and_release_bumps_the_revision_and_a_release_of_a_free_line_does_not() -> None:
    batch = a_batch(1_000)
    line = batch.lines[0]
    assert batch.revision == 0
    batch.hold(line.id, reason="suspicious", actor_id=APPROVER)
    batch.unhold(line.id, actor_id=APPROVER)
    assert batch.revision == 2
    batch.unhold(line.id, actor_id=APPROVER)
    assert batch.revision == 2


def test_an_approval_of_the_batch_as_it_was_before_a_hold_or_release_is_refused() -> None:
    """B reviews revision 1 (a line held); the line is released meanwhile; B's approval of revision 1 is a
    conflict and the batch stays a draft; approving the revision it is at, or naming none, goes through."""
    batch = a_batch(1_000)
    line = batch.lines[0]
    batch.hold(line.id, reason="suspicious", actor_id=APPROVER)
    reviewed = batch.revision
    batch.unhold(line.id, actor_id=uuid4())
    with pytest.raises(BatchChanged) as raised:
        batch.approve(actor_id=APPROVER, now=NOW, reviewed_revision=reviewed)
    assert raised.value.kind == "conflict"
    assert "changed since you reviewed it" in raised.value.message
    assert [batch.status] == [BatchStatus.DRAFT]
    batch.approve(actor_id=APPROVER, now=NOW, reviewed_revision=batch.revision)
    assert batch.status is BatchStatus.APPROVED
    other = a_batch(500)
    other.approve(actor_id=APPROVER, now=NOW)
    assert other.status is BatchStatus.APPROVED


def test_a_decided_batch_answers_its_status_before_a_stale_revision() -> None:
    """Approving an approved batch with an old revision says it is approved (illegal move), not that it changed."""
    batch = a_batch(1_000)
    batch.approve(actor_id=APPROVER, now=NOW)
    with pytest.raises(IllegalTransition):
        batch.approve(actor_id=APPROVER, now=NOW, reviewed_revision=7)


def test_a_hold_needs_a_reason() -> None:
    """Finance says why."""
    batch = a_batch(500)
    with pytest.raises(InvalidInput, match="reason"):
        batch.hold(batch.lines[0].id, reason=" ", actor_id=PREPARER)


def test_rejecting_releases_every_line() -> None:
    """A rejected batch pays nothing and frees its shoppers for another batch."""
    batch = a_batch(500, 700)
    batch.reject(actor_id=APPROVER, now=NOW, reason="wrong period")
    assert batch.status is BatchStatus.REJECTED
    assert not any(line.open for line in batch.lines)


def test_an_exported_batch_is_rejected_only_on_the_word_that_its_bank_file_was_withdrawn() -> None:
    """Rejecting frees the lines for the next batch: after a download of the bank upload, that could pay the same
    money twice, so it needs `bank_file_withdrawn` (conflict otherwise, and the batch stays approved)."""
    batch = a_batch(500)
    with pytest.raises(BatchNotExportable):
        batch.record_export(actor_id=APPROVER, now=NOW)
    batch.approve(actor_id=APPROVER, now=NOW)
    export = batch.record_export(actor_id=APPROVER, now=NOW)
    assert batch.exports == [export]
    with pytest.raises(BatchExported, match="bank_file_withdrawn") as refused:
        batch.reject(actor_id=APPROVER, now=NOW, reason="wrong period")
    assert refused.value.kind == "conflict"
    assert batch.status is BatchStatus.APPROVED
    assert all(line.open for line in batch.lines)
    batch.reject(actor_id=APPROVER, now=NOW, reason="file withdrawn at the bank", bank_file_withdrawn=True)
    assert (batch.status, batch.bank_file_withdrawn) == (BatchStatus.REJECTED, True)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_csv_export_lists_the_lines_to_pay_with_cents_and_flags_and_leaves_held_lines_out() -> None:
    """The bank upload of an approved batch: a header and one row per line not held; amounts in cents and in
    units add up to what paying moves; flags visible; the held line is not there at all."""
    batch = a_batch(12_345, 5, 700)
    batch.hold(batch.lines[1].id, reason="proof, missing", actor_id=APPROVER)
    batch.lines[0].flags = (AnomalyFlag(FlagCode.NO_POSITION_PROOF, "order rewarded without an accepted proof"),)
    batch.approve(actor_id=APPROVER, now=NOW)
    names = {batch.lines[0].shopper_id: "Ana Lima", batch.lines[2].shopper_id: "Bo"}
    rows = _rows(batch_csv(batch, names))
    assert {row["line_id"] for row in rows} == {str(batch.lines[0].id), str(batch.lines[2].id)}
    first = next(row for row in rows if row["line_id"] == str(batch.lines[0].id))
    assert (first["status"], first["amount_cents"], first["amount"], first["flags"], first["payee_name"]) == (
        "approved",
        "12345",
        "123.45",
        "no_position_proof",
        "Ana Lima",
    )
    assert sum(int(row["amount_cents"]) for row in rows) == batch.payable_cents == 13_045
    assert {row["batch_id"] for row in rows} == {str(batch.id)}
    assert "held" not in rows[0]
    assert "proof, missing" not in batch_csv(batch, names)


def test_the_csv_states_the_currency_of_every_amount_and_keeps_its_columns_in_one_order() -> None:
    """A bank file of bare numbers says neither dollars nor cents to the bank: every row names its currency (ISO
    4217) beside the amounts, in a header whose columns never move (the bank's import maps them by position)."""
    batch = a_batch(1_230, 5)
    batch.approve(actor_id=APPROVER, now=NOW)
    text = batch_csv(batch)
    header = text.removeprefix("\ufeff").split("\r\n")[0]
    assert header == (
        '"batch_id","status","line_id","shopper_id","payee_name","amount_cents","amount","currency","flags"'
    )
    assert {(row["amount_cents"], row["amount"], row["currency"]) for row in _rows(text)} == {
        ("1230", "12.30", "USD"),
        ("5", "0.05", "USD"),
    }


def test_a_batch_exported_again_gives_the_same_bytes_until_it_is_paid() -> None:
    """Two downloads of an approved batch are one file, byte for byte (whatever order its lines were made in);
    once paid, only each row's status says so."""
    batch = a_batch(300, 100, 200)
    batch.approve(actor_id=APPROVER, now=NOW)
    names = {line.shopper_id: f"Payee {index}" for index, line in enumerate(batch.lines)}
    first = batch_csv(batch, names).encode("utf-8")
    batch.lines.reverse()
    assert batch_csv(batch, dict(reversed(names.items()))).encode("utf-8") == first
    batch.mark_paid(actor_id=APPROVER, now=NOW)
    assert batch_csv(batch, names).encode("utf-8") == first.replace(b'"approved"', b'"paid"')


@pytest.mark.parametrize("status", [BatchStatus.DRAFT, BatchStatus.REJECTED])
def test_only_an_approved_or_paid_batch_is_exported(status: BatchStatus) -> None:
    """A draft may still change and a rejected batch pays nothing: neither goes to the bank (conflict)."""
    batch = a_batch(1_000)
    if status is BatchStatus.REJECTED:
        batch.reject(actor_id=APPROVER, now=NOW, reason="wrong period")
    with pytest.raises(BatchNotExportable) as raised:
        batch_csv(batch)
    assert raised.value.kind == "conflict"
    assert f"is {status.value}" in raised.value.message
    batch = a_batch(1_000)
    batch.approve(actor_id=APPROVER, now=NOW)
    batch.mark_paid(actor_id=APPROVER, now=NOW)
    assert [row["status"] for row in _rows(batch_csv(batch))] == ["paid"]


def test_the_csv_quotes_every_field_and_keeps_formulas_and_separators_as_text() -> None:
    """`Bob;=1+1` is one quoted cell (a spreadsheet splitting on semicolons does not run `=1+1`); a name
    starting with =, +, -, @, a tab or a carriage return gets a leading quote."""
    names = ["Bob;=1+1", "=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tTab", "\rReturn", 'Ann "the" Lee, Jr']
    batch = a_batch(*[100] * len(names))
    by_shopper = {line.shopper_id: name for line, name in zip(batch.lines, names, strict=True)}
    batch.approve(actor_id=APPROVER, now=NOW)
    text = batch_csv(batch, by_shopper)
    assert '"Bob;=1+1"' in text
    assert all(
        cell.startswith('"') and cell.endswith('"') for cell in text.removeprefix("\ufeff").split("\r\n")[0].split(",")
    )
    shown = {row["payee_name"] for row in _rows(text)}
    assert shown == {
        "Bob;=1+1",
        "'=HYPERLINK(1)",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tTab",
        "'\rReturn",
        'Ann "the" Lee, Jr',
    }


def test_the_csv_keeps_a_formula_hidden_behind_blanks_or_written_full_width_as_text() -> None:
    """A payee name is the shopper's to choose: a formula behind spaces, a line break, a no-break or invisible
    space, or written with the full-width sign some spreadsheets take for `=`, gets the leading quote too; a
    name with a sign further in does not."""
    names = [" =HYPERLINK(1)", "\n=1+1", "\u00a0+1", "\ufeff@SUM(A1)", "\u200b-2", "\uff1d1+1", "Jo-Ann =Lee"]
    batch = a_batch(*[100] * len(names))
    by_shopper = {line.shopper_id: name for line, name in zip(batch.lines, names, strict=True)}
    batch.approve(actor_id=APPROVER, now=NOW)
    shown = {row["payee_name"] for row in _rows(batch_csv(batch, by_shopper))}
    assert shown == {f"'{name}" for name in names[:-1]} | {"Jo-Ann =Lee"}


def test_the_csv_keeps_a_formula_behind_blanks_and_invisible_characters_in_turn_as_text() -> None:
    """Blanks and invisible characters (format characters: zero-width, soft hyphen, word joiner) in any order and
    number before the sign hide it as well as one run of either: a spreadsheet that trims them trims them all."""
    names = [" \u200b =HYPERLINK(1)", "\u200b \u200b+1", "\u00ad=1+1", "\u2060\u00ad@SUM(A1)", "\u200b\n\u200b-2"]
    batch = a_batch(*[100] * len(names))
    by_shopper = {line.shopper_id: name for line, name in zip(batch.lines, names, strict=True)}
    batch.approve(actor_id=APPROVER, now=NOW)
    shown = {row["payee_name"] for row in _rows(batch_csv(batch, by_shopper))}
    assert shown == {f"'{name}" for name in names}


def test_the_csv_is_utf_8_with_a_byte_order_mark_and_crlf_line_ends() -> None:
    """Spreadsheets read a BOM as UTF-8: `Zoë Ørsted` and `李雷` read as written; every row ends in CRLF."""
    batch = a_batch(100, 200)
    batch.approve(actor_id=APPROVER, now=NOW)
    names = {batch.lines[0].shopper_id: "Zoë Ørsted", batch.lines[1].shopper_id: "李雷"}
    data = batch_csv(batch, names).encode("utf-8")
    assert data.startswith(b'\xef\xbb\xbf"batch_id"')
    assert data.count(b"\r\n") == 3
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert {row["payee_name"] for row in _rows(data.decode("utf-8-sig"))} == {"Zoë Ørsted", "李雷"}
