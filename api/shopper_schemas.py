"""The shopper app's request and response bodies: trips and positions, offers and their stops, pickup,
delivery and incidents, the trip history, commute profiles. Shared types and bases are in `api.schemas`."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AliasPath,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from api.fields import Instant
from api.schemas import FromDomain, LongText, Point, Schema, Text, no_control_characters
from crowdship.errors import InvalidInput
from dispatch.incidents import IncidentKind
from dispatch.model import (
    MAX_CAPACITY_BAGS,
    MAX_DETOUR_M,
    MAX_DETOUR_S,
    TRACKED_LATITUDE_LIMIT,
    OfferStatus,
    OrderStatus,
    TripStatus,
)
from dispatch.profiles import MAX_PROFILE_NAME_LENGTH, Weekday, zone_named
from dispatch.services.profiles import ProfileDraft

# --- Trips ---------------------------------------------------------------------------------------------


class TripIn(Schema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "store_id": "6f1c2d0e-8a57-4c2b-9a51-3f5b3c0f9b11",
                    "destination": {"lat": 30.5, "lon": -84.2211},
                    "capacity_bags": 3,
                    "max_detour_m": 3000,
                    "max_detour_s": 600,
                    "leave_by": "2026-11-22T18:30:00Z",
                }
            ]
        },
    )

    store_id: UUID
    destination: Point
    capacity_bags: int = Field(ge=1, le=MAX_CAPACITY_BAGS, examples=[3])
    max_detour_m: int | None = Field(default=None, ge=0, le=MAX_DETOUR_M, examples=[3000])
    max_detour_s: int | None = Field(default=None, ge=0, le=MAX_DETOUR_S, examples=[600])
    leave_by: Instant


class TripOut(FromDomain):
    id: UUID
    shopper_id: UUID
    store_id: UUID
    status: TripStatus
    destination: Point
    capacity_bags: int
    max_detour_m: int | None
    max_detour_s: int | None
    checked_in_at: datetime
    leave_by: datetime


class LocationIn(Schema):
    lat: float = Field(ge=-TRACKED_LATITUDE_LIMIT, le=TRACKED_LATITUDE_LIMIT, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)


class LocationOut(BaseModel):
    sampled: bool = Field(description="Whether this position was also kept in the record (one per interval)")


# --- Offers and stops -----------------------------------------------------------------------------------


class StopOut(FromDomain):
    order_id: UUID
    status: OrderStatus
    size_bags: int
    area: Point = Field(description="The drop-off rounded to about 1 km")
    dropoff: Point | None = Field(description="Exact drop-off: only after acceptance, until delivery")
    address: str | None = Field(description="Only after acceptance, until delivery")
    recipient_first_name: str | None = Field(description="Only after acceptance, until delivery")
    window_earliest: datetime
    window_latest: datetime


class RewardComponentsOut(BaseModel):
    """The reward in cents by component; they add up to `total` (see `dispatch.matching.reward_rule`)."""

    base: int = 0
    distance: int = 0
    duration: int = 0
    bags: int = 0
    multiplier: int = Field(default=0, description="What the peak and tier multipliers add (or take off)")
    rounding: int = Field(default=0, description="The cent or so between the rounded parts and the price")
    minimum: int = Field(default=0, description="The top-up to the minimum")
    caps: int = Field(default=0, description="What the daily and weekly caps and the ceiling take off (<= 0)")
    bonus: int = Field(default=0, description="The store-credit bonus")
    total: int


class AlternativeOut(BaseModel):
    cost_cents: int = Field(description="What the best other shopper able to carry the same stops would cost")
    carries_another_offer: bool = Field(
        default=False,
        description="That shopper got another offer of this batch: cheaper here maybe, but worth more there",
    )


class OfferBreakdownOut(BaseModel):
    """Why this offer and this price, as the batch saw it."""

    detour_m: int
    detour_s: int
    stops: int
    priced_by: Literal["reward_policy", "compensation_rule"]
    reward_cents: RewardComponentsOut
    matcher_cost_cents: int | None = Field(
        description="The matcher's cost of this route in whole cents: the quote (null for a part of its route)"
    )
    best_alternative: AlternativeOut | Literal["none"] = Field(
        description='The cheapest other trip of the batch that could carry the same stops, or "none"'
    )
    leave_after: datetime | None = Field(
        default=None,
        description="Leave the store at this time or later (and by `leave_before`, else your leave-by) to reach "
        "each stop inside its window without waiting at the door; null when you may leave now",
    )
    leave_before: datetime | None = Field(
        default=None,
        description="Leave the store by this time at the latest, sooner than your leave-by, to reach each stop "
        "before its window closes; null when leaving by your leave-by does",
    )

    @field_validator("matcher_cost_cents", mode="before")
    @classmethod
    def _whole_cents(cls, cost: float | None) -> int | None:
        """Breakdowns recorded before it was rounded kept the matcher's tie-break fraction."""
        return None if cost is None else round(cost)


def _of_offer(name: str) -> AliasPath:
    """An `OfferView` holds the offer's own fields on its `offer`; its `stops` are the shopper's views."""
    return AliasPath("offer", name)


class OfferOut(FromDomain):
    id: UUID = Field(validation_alias=_of_offer("id"))
    trip_id: UUID = Field(validation_alias=_of_offer("trip_id"))
    status: OfferStatus = Field(validation_alias=_of_offer("status"))
    stops: list[StopOut] = Field(description="In visiting order")
    extra_distance_m: int = Field(validation_alias=_of_offer("extra_distance_m"))
    extra_duration_s: int = Field(validation_alias=_of_offer("extra_duration_s"))
    extra_km: float = Field(validation_alias=_of_offer("extra_distance_m"))
    extra_minutes: float = Field(validation_alias=_of_offer("extra_duration_s"))
    reward_quote_cents: int = Field(validation_alias=_of_offer("reward_quote_cents"))
    created_at: datetime = Field(validation_alias=_of_offer("created_at"))
    expires_at: datetime = Field(validation_alias=_of_offer("expires_at"))
    breakdown: OfferBreakdownOut | None = Field(
        default=None, validation_alias=_of_offer("breakdown"), description="None for offers made before it was kept"
    )

    @field_validator("extra_km", mode="before")
    @classmethod
    def _km_from_metres(cls, metres: int) -> float:
        return round(metres / 1000, 2)

    @field_validator("extra_minutes", mode="before")
    @classmethod
    def _minutes_from_seconds(cls, seconds: int) -> float:
        return round(seconds / 60, 1)


# --- Pickup, delivery, incidents -----------------------------------------------------------------------


class PickupIn(Schema):
    bag_codes: list[Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[^\x00]*$")]] = Field(
        min_length=1, max_length=50, examples=[["BAG-7KQ2M9XZ"]]
    )


class PickupOut(FromDomain):
    trip: TripOut
    stops: list[StopOut]


class DeliveryIn(Schema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"position": {"lat": 30.48, "lon": -84.219}, "code": "042917"}]},
    )

    position: Point
    code: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[^\x00]*$")] = Field(
        description="The recipient's one-time code", examples=["042917"]
    )
    photo_ref: Text | None = None


class DeliveryOut(FromDomain):
    order_id: UUID = Field(validation_alias=AliasPath("order", "id"))
    status: OrderStatus = Field(validation_alias=AliasPath("order", "status"))
    distance_to_dropoff_m: float = Field(validation_alias=AliasPath("proof", "distance_to_dropoff_m"))
    trip_completed: bool

    @field_validator("distance_to_dropoff_m", mode="before")
    @classmethod
    def _to_the_decimetre(cls, metres: float) -> float:
        return round(metres, 1)


class IncidentIn(Schema):
    kind: IncidentKind
    description: LongText


class IncidentOut(FromDomain):
    id: UUID
    order_id: UUID
    trip_id: UUID
    kind: IncidentKind
    description: str
    reported_at: datetime


class HistoryItem(FromDomain):
    trip: TripOut
    stops: list[StopOut]

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, data: Any) -> Any:
        """The history lists each trip with the stops it carried, as a pair."""
        if isinstance(data, tuple):
            trip, stops = data
            return {"trip": trip, "stops": stops}
        return data


# --- Commute profiles ------------------------------------------------------------------------------------

ProfileName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PROFILE_NAME_LENGTH, pattern=r"^[^\x00]*$"),
    AfterValidator(no_control_characters),
]
TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$")]


class ProfileIn(Schema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Home after work",
                    "store_id": "6f1c2d0e-8a57-4c2b-9a51-3f5b3c0f9b11",
                    "destination": {"lat": 30.5, "lon": -84.2211},
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "departure": "17:30",
                    "time_zone": "America/New_York",
                    "capacity_bags": 3,
                    "max_detour_m": 3000,
                    "max_detour_s": 600,
                }
            ]
        },
    )

    name: ProfileName
    store_id: UUID
    destination: Point
    days: list[Weekday] = Field(min_length=1, max_length=7, description="Days you usually make this trip")
    departure: time = Field(description="When you usually leave the store, local time (HH:MM)", examples=["17:30"])
    time_zone: TimeZoneName = Field(description="IANA time zone of the departure", examples=["America/New_York"])
    capacity_bags: int = Field(ge=1, le=MAX_CAPACITY_BAGS, examples=[3])
    max_detour_m: int | None = Field(default=None, ge=0, le=MAX_DETOUR_M, examples=[3000])
    max_detour_s: int | None = Field(default=None, ge=0, le=MAX_DETOUR_S, examples=[600])

    @field_validator("departure")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a local time without an offset: the zone goes in time_zone")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone_named(value)
        except InvalidInput as error:
            raise ValueError(error.message.removeprefix("time_zone: ")) from None
        return value

    def to_draft(self) -> ProfileDraft:
        return ProfileDraft(
            store_id=self.store_id,
            name=self.name,
            destination=self.destination.to_geo(),
            days=self.days,
            departure=self.departure,
            time_zone=self.time_zone,
            capacity_bags=self.capacity_bags,
            max_detour_m=self.max_detour_m,
            max_detour_s=self.max_detour_s,
        )


class ProfileOut(FromDomain):
    id: UUID
    name: str
    store_id: UUID
    destination: Point
    days: list[Weekday]
    departure: time
    time_zone: str
    capacity_bags: int
    max_detour_m: int | None
    max_detour_s: int | None
    created_at: datetime
