"""Finance console: reward policy versions, and two of them side by side with their differences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.console.paging import PageQuery, PageView
from api.console.policy_words import LABELS, item_name, multipliers, shown
from api.console.web import CONSOLE_PREFIX, FinanceUser, people, render
from api.rewards_dependencies import Rewards
from api.rewards_schemas import PolicyOut
from rewards import services

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance", include_in_schema=False)
Version = Annotated[int | None, Query(ge=1, le=1_000_000)]


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
                f"{label} at {item_name(name, index)}: {shown(name, a[index])} → {shown(name, b[index])}"
                for index in changed
            ]
            rows.append(ParameterRow(label, multipliers(name, a), multipliers(name, b), bool(changed)))
            continue
        if a != b:
            differences.append(f"{label}: {shown(name, a)} → {shown(name, b)}")
        rows.append(ParameterRow(label, shown(name, a), shown(name, b), a != b))
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
