"""Finance console: reward policy versions, and two of them side by side with their differences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.console.paging import PageQuery, PageView
from api.console.web import CONSOLE_PREFIX, FinanceUser, money, people, render
from api.rewards_dependencies import Rewards
from api.rewards_schemas import PolicyOut
from dispatch.model import TrustTier
from rewards import services
from rewards.policy import BASIS_POINTS

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance", include_in_schema=False)
Version = Annotated[int | None, Query(ge=1, le=1_000_000)]

LABELS = {
    "base_cents": "Base",
    "per_extra_km_cents": "Per extra km",
    "per_extra_minute_cents": "Per extra minute",
    "per_bag_cents": "Per bag",
    "minimum_cents": "Minimum",
    "included_distance_m": "Distance included (m)",
    "included_duration_s": "Time included (s)",
    "peak_multiplier_bps": "Peak multiplier by local hour",
    "tier_multiplier_bps": "Multiplier by trust tier",
    "daily_cap_cents": "Daily cap",
    "weekly_cap_cents": "Weekly cap",
    "store_credit_bonus_bps": "Store-credit bonus",
    "referral_commission_bps": "Referral commission (basis points)",
    "referral_first_deliveries": "Referral: first deliveries counted",
    "timezone": "Time zone",
}


def _shown(name: str, value: Any) -> str:
    if value is None:
        return "none"
    if name.endswith("_cents"):
        return money(value)
    if name in ("store_credit_bonus_bps",) or name.endswith("multiplier_bps"):
        return f"x{value / BASIS_POINTS:.2f}"
    return str(value)


def _item_name(name: str, index: int) -> str:
    if name == "peak_multiplier_bps":
        return f"{index:02d}:00"
    return TrustTier(index).name.lower()


@dataclass(frozen=True)
class ParameterRow:
    label: str
    left: str
    right: str
    differs: bool


def _rows(left: PolicyOut, right: PolicyOut) -> tuple[list[ParameterRow], list[str]]:
    """Each parameter of both versions, and the differences in words (one per hour or tier that changed)."""
    rows, differences = [], []
    left_values, right_values = left.parameters.model_dump(), right.parameters.model_dump()
    for name, label in LABELS.items():
        a, b = left_values[name], right_values[name]
        if isinstance(a, list):
            changed = [index for index, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
            differences += [
                f"{label} at {_item_name(name, index)}: {_shown(name, a[index])} → {_shown(name, b[index])}"
                for index in changed
            ]
            shown_a = ", ".join(
                f"{_item_name(name, i)} {_shown(name, v)}" for i, v in enumerate(a) if v != BASIS_POINTS
            )
            shown_b = ", ".join(
                f"{_item_name(name, i)} {_shown(name, v)}" for i, v in enumerate(b) if v != BASIS_POINTS
            )
            rows.append(
                ParameterRow(label, shown_a or "x1.00 throughout", shown_b or "x1.00 throughout", bool(changed))
            )
            continue
        if a != b:
            differences.append(f"{label}: {_shown(name, a)} → {_shown(name, b)}")
        rows.append(ParameterRow(label, _shown(name, a), _shown(name, b), a != b))
    return rows, differences


@router.get("/policies", response_class=HTMLResponse)
def policies_page(
    request: Request, user: FinanceUser, rewards: Rewards, pages: PageQuery, left: Version = None, right: Version = None
) -> HTMLResponse:
    with rewards() as uow:
        versions = services.reward_policy_versions(uow)
        right = right if right in versions else (versions[0] if versions else None)
        left = left if left in versions else (versions[1] if len(versions) > 1 else right)
        compared = {v: PolicyOut.model_validate(services.reward_policy(uow, version=v)) for v in {left, right} if v}
        listed = services.reward_policies(uow, newest_first=True, limit=pages.limit, offset=pages.offset)
    page = PageView(
        [PolicyOut.model_validate(policy) for policy in listed.items], listed.total, pages.limit, pages.offset
    )
    rows, differences = _rows(compared[left], compared[right]) if left is not None and right is not None else ([], [])
    shown = [*compared.values(), *page.items]
    return render(
        request,
        "finance/policies.html",
        user,
        nav="policies",
        page=page,
        versions=versions,
        left=compared.get(left) if left else None,
        right=compared.get(right) if right else None,
        rows=rows,
        differences=differences,
        people=people(request, [who for p in shown for who in (p.created_by, p.decided_by)]),
    )
