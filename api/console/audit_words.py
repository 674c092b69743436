"""The audit log in words: what was done ("Payout batch approved"), to what ("Shopper Elif"), and its details
as a person reads them ("Trust tier: gold → new", "Amount: $3.00"), empty values left out and long lists
summarised. The log keeps its codes (the API answers them as written); only the console says them so."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from api.console.formats import money
from api.console.policy_words import LABELS as POLICY_LABELS
from api.console.policy_words import multipliers
from api.console.policy_words import shown as policy_value

ACTIONS = {
    "batch.prepared": "Payout batch prepared",
    "batch.approved": "Payout batch approved",
    "batch.rejected": "Payout batch rejected",
    "batch.paid": "Payout batch paid",
    "batch.exported": "Payout batch exported for the bank",
    "line.held": "Payout line held",
    "line.released": "Payout line released",
    "policy.proposed": "Reward policy proposed",
    "policy.approved": "Reward policy approved",
    "policy.rejected": "Reward policy rejected",
    "reward.credited": "Reward credited",
    "transaction.reversed": "Ledger transaction reversed",
    "store_credit.redeemed": "Store credit spent",
    "payment_method.changed": "Payment method changed",
    "tier.changed": "Trust tier reviewed by the record",
    "shopper.changed": "Shopper changed",
    "referral.registered": "Referral registered",
    "account.created": "Staff account created",
    "account.deactivated": "Account deactivated",
    "account.activated": "Account reactivated",
    "store.created": "Store created",
    "store.changed": "Store changed",
}
SUBJECTS = {
    "payout_batch": "Payout batch",
    "reward_policy": "Reward policy",
    "order": "Order",
    "shopper": "Shopper",
    "ledger_transaction": "Ledger transaction",
    "account": "Account",
    "store": "Store",
}
DETAIL_LABELS = {
    "amount_cents": "Amount",
    "total_cents": "Total",
    "paid_cents": "Paid",
    "lines_paid": "Lines paid",
    "flagged_lines": "Flagged lines",
    "policy_version": "Policy version",
    "line_id": "Line",
    "reversal_id": "Reversal",
    "referrer_shopper_id": "Referred by",
    "identity_verified": "Identity checked",
    "on_time_deliveries": "On time",
    "record": "Record",
    "parameters": "Parameters",
    "exports": "Exported before",
    "bank_file_withdrawn": "Bank file withdrawn",
    "payable_cents": "Payable",
    "also_changed": "Also changed",
}
FOLDED = frozenset({"parameters"})
"""Details shown folded whatever their length: a policy's parameters are read on the Policies page."""
CHANGE_FIELDS = {"tier.changed": "trust_tier", "payment_method.changed": "payment_method"}
"""What an entry's top-level `before` and `after` are the values of."""
CODE = re.compile(r"[a-z]+(_[a-z]+)+")
"""A value that is a code ("store_credit"), said in words; any other text is left as written."""
MAX_LISTED_VALUES = 6
"""A longer list is told by its length ("24 hourly values")."""


@dataclass(frozen=True)
class Detail:
    label: str
    value: str
    parts: tuple[Detail, ...] = field(default=())
    """A long value (a policy's parameters), shown folded under its label."""


def in_words(code: str, known: Mapping[str, str]) -> str:
    """A code as the mapping says it, else in plain words: "store_credit.redeemed" -> "Store credit redeemed"."""
    if code in known:
        return known[code]
    spaced = code.replace(".", " ").replace("_", " ").strip()
    return spaced[:1].upper() + spaced[1:]


def action_words(action: str) -> str:
    return in_words(action, ACTIONS)


def subject_words(kind: str) -> str:
    return in_words(kind, SUBJECTS)


def details_in_words(action: str, details: Mapping[str, Any]) -> list[Detail]:
    """Each detail worth reading, in words; a top-level before/after pair as one "before → after"."""
    found = dict(details)
    said: list[Detail] = []
    if "before" in found and "after" in found:
        before, after = found.pop("before"), found.pop("after")
        name = CHANGE_FIELDS.get(action, "")
        said.append(Detail(_label(name) if name else "Change", f"{_value(name, before)} → {_value(name, after)}"))
    for name, value in found.items():
        detail = _detail(name, value)
        if detail is not None:
            said.append(detail)
    return said


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not str(value).strip("[]{} "))


def _label(name: str) -> str:
    if name in DETAIL_LABELS:
        return DETAIL_LABELS[name]
    if name in POLICY_LABELS:
        return POLICY_LABELS[name]
    return in_words(name.removesuffix("_cents").removesuffix("_id"), {})


def _detail(name: str, value: Any) -> Detail | None:
    if _empty(value):
        return None
    if isinstance(value, dict) and set(value) == {"before", "after"}:
        return Detail(_label(name), f"{_value(name, value['before'])} → {_value(name, value['after'])}")
    if isinstance(value, dict):
        parts = tuple(detail for key, item in value.items() if (detail := _detail(key, item)) is not None)
        if name not in FOLDED and len(parts) <= MAX_LISTED_VALUES and not any(part.parts for part in parts):
            return Detail(_label(name), ", ".join(f"{part.label.lower()} {part.value}" for part in parts))
        return Detail(_label(name), f"{len(parts)} values", parts)
    return Detail(_label(name), _value(name, value))


def _value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name.endswith("_bps") and isinstance(value, list):
        return multipliers(name, value) if name in POLICY_LABELS else f"{len(value)} values"
    if isinstance(value, list):
        if len(value) > MAX_LISTED_VALUES:
            return f"{len(value)} hourly values" if len(value) == 24 else f"{len(value)} values"
        return ", ".join(_value(name, item) for item in value)
    if name in POLICY_LABELS:
        return policy_value(name, value)
    if name.endswith("_cents") and isinstance(value, int):
        return money(value)
    if name.endswith("_id") and isinstance(value, str):
        return value[:8]
    if value is None:
        return "none"
    if name == "trust_tier":
        return str(value).title()  # "gold" -> "Gold", as the shopper's page says it
    text = str(value)
    return text.replace("_", " ") if CODE.fullmatch(text) else text
