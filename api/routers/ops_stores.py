"""Operations create and edit stores: name, location, service area (GeoJSON), fallback cost, opening hours."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.dependencies import OPS_ROLES, Context, CurrentPrincipal, require_roles
from api.fields import OptionalIdempotencyKey
from api.idempotent import created_once, created_or_replayed
from api.json_bodies import JsonBodyRoute
from api.ops_records_schemas import StoreDetailOut, StoreIn, StorePatch
from api.problems import problem_responses
from dispatch.services import queries
from dispatch.services.stores import create_store, edit_store

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/ops/stores",
    tags=["ops"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(*OPS_ROLES))],
)


@router.post("", **created_once(StoreDetailOut, "the store the first request created, as it is now", 409, 422))
def create(
    body: StoreIn, context: Context, staff: CurrentPrincipal, idempotency_key: OptionalIdempotencyKey = None
) -> JSONResponse:
    """A new store. Refused with 422 naming the field: an area that is not a valid Polygon or MultiPolygon, does
    not contain the store, is smaller than 0.05 km² or larger than 5 000 km², reaches beyond 100 km or has more
    than 5 000 vertices; a time that is not HH:MM or a day that closes before it opens. Send an
    `Idempotency-Key` so that a retry after a lost answer creates the store once (200, replayed); the key with
    another store is 409."""
    created = create_store(context, body.to_draft(), actor_id=staff.user_id, idempotency_key=idempotency_key)
    return created_or_replayed(StoreDetailOut.model_validate(created.value), created.replayed)


@router.get("/{store_id}", response_model=StoreDetailOut, responses=problem_responses(404))
def get(store_id: UUID, context: Context) -> StoreDetailOut:
    return StoreDetailOut.model_validate(queries.get_store(context, store_id=store_id))


@router.patch("/{store_id}", response_model=StoreDetailOut, responses=problem_responses(404, 422))
def edit(store_id: UUID, body: StorePatch, context: Context, staff: CurrentPrincipal) -> StoreDetailOut:
    """Changes what the body gives; the area is checked again against the (possibly new) location."""
    changes = body.to_changes()
    return StoreDetailOut.model_validate(
        edit_store(context, store_id=store_id, changes=changes, actor_id=staff.user_id)
    )
