"""Operations on shoppers and incidents: the shopper list and tier, incidents listed, resolved, and their
insurance claims recorded (which reviews the shopper's trust tier)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.dependencies import OPS_ROLES, Context, OpsPrincipal, require_roles
from api.fields import Limit, Offset, OptionalIdempotencyKey
from api.idempotent import created_once, created_or_replayed
from api.json_bodies import JsonBodyRoute
from api.ops_records_schemas import (
    ClaimIn,
    ClaimRecordedOut,
    IncidentDetailOut,
    OpsIncidentOut,
    ResolutionIn,
    TierIn,
)
from api.problems import problem_responses
from api.schemas import PageOf, ShopperOut
from crowdship.units import Cents
from dispatch.incidents import IncidentKind, IncidentStatus
from dispatch.model import TrustTier
from dispatch.services import accounts, incidents, queries

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/ops",
    tags=["ops"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(*OPS_ROLES))],
)


@router.get("/shoppers", response_model=PageOf[ShopperOut], responses=problem_responses(422))
def list_shoppers(context: Context, limit: Limit = 50, offset: Offset = 0) -> PageOf[ShopperOut]:
    """Shoppers by name."""
    page = queries.list_shoppers(context, limit=limit, offset=offset)
    return PageOf[ShopperOut].from_page(page, limit=limit, offset=offset)


@router.put("/shoppers/{shopper_id}/tier", response_model=ShopperOut, responses=problem_responses(404, 422))
def set_tier(shopper_id: UUID, body: TierIn, principal: OpsPrincipal, context: Context) -> ShopperOut:
    """Sets the shopper's trust tier by hand (it caps the value of orders they may carry)."""
    shopper = accounts.verify_shopper(
        context, shopper_id=shopper_id, trust_tier=TrustTier(body.trust_tier), actor_id=principal.user_id
    )
    return ShopperOut.model_validate(shopper)


@router.get(
    "/shoppers/{shopper_id}/incidents", response_model=PageOf[OpsIncidentOut], responses=problem_responses(404, 422)
)
def shopper_incidents(
    shopper_id: UUID, context: Context, limit: Limit = 50, offset: Offset = 0
) -> PageOf[OpsIncidentOut]:
    accounts.get_shopper(context, shopper_id)  # 404 for an unknown shopper rather than an empty list
    page = incidents.list_incidents(context, shopper_id=shopper_id, limit=limit, offset=offset)
    return PageOf[OpsIncidentOut].from_page(page, limit=limit, offset=offset)


@router.get("/incidents", response_model=PageOf[OpsIncidentOut], responses=problem_responses(422))
def list_incidents(
    context: Context,
    status: Annotated[list[IncidentStatus] | None, Query(max_length=2)] = None,
    kind: Annotated[list[IncidentKind] | None, Query(max_length=4)] = None,
    store_id: UUID | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOf[OpsIncidentOut]:
    """Newest first, filtered by status, kind and store."""
    page = incidents.list_incidents(
        context, statuses=status or None, kinds=kind or None, store_id=store_id, limit=limit, offset=offset
    )
    return PageOf[OpsIncidentOut].from_page(page, limit=limit, offset=offset)


@router.get("/incidents/{incident_id}", response_model=IncidentDetailOut, responses=problem_responses(404))
def get_incident(incident_id: UUID, context: Context) -> IncidentDetailOut:
    return IncidentDetailOut.model_validate(incidents.get_incident(context, incident_id=incident_id))


@router.post("/incidents/{incident_id}/resolve", response_model=OpsIncidentOut, responses=problem_responses(404, 422))
def resolve(incident_id: UUID, body: ResolutionIn, principal: OpsPrincipal, context: Context) -> OpsIncidentOut:
    """Closes an open incident with what was done about it. Once resolved, resolving it again (a retry after a
    lost answer) changes nothing and answers with the incident as it is, its first resolution kept."""
    resolved = incidents.resolve_incident(
        context, incident_id=incident_id, resolution=body.resolution, actor_id=principal.user_id
    )
    return OpsIncidentOut.model_validate(resolved)


@router.post(
    "/incidents/{incident_id}/claims",
    **created_once(ClaimRecordedOut, "the first request's answer, the tiers as its review left them", 404, 409, 422),
)
def record_claim(
    incident_id: UUID,
    body: ClaimIn,
    principal: OpsPrincipal,
    context: Context,
    idempotency_key: OptionalIdempotencyKey = None,
) -> JSONResponse:
    """Records the insurance claim made for the incident's loss (409 for a reference used before) and reviews the
    shopper's trust tier by their record, in the same transaction: the answer says the tier before and after.
    Send an `Idempotency-Key` so that a retry after a lost answer gets the first answer (200, replayed) rather
    than 409 for its own reference; the key with another claim is 409."""
    recorded = incidents.record_insurance_claim_once(
        context,
        incident_id=incident_id,
        claim_ref=body.claim_ref,
        amount_cents=Cents(body.amount_cents),
        actor_id=principal.user_id,
        idempotency_key=idempotency_key,
    )
    return created_or_replayed(ClaimRecordedOut.model_validate(recorded.value), recorded.replayed)
