"""Operations create and edit stores: name, location, service area (GeoJSON), fallback cost, opening hours."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends

from api.dependencies import STAFF_ROLES, Context, require_roles
from api.ops_records_schemas import StoreDetailOut, StoreIn, StorePatch, hours_from_body
from api.problems import problem_responses
from crowdship.units import Cents
from dispatch.hours import OpeningHours
from dispatch.services import queries
from dispatch.services.stores import StoreChanges, StoreDraft, create_store, edit_store
from routing.areas import service_area_from_geojson

router = APIRouter(
    prefix="/ops/stores",
    tags=["ops"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(*STAFF_ROLES))],
)


@router.post("", status_code=201, response_model=StoreDetailOut, responses=problem_responses(409, 422))
def create(body: StoreIn, context: Context) -> StoreDetailOut:
    """A new store. Refused with 422 naming the field: an area that is not a valid Polygon or MultiPolygon, does
    not contain the store, is smaller than 0.05 km² or larger than 5 000 km², reaches beyond 100 km or has more
    than 5 000 vertices; a time that is not HH:MM or a day that closes before it opens."""
    draft = StoreDraft(
        name=body.name,
        location=body.location.to_geo(),
        service_area=service_area_from_geojson(body.service_area),
        fallback_cost_cents=Cents(body.fallback_cost_cents),
        opening_hours=hours_from_body(body.opening_hours) or OpeningHours(),
    )
    return StoreDetailOut.model_validate(create_store(context, draft))


@router.get("/{store_id}", response_model=StoreDetailOut, responses=problem_responses(404))
def get(store_id: UUID, context: Context) -> StoreDetailOut:
    return StoreDetailOut.model_validate(queries.get_store(context, store_id=store_id))


@router.patch("/{store_id}", response_model=StoreDetailOut, responses=problem_responses(404, 422))
def edit(store_id: UUID, body: StorePatch, context: Context) -> StoreDetailOut:
    """Changes what the body gives; the area is checked again against the (possibly new) location."""
    changes = StoreChanges(
        name=body.name,
        location=body.location.to_geo() if body.location is not None else None,
        service_area=service_area_from_geojson(body.service_area) if body.service_area is not None else None,
        fallback_cost_cents=Cents(body.fallback_cost_cents) if body.fallback_cost_cents is not None else None,
        opening_hours=hours_from_body(body.opening_hours),
    )
    return StoreDetailOut.model_validate(edit_store(context, store_id=store_id, changes=changes))
