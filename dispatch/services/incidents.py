"""What operations do about incidents: list and read them, resolve them, record the insurance claim for a
loss. A claim triggers a review of the shopper's trust tier (the rewards side's rule, through the
`review_tier` hook) in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crowdship.errors import InvalidInput
from crowdship.idempotency import Outcome, once
from crowdship.pages import Page
from crowdship.units import Cents
from dispatch.incidents import Incident, IncidentKind, IncidentStatus, InsuranceClaim
from dispatch.model import TrustTier
from dispatch.services.context import DispatchContext, TierReviewRequest

MAX_CLAIM_REF_CHARS = 100
MAX_CLAIM_CENTS = 10_000_000


@dataclass(frozen=True)
class IncidentDetail:
    incident: Incident
    claims: tuple[InsuranceClaim, ...]


@dataclass(frozen=True)
class ClaimRecorded:
    claim: InsuranceClaim
    tier_before: TrustTier
    tier_after: TrustTier
    """The shopper's tier after the review the claim triggered (unchanged when no review is wired)."""


def list_incidents(
    ctx: DispatchContext,
    *,
    statuses: Sequence[IncidentStatus] | None = None,
    kinds: Sequence[IncidentKind] | None = None,
    store_id: UUID | None = None,
    shopper_id: UUID | None = None,
    limit: int,
    offset: int,
) -> Page[Incident]:
    with ctx.unit_of_work() as uow:
        return uow.incidents.page(
            statuses=statuses, kinds=kinds, store_id=store_id, shopper_id=shopper_id, limit=limit, offset=offset
        )


def get_incident(ctx: DispatchContext, *, incident_id: UUID) -> IncidentDetail:
    with ctx.unit_of_work() as uow:
        return IncidentDetail(uow.incidents.get(incident_id), tuple(uow.incidents.claims_for(incident_id)))


def resolve_incident(ctx: DispatchContext, *, incident_id: UUID, resolution: str, actor_id: UUID | None) -> Incident:
    """Closes an open incident with what was done about it. Resolved already (a second click, a retry after a
    lost answer, two operators at once), it changes nothing and answers with the incident as it is: the first
    resolution, its time and who gave it stay."""
    with ctx.unit_of_work() as uow:
        incident = uow.incidents.get(incident_id, for_update=True)
        if incident.status is IncidentStatus.RESOLVED:
            return incident
        resolved = incident.resolve(resolution=resolution, by=actor_id, now=ctx.clock.now())
        uow.incidents.save(resolved)
        uow.commit()
        return resolved


def record_insurance_claim(
    ctx: DispatchContext, *, incident_id: UUID, claim_ref: str, amount_cents: Cents, actor_id: UUID | None
) -> ClaimRecorded:
    """`record_insurance_claim_once` without a key: the reference used before is `ClaimExists`."""
    return record_insurance_claim_once(
        ctx,
        incident_id=incident_id,
        claim_ref=claim_ref,
        amount_cents=amount_cents,
        actor_id=actor_id,
        idempotency_key=None,
    ).value


def record_insurance_claim_once(
    ctx: DispatchContext,
    *,
    incident_id: UUID,
    claim_ref: str,
    amount_cents: Cents,
    actor_id: UUID | None,
    idempotency_key: str | None,
) -> Outcome[ClaimRecorded]:
    """Records the claim made to the insurer for the incident's loss, and reviews the shopper's trust tier
    by their record (an incident counts against it at once), all in one transaction. Once per the caller's
    `idempotency_key` when they give one: a retry after a lost answer gets the first answer (the tiers as that
    review left them) rather than 409 for its own reference; the key with another claim is refused."""
    if len(claim_ref) > MAX_CLAIM_REF_CHARS:
        raise InvalidInput("claim_ref", f"at most {MAX_CLAIM_REF_CHARS} characters")
    if amount_cents > MAX_CLAIM_CENTS:
        raise InvalidInput("amount_cents", f"at most {MAX_CLAIM_CENTS} cents")
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:

        def record() -> ClaimRecorded:
            incident = uow.incidents.get(incident_id, for_update=True)
            claim = InsuranceClaim(incident.id, claim_ref.strip(), amount_cents, now, actor_id)
            uow.incidents.add_claim(claim)
            before = uow.shoppers.get(incident.shopper_id).trust_tier
            after = before
            if ctx.review_tier is not None:
                after = ctx.review_tier(uow, TierReviewRequest(incident.shopper_id, actor_id, now))
            return ClaimRecorded(claim, before, after)

        def kept(recorded: Mapping[str, Any]) -> ClaimRecorded:
            claims = {claim.id: claim for claim in uow.incidents.claims_for(incident_id)}
            return ClaimRecorded(
                claims[UUID(recorded["id"])], TrustTier(recorded["tier_before"]), TrustTier(recorded["tier_after"])
            )

        if idempotency_key is None:
            outcome = Outcome(record(), replayed=False)
        else:
            outcome = once(
                uow.idempotency,
                scope=f"claims:{actor_id}" if actor_id is not None else "claims",
                key=idempotency_key,
                request={"incident_id": str(incident_id), "claim_ref": claim_ref, "amount_cents": amount_cents},
                run=record,
                dump=lambda done: {
                    "id": str(done.claim.id),
                    "tier_before": int(done.tier_before),
                    "tier_after": int(done.tier_after),
                },
                load=kept,
            )
        uow.commit()
    return outcome
