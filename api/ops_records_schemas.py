"""Bodies of the operations endpoints behind the console: stores created and edited (area as GeoJSON, opening
hours per weekday), incidents and their insurance claims, a shopper's tier, and an order's history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, AliasPath, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.schemas import FromDomain, LongText, Point, Schema, Text, no_control_characters
from crowdship.units import Cents
from dispatch.hours import WEEKDAYS, OpeningHours
from dispatch.incidents import IncidentKind, IncidentStatus
from dispatch.model import OrderStatus
from dispatch.services.stores import StoreChanges, StoreDraft
from routing.areas import service_area_from_geojson, service_area_to_geojson

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
Clock = Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")]
GeoJSON = dict[str, Any]

# --- Stores ----------------------------------------------------------------------------------------------


class DayHoursIn(Schema):
    opens: Clock = Field(examples=["08:00"])
    closes: Clock = Field(examples=["22:00"], description="24:00 for midnight")


def hours_from_body(named: dict[Weekday, DayHoursIn | None] | None) -> OpeningHours | None:
    """Checked by the domain (`dispatch.hours`): a bad time is a 422 naming `opening_hours.<day>.<end>`."""
    if named is None:
        return None
    return OpeningHours.from_named(
        {day: (hours.opens, hours.closes) if hours is not None else None for day, hours in named.items()}
    )


_STORE_EXAMPLE: dict[str, Any] = {
    "name": "Crowdship Supercentre Northeast",
    "location": {"lat": 30.4627, "lon": -84.2211},
    "service_area": {
        "type": "Polygon",
        "coordinates": [[[-84.28, 30.42], [-84.16, 30.42], [-84.16, 30.51], [-84.28, 30.51], [-84.28, 30.42]]],
    },
    "fallback_cost_cents": 899,
    "opening_hours": {"monday": {"opens": "07:00", "closes": "23:00"}, "sunday": None},
}


class StoreIn(Schema):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_STORE_EXAMPLE]})

    name: Text
    location: Point
    service_area: GeoJSON = Field(
        description="A GeoJSON Polygon or MultiPolygon (or a Feature holding one), in (lon, lat); it must contain "
        "the store, keep within 100 km of it, cover 0.05 to 5 000 km² and have at most 5 000 vertices"
    )
    fallback_cost_cents: int = Field(ge=1, le=100_000, description="What the courier fleet charges per order")
    opening_hours: dict[Weekday, DayHoursIn | None] = Field(
        default_factory=dict, description="Per weekday, local time; a day left out or null is closed"
    )

    def to_draft(self) -> StoreDraft:
        """The store as the use case takes it; the area and hours checked by the domain (422 naming the field)."""
        return StoreDraft(
            name=self.name,
            location=self.location.to_geo(),
            service_area=service_area_from_geojson(self.service_area),
            fallback_cost_cents=Cents(self.fallback_cost_cents),
            opening_hours=hours_from_body(self.opening_hours) or OpeningHours(),
        )


class StorePatch(Schema):
    """Each member given replaces the store's; `opening_hours`, when given, replaces the whole week."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"fallback_cost_cents": 950}]})

    name: Text | None = None
    location: Point | None = None
    service_area: GeoJSON | None = None
    fallback_cost_cents: int | None = Field(default=None, ge=1, le=100_000)
    opening_hours: dict[Weekday, DayHoursIn | None] | None = None

    def to_changes(self) -> StoreChanges:
        return StoreChanges(
            name=self.name,
            location=self.location.to_geo() if self.location is not None else None,
            service_area=service_area_from_geojson(self.service_area) if self.service_area is not None else None,
            fallback_cost_cents=Cents(self.fallback_cost_cents) if self.fallback_cost_cents is not None else None,
            opening_hours=hours_from_body(self.opening_hours),
        )


class DayHoursOut(BaseModel):
    opens: str
    closes: str


class StoreDetailOut(FromDomain):
    id: UUID
    name: str
    location: Point
    service_area: GeoJSON
    fallback_cost_cents: int
    opening_hours: dict[str, DayHoursOut | None]

    @field_validator("service_area", mode="before")
    @classmethod
    def _as_geojson(cls, area: Any) -> Any:
        return area if isinstance(area, dict) else service_area_to_geojson(area)

    @field_validator("opening_hours", mode="before")
    @classmethod
    def _by_weekday(cls, hours: Any) -> Any:
        if not isinstance(hours, OpeningHours):
            return hours
        return {
            day: None if interval is None else {"opens": interval.opens, "closes": interval.closes}
            for day, interval in zip(WEEKDAYS, hours.named().values(), strict=True)
        }


# --- Shoppers and incidents --------------------------------------------------------------------------


class TierIn(Schema):
    trust_tier: int = Field(ge=0, le=3, description="0 new, 1 bronze, 2 silver, 3 gold")


class OpsIncidentOut(FromDomain):
    id: UUID
    order_id: UUID
    trip_id: UUID
    shopper_id: UUID
    kind: IncidentKind
    description: str
    reported_at: datetime
    status: IncidentStatus
    resolved_at: datetime | None
    resolved_by: UUID | None
    resolution: str | None


class ResolutionIn(Schema):
    resolution: LongText = Field(examples=["Refunded the customer; bag replaced"])


class ClaimIn(Schema):
    claim_ref: Annotated[
        str,
        StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]*\S[^\x00]*$"),
        AfterValidator(no_control_characters),
    ] = Field(description="The insurer's reference", examples=["AXA-2026-118842"])
    amount_cents: int = Field(ge=1, le=10_000_000, examples=[4_599])


class ClaimOut(FromDomain):
    id: UUID
    incident_id: UUID
    claim_ref: str
    amount_cents: int
    recorded_at: datetime
    recorded_by: UUID | None


class ClaimRecordedOut(FromDomain):
    claim: ClaimOut
    tier_before: int = Field(description="The shopper's trust tier before the review the claim triggered")
    tier_after: int = Field(description="... and after it")


class IncidentDetailOut(FromDomain):
    incident: OpsIncidentOut
    claims: list[ClaimOut]


# --- An order's history ------------------------------------------------------------------------------


class TimelineEntryOut(FromDomain):
    at: datetime
    what: str
    detail: str
    status: OrderStatus | None
    actor_id: UUID | None
    photo_ref: str | None


class ProofOut(FromDomain):
    id: UUID
    trip_id: UUID
    position: Point
    recorded_at: datetime
    distance_to_dropoff_m: float
    code_matched: bool
    accepted: bool
    photo_ref: str | None


class TripVerdictOut(FromDomain):
    trip_id: UUID
    shopper_id: UUID
    reason: str | None
    explanation: str


class UnassignedOut(FromDomain):
    summary: str
    trips: list[TripVerdictOut]


class OrderDetailOut(FromDomain):
    order_id: UUID = Field(validation_alias=AliasPath("order", "id"))
    status: OrderStatus = Field(validation_alias=AliasPath("order", "status"))
    external_ref: str = Field(validation_alias=AliasPath("order", "external_ref"))
    timeline: list[TimelineEntryOut]
    offers: list[OfferInHistory]
    proofs: list[ProofOut]
    incidents: list[OpsIncidentOut]
    unassigned: UnassignedOut | None = Field(description="Why it waits without an offer (pending or returned only)")
    carrying_trip_id: UUID | None
    history_total: int = Field(description="The order's status changes in all (`timeline` is one page of them)")
    offers_total: int = Field(description="The offers the order was in, in all (`offers` is one page of them)")


class OfferInHistory(FromDomain):
    id: UUID
    trip_id: UUID
    status: str
    order_ids: list[UUID] = Field(validation_alias="stops")
    reward_quote_cents: int
    extra_distance_m: int
    created_at: datetime
    expires_at: datetime
    resolved_at: datetime | None


OrderDetailOut.model_rebuild()

ExternalRef = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
