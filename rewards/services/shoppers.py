"""Who brought a shopper (referrals, paid a share of their first rewards) and how far the company trusts them
(the trust tier, moved by their record of deliveries and incidents)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from uuid import UUID

from crowdship.errors import InvalidInput
from dispatch.model import TrustTier
from rewards.records import AlreadyReferred
from rewards.referrals import Referral
from rewards.repositories import RewardsUnitOfWork
from rewards.services.common import audit, require_active_actor
from rewards.tiers import ShopperRecord, TierRules, next_tier


def register_referral(
    uow: RewardsUnitOfWork,
    *,
    referrer_shopper_id: UUID,
    referred_shopper_id: UUID,
    actor_id: UUID,
    now: datetime,
) -> Referral:
    """Records who brought a shopper, before that shopper's first delivery counts.

    `InvalidInput` (naming the field) for a shopper who does not exist, a shopper referring themselves, one who
    already delivered, or two shoppers referring each other; `AlreadyReferred` when the shopper has a referrer,
    unless it is this one recorded by this actor: then the referral as recorded, `repeated`, and nothing written.
    """
    referral = Referral(referrer_shopper_id, referred_shopper_id, now, actor_id)
    repos = uow.repos
    require_active_actor(repos, actor_id)
    found = repos.shoppers.get_many([referrer_shopper_id, referred_shopper_id])
    for field, shopper_id in (
        ("referrer_shopper_id", referrer_shopper_id),
        ("referred_shopper_id", referred_shopper_id),
    ):
        if shopper_id not in found:
            raise InvalidInput(field, "no shopper has this id")
    # Both shoppers' accounts locked as a credit locks them: a first reward being credited is counted below (or
    # sees this referral), and two shoppers named each other's referrer at once are checked one after the other.
    repos.ledger.lock(
        account.id
        for shopper_id in (referrer_shopper_id, referred_shopper_id)
        for account in repos.ledger.shopper_accounts(shopper_id).values()
    )
    recorded = repos.rewards.referral_of(referred_shopper_id)
    if recorded is not None and (recorded.referrer_shopper_id, recorded.created_by) == (referrer_shopper_id, actor_id):
        uow.rollback()  # the same referral by the one who recorded it: a retry after a lost answer
        return replace(recorded, repeated=True)
    if recorded is not None:
        raise AlreadyReferred(referred_shopper_id)
    if repos.rewards.has_delivered(referred_shopper_id):
        raise InvalidInput("referred_shopper_id", "the shopper already delivered; referrals are for new shoppers")
    back = repos.rewards.referral_of(referrer_shopper_id)
    if back is not None and back.referrer_shopper_id == referred_shopper_id:
        raise InvalidInput("referrer_shopper_id", "was brought by this shopper: two shoppers cannot refer each other")
    repos.rewards.add_referral(referral)
    audit(
        repos,
        actor_id=actor_id,
        action="referral.registered",
        subject_kind="shopper",
        subject_id=referred_shopper_id,
        at=now,
        referrer_shopper_id=referrer_shopper_id,
    )
    uow.commit()
    return referral


def shopper_referral(uow: RewardsUnitOfWork, *, shopper_id: UUID) -> Referral | None:
    """Who brought the shopper, if anyone registered it; `NotFound` for an unknown shopper."""
    repos = uow.repos
    repos.shoppers.get(shopper_id)
    referral = repos.rewards.referral_of(shopper_id)
    uow.rollback()
    return referral


@dataclass(frozen=True)
class TierReview:
    shopper_id: UUID
    before: TrustTier
    after: TrustTier
    record: ShopperRecord


def review_trust_tier(
    uow: RewardsUnitOfWork,
    *,
    shopper_id: UUID,
    window_start: datetime,
    now: datetime,
    actor_id: UUID | None = None,
    rules: TierRules | None = None,
) -> TierReview:
    """Moves the shopper's tier by their record in [window_start, now] and saves it on the shopper."""
    repos = uow.repos
    repos.shoppers.lock(shopper_id)
    shopper = repos.shoppers.get(shopper_id)
    record = repos.reports.shopper_record(shopper_id, window_start, now)
    before = shopper.trust_tier
    shopper.trust_tier = next_tier(before, record, rules)
    if shopper.trust_tier != before:
        repos.shoppers.save(shopper)
        audit(
            repos,
            actor_id=actor_id,
            action="tier.changed",
            subject_kind="shopper",
            subject_id=shopper_id,
            at=now,
            before=before.name.lower(),
            after=shopper.trust_tier.name.lower(),
            record=asdict(record),
        )
    uow.commit()
    return TierReview(shopper_id, before, shopper.trust_tier, record)
