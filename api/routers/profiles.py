"""The shopper's commute profiles: saved recurring trips, and checking in from one with a single tap.

Only the caller's own profiles: another shopper's are reported as not found.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.dependencies import Context, ShopperId
from api.fields import OptionalIdempotencyKey
from api.idempotent import created_once, created_or_replayed
from api.json_bodies import JsonBodyRoute
from api.problems import problem_responses
from api.shopper_schemas import ProfileIn, ProfileOut, TripOut
from dispatch.services import profiles

router = APIRouter(
    route_class=JsonBodyRoute, prefix="/shopper/profiles", tags=["shopper"], responses=problem_responses(401, 403)
)


@router.get("", response_model=list[ProfileOut])
def list_profiles(shopper_id: ShopperId, context: Context) -> list[ProfileOut]:
    """Your commute profiles, oldest first (at most a handful, so not paged)."""
    return [ProfileOut.model_validate(profile) for profile in profiles.list_profiles(context, shopper_id=shopper_id)]


@router.post("", **created_once(ProfileOut, "the profile the first request saved, as it is now", 404, 409, 422))
def create_profile(
    body: ProfileIn, shopper_id: ShopperId, context: Context, idempotency_key: OptionalIdempotencyKey = None
) -> JSONResponse:
    """Save a recurring trip: the store, where you go, on which days, when you usually leave, what fits.
    At most ten per shopper (409 beyond). Send an `Idempotency-Key` so that a retry after a lost answer saves
    it once (200, replayed; 404 once you deleted it); the key with another profile is 409."""
    saved = profiles.create_profile_once(
        context, shopper_id=shopper_id, draft=body.to_draft(), idempotency_key=idempotency_key
    )
    return created_or_replayed(ProfileOut.model_validate(saved.value), saved.replayed)


@router.get("/{profile_id}", response_model=ProfileOut, responses=problem_responses(404))
def get_profile(profile_id: UUID, shopper_id: ShopperId, context: Context) -> ProfileOut:
    return ProfileOut.model_validate(profiles.get_profile(context, shopper_id=shopper_id, profile_id=profile_id))


@router.put("/{profile_id}", response_model=ProfileOut, responses=problem_responses(404, 422))
def update_profile(profile_id: UUID, body: ProfileIn, shopper_id: ShopperId, context: Context) -> ProfileOut:
    """Replace every field of a profile."""
    changed = profiles.update_profile(context, shopper_id=shopper_id, profile_id=profile_id, draft=body.to_draft())
    return ProfileOut.model_validate(changed)


@router.delete("/{profile_id}", status_code=204, responses=problem_responses(404))
def delete_profile(profile_id: UUID, shopper_id: ShopperId, context: Context) -> Response:
    profiles.delete_profile(context, shopper_id=shopper_id, profile_id=profile_id)
    return Response(status_code=204)


@router.post(
    "/{profile_id}/check-in", **created_once(TripOut, "the trip the first request started, as it is now", 404, 409)
)
def check_in(
    profile_id: UUID, shopper_id: ShopperId, context: Context, idempotency_key: OptionalIdempotencyKey = None
) -> JSONResponse:
    """One tap: a trip from the profile, leaving today at its usual time. 409 when that time has passed today,
    is further ahead than a leave-by may be, or you are on another trip; the trip this tap started, still
    open, is answered again (200). Send an `Idempotency-Key` so that a retry answers the trip it started even
    once it left (200, replayed); the key with another check-in is 409."""
    started = profiles.check_in_from_profile_once(
        context, shopper_id=shopper_id, profile_id=profile_id, idempotency_key=idempotency_key
    )
    return created_or_replayed(
        TripOut.model_validate(started.value), started.replayed, keyed=idempotency_key is not None
    )
