"""Reward policy versions in the console: two side by side with their differences, every version, and the
proposed ones approved or rejected (with a reason) by a second person, through the API's use case. Read by
everyone who may read policies (ops, finance, admin), not only finance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.paging import PageQuery, PageView, Paging
from api.console.policy_words import LABELS, item_name, multipliers, shown
from api.console.problems import CONSOLE_ERRORS, FormProblem, filter_problem, merge_filters, readable_problem
from api.console.session import CONSOLE_PREFIX, ConsoleUser, Form, require_console_roles
from api.console.web import people, redirect, render
from api.rewards_dependencies import Now, Rewards
from api.rewards_schemas import PolicyOut, ReasonIn
from rewards import services
from rewards.permissions import POLICY_DECIDERS, POLICY_READERS
from rewards.policy_versions import PolicyStatus

router = APIRouter(prefix=CONSOLE_PREFIX + "/finance", include_in_schema=False)
VersionText = Annotated[str, Query(max_length=40)]
"""A version a comparison link asks for: its number, or as the page shows it ("v3"); anything else is told."""
SIDES = {"left": "The version to compare", "right": "The version to compare with"}
"""Each side of the comparison as its field's label says it ("Compare version", "with version")."""
DecidedVersion = Annotated[int, Path(ge=1, le=2_147_483_647)]
PolicyReader = Annotated[ConsoleUser, Depends(require_console_roles(*POLICY_READERS))]
PolicyDecider = Annotated[ConsoleUser, Depends(require_console_roles(*POLICY_DECIDERS))]
POLICIES = f"{CONSOLE_PREFIX}/finance/policies"
REASON_LABELS = {"reason": "Reason to reject"}


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
    request: Request,
    user: PolicyReader,
    rewards: Rewards,
    pages: PageQuery,
    now: Now,
    left: VersionText = "",
    right: VersionText = "",
) -> HTMLResponse:
    (left_version, left_refused), (right_version, right_refused) = _version(left, "left"), _version(right, "right")
    refused = [side for side in (left_refused, right_refused) if side]
    return _policies_page(request, user, rewards, pages, now, left_version, right_version, refused=refused)


def _version(text: str, side: str) -> tuple[int | None, tuple[str, str] | None]:
    """The version a link asks for on `side`, or (side, what it said) when it is not a version number."""
    digits = text.strip().removeprefix("v").removeprefix("V")
    if not text.strip():
        return None, None
    if digits.isascii() and digits.isdigit() and len(digits) <= 9 and int(digits) >= 1:
        return int(digits), None
    return None, (side, text.strip())


def _not_a_version(refused: tuple[str, str], versions: list[int]) -> FormProblem:
    side, said = refused
    choices = ", ".join(f"v{version}" for version in sorted(versions)) or "none yet"
    message = f"{SIDES[side]}, “{said[:40]}”, is not a policy version: choose one of {choices}."
    return FormProblem(message, {side: message}, 422)


def _policies_page(
    request: Request,
    user: ConsoleUser,
    rewards: Rewards,
    pages: Paging,
    now: datetime,
    left: int | None = None,
    right: int | None = None,
    *,
    problem: FormProblem | None = None,
    refused_version: int | None = None,
    refused: Sequence[tuple[str, str]] = (),
) -> HTMLResponse:
    """The version in force, versions side by side, every version, and those waiting for a decision with
    Approve and Reject for whoever may decide them (not their author: the use case refuses them too; nor
    Approve of one older than the version in force, which the use case refuses as well), each compared with
    the version in force."""
    with rewards() as uow:
        found_in_force = services.reward_policy_in_force(uow, at=now)
        versions = services.reward_policy_versions(uow)
        if problem is None and refused:
            problem = merge_filters([_not_a_version(side, versions) for side in refused])
        if problem is None and versions:
            problem = _unknown_versions(versions, left=left, right=right)
        right = right if right in versions else (versions[0] if versions else None)
        left = left if left in versions else (versions[1] if len(versions) > 1 else right)
        compared = {v: PolicyOut.model_validate(services.reward_policy(uow, version=v)) for v in {left, right} if v}
        listed = services.reward_policies(uow, newest_first=True, limit=pages.limit, offset=pages.offset)
        waiting = [PolicyOut.model_validate(policy) for policy in services.proposed_reward_policies(uow)]
    page = PageView(
        [PolicyOut.model_validate(policy) for policy in listed.items], listed.total, pages.limit, pages.offset
    )
    rows, differences = _rows(compared[left], compared[right]) if left is not None and right is not None else ([], [])
    in_force = PolicyOut.model_validate(found_in_force) if found_in_force is not None else None
    shown = [*compared.values(), *page.items, *waiting, *([in_force] if in_force else [])]
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
        waiting=waiting,
        in_force=in_force,
        may_decide=user.role in POLICY_DECIDERS,
        problem=problem,
        refused_version=refused_version,
        people=people(request, [who for p in shown for who in (p.created_by, p.decided_by)]),
    )


def _unknown_versions(versions: list[int], **asked: int | None) -> FormProblem | None:
    """A link asking to compare a version there is not (hand-edited, or from another database): said, with the
    versions there are, while the page compares the newest ones instead."""
    choices = ", ".join(f"v{version}" for version in sorted(versions))
    return merge_filters(
        [
            filter_problem(side, "policy version", f"v{version}", choices)
            for side, version in asked.items()
            if version is not None and version not in versions
        ]
    )


@router.post("/policies/{version}/approve", response_model=None)
def approve_policy(
    request: Request, version: DecidedVersion, user: PolicyDecider, form: Form, rewards: Rewards, now: Now
) -> Response:
    """Four eyes, as `POST /policies/{version}/approve`: anyone who may decide but the version's author."""
    del form  # read for its CSRF check
    try:
        with rewards() as uow:
            services.decide_reward_policy(
                uow, version=version, status=PolicyStatus.APPROVED, actor_id=user.principal.user_id, now=now
            )
    except CONSOLE_ERRORS as error:
        return redirect(request, POLICIES, flash=readable_problem(error).message, kind="error")
    return redirect(request, POLICIES, flash=f"Version {version} is approved: it prices the offers made from now on.")


@router.post("/policies/{version}/reject", response_model=None)
def reject_policy(
    request: Request,
    version: DecidedVersion,
    user: PolicyDecider,
    form: Form,
    rewards: Rewards,
    now: Now,
    pages: PageQuery,
) -> Response:
    """As `POST /policies/{version}/reject`: the reason is required and kept; a missing one is said next to the
    form, any other refusal on the page it returns to."""
    try:
        body = ReasonIn.model_validate({"reason": form.get("reason")})
        with rewards() as uow:
            services.decide_reward_policy(
                uow,
                version=version,
                status=PolicyStatus.REJECTED,
                actor_id=user.principal.user_id,
                now=now,
                reason=body.reason,
            )
    except CONSOLE_ERRORS as error:
        problem = readable_problem(error, REASON_LABELS)
        if "reason" in problem.fields:
            return _policies_page(request, user, rewards, pages, now, problem=problem, refused_version=version)
        return redirect(request, POLICIES, flash=problem.message, kind="error")
    return redirect(request, POLICIES, flash=f"Version {version} is rejected: it will never take effect.", kind="info")
