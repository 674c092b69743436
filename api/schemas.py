"""Request and response bodies of the API, with the limits that keep bad input out of the domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.fields import Instant
from dispatch.accounts import Role, User
from dispatch.model import IncidentKind, Offer, OfferStatus, Order, OrderStatus, Shopper, Store, Trip, TripStatus
from dispatch.repositories import StoreSummary
from dispatch.views import OfferView, StopView
from routing.geo import GeoPoint

T = TypeVar("T")

# Text that PostgreSQL can store (no NUL) and that is not absurdly long.
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]
Email = Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=128, pattern=r"^[^\x00]*$")]


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Point(Schema):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, examples=[30.4627])
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, examples=[-84.2211])

    def to_geo(self) -> GeoPoint:
        return GeoPoint(self.lat, self.lon)

    @classmethod
    def of(cls, point: GeoPoint) -> Point:
        return cls(lat=point.lat, lon=point.lon)


class PageOf(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(ge=0)
    limit: int
    offset: int


# --- Accounts ----------------------------------------------------------------------------------------


class RegisterIn(Schema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "ana@example.org",
                    "password": "correct horse battery",
                    "display_name": "Ana",
                    "home": {"lat": 30.5, "lon": -84.2211},
                }
            ]
        },
    )

    email: Email = Field(examples=["ana@example.org"])
    password: Password = Field(examples=["correct horse battery"])
    display_name: Text = Field(examples=["Ana"])
    home: Point | None = Field(default=None, description="Never offered orders to (about) this point")


class UserOut(BaseModel):
    id: UUID
    email: str
    role: Role
    shopper_id: UUID | None
    active: bool = Field(description="False once an administrator deactivated the account")

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, email=user.email, role=user.role, shopper_id=user.shopper_id, active=user.active)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires", examples=[900])


class ShopperOut(BaseModel):
    id: UUID
    display_name: str
    trust_tier: int = Field(ge=0, le=3, description="0 new, 1 bronze, 2 silver, 3 gold")
    identity_verified: bool
    opted_in: bool

    @classmethod
    def of(cls, shopper: Shopper) -> ShopperOut:
        return cls(
            id=shopper.id,
            display_name=shopper.display_name,
            trust_tier=int(shopper.trust_tier),
            identity_verified=shopper.identity_verified,
            opted_in=shopper.opted_in,
        )


class VerificationIn(Schema):
    identity_verified: bool | None = None
    trust_tier: int | None = Field(default=None, ge=0, le=3)


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
    capacity_bags: int = Field(ge=1, le=50, examples=[3])
    max_detour_m: int | None = Field(default=None, ge=0, le=100_000, examples=[3000])
    max_detour_s: int | None = Field(default=None, ge=0, le=86_400, examples=[600])
    leave_by: Instant


class TripOut(BaseModel):
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

    @classmethod
    def of(cls, trip: Trip) -> TripOut:
        return cls(
            id=trip.id,
            shopper_id=trip.shopper_id,
            store_id=trip.store_id,
            status=trip.status,
            destination=Point.of(trip.destination),
            capacity_bags=trip.capacity_bags,
            max_detour_m=trip.max_detour_m,
            max_detour_s=trip.max_detour_s,
            checked_in_at=trip.checked_in_at,
            leave_by=trip.leave_by,
        )


GEO_INDEX_MAX_LATITUDE = 85.05112878
"""Redis GEO (Web Mercator) holds no position nearer the poles; no store is there either."""


class LocationIn(Schema):
    lat: float = Field(ge=-GEO_INDEX_MAX_LATITUDE, le=GEO_INDEX_MAX_LATITUDE, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)


class LocationOut(BaseModel):
    sampled: bool = Field(description="Whether this position was also kept in the record (one per interval)")


# --- Offers and stops -----------------------------------------------------------------------------------


class StopOut(BaseModel):
    order_id: UUID
    status: OrderStatus
    size_bags: int
    area: Point = Field(description="The drop-off rounded to about 1 km")
    dropoff: Point | None = Field(description="Exact drop-off: only after acceptance, until delivery")
    address: str | None = Field(description="Only after acceptance, until delivery")
    recipient_first_name: str | None = Field(description="Only after acceptance, until delivery")
    window_earliest: datetime
    window_latest: datetime

    @classmethod
    def of(cls, stop: StopView) -> StopOut:
        return cls(
            order_id=stop.order_id,
            status=stop.status,
            size_bags=stop.size_bags,
            area=Point.of(stop.area),
            dropoff=Point.of(stop.dropoff) if stop.dropoff else None,
            address=stop.address,
            recipient_first_name=stop.recipient_first_name,
            window_earliest=stop.window_earliest,
            window_latest=stop.window_latest,
        )


class OfferOut(BaseModel):
    id: UUID
    trip_id: UUID
    status: OfferStatus
    stops: list[StopOut] = Field(description="In visiting order")
    extra_distance_m: int
    extra_duration_s: int
    extra_km: float
    extra_minutes: float
    reward_quote_cents: int
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, view: OfferView) -> OfferOut:
        offer = view.offer
        return cls(
            id=offer.id,
            trip_id=offer.trip_id,
            status=offer.status,
            stops=[StopOut.of(stop) for stop in view.stops],
            extra_distance_m=offer.extra_distance_m,
            extra_duration_s=offer.extra_duration_s,
            extra_km=round(offer.extra_distance_m / 1000, 2),
            extra_minutes=round(offer.extra_duration_s / 60, 1),
            reward_quote_cents=offer.reward_quote_cents,
            created_at=offer.created_at,
            expires_at=offer.expires_at,
        )


class OpsOfferOut(BaseModel):
    id: UUID
    trip_id: UUID
    status: OfferStatus
    order_ids: list[UUID]
    extra_distance_m: int
    extra_duration_s: int
    reward_quote_cents: int
    created_at: datetime
    expires_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, offer: Offer) -> OpsOfferOut:
        return cls(
            id=offer.id,
            trip_id=offer.trip_id,
            status=offer.status,
            order_ids=list(offer.stops),
            extra_distance_m=offer.extra_distance_m,
            extra_duration_s=offer.extra_duration_s,
            reward_quote_cents=offer.reward_quote_cents,
            created_at=offer.created_at,
            expires_at=offer.expires_at,
            resolved_at=offer.resolved_at,
        )


# --- Pickup, delivery, incidents -----------------------------------------------------------------------


class PickupIn(Schema):
    bag_codes: list[Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[^\x00]*$")]] = Field(
        min_length=1, max_length=50, examples=[["BAG-7KQ2M9XZ"]]
    )


class PickupOut(BaseModel):
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


class DeliveryOut(BaseModel):
    order_id: UUID
    status: OrderStatus
    distance_to_dropoff_m: float
    trip_completed: bool


class IncidentIn(Schema):
    kind: IncidentKind
    description: LongText


class IncidentOut(BaseModel):
    id: UUID
    order_id: UUID
    trip_id: UUID
    kind: IncidentKind
    description: str
    reported_at: datetime


class HistoryItem(BaseModel):
    trip: TripOut
    stops: list[StopOut]


# --- Operations ------------------------------------------------------------------------------------------


class OrderIn(Schema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "store_id": "6f1c2d0e-8a57-4c2b-9a51-3f5b3c0f9b11",
                    "external_ref": "WEB-100234",
                    "dropoff": {"lat": 30.48, "lon": -84.219},
                    "dropoff_address": "1200 Magnolia Dr, Tallahassee",
                    "recipient_name": "Jade Moreau",
                    "window_earliest": "2026-11-22T17:00:00Z",
                    "window_latest": "2026-11-22T20:00:00Z",
                    "dispatch_deadline": "2026-11-22T19:15:00Z",
                    "size_bags": 2,
                    "value_cents": 4599,
                    "age_restricted": False,
                    "perishable": True,
                }
            ]
        },
    )

    store_id: UUID
    external_ref: Text = Field(examples=["WEB-100234"])
    dropoff: Point
    dropoff_address: Text = Field(examples=["1200 Magnolia Dr, Tallahassee"])
    recipient_name: Text = Field(examples=["Jade Moreau"])
    window_earliest: Instant
    window_latest: Instant
    dispatch_deadline: Instant | None = Field(default=None, description="Defaults to window_latest")
    size_bags: int = Field(ge=1, le=20, examples=[2])
    value_cents: int = Field(ge=1, le=100_000_000, examples=[4599])
    age_restricted: bool = False
    perishable: bool = False


class OrderReceipt(BaseModel):
    order_id: UUID
    store_id: UUID
    external_ref: str
    status: OrderStatus
    bag_code: str = Field(description="Printed on the bag; scanned by the shopper at pickup")
    delivery_code: str | None = Field(
        description=(
            "Send this to the recipient. Only its hash is kept, so it is in the first answer only: a replay "
            "carries null (issue a new code with POST /ops/orders/{order_id}/delivery-code)"
        )
    )
    dispatch_deadline: datetime
    created_at: datetime


class DeliveryCodeOut(BaseModel):
    order_id: UUID
    delivery_code: str = Field(description="The recipient's new code; the previous one no longer works")


class OrderOut(BaseModel):
    id: UUID
    store_id: UUID
    external_ref: str
    status: OrderStatus
    dropoff: Point
    dropoff_address: str
    recipient_name: str
    window_earliest: datetime
    window_latest: datetime
    dispatch_deadline: datetime
    size_bags: int
    value_cents: int
    age_restricted: bool
    perishable: bool
    created_at: datetime

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        return cls(
            id=order.id,
            store_id=order.store_id,
            external_ref=order.external_ref,
            status=order.status,
            dropoff=Point.of(order.dropoff),
            dropoff_address=order.dropoff_address,
            recipient_name=order.recipient_name,
            window_earliest=order.window_earliest,
            window_latest=order.window_latest,
            dispatch_deadline=order.dispatch_deadline,
            size_bags=order.size_bags,
            value_cents=order.value_cents,
            age_restricted=order.age_restricted,
            perishable=order.perishable,
            created_at=order.created_at,
        )


class StoreOut(BaseModel):
    id: UUID
    name: str
    location: Point
    fallback_cost_cents: int

    @classmethod
    def of(cls, store: Store) -> StoreOut:
        return cls(
            id=store.id,
            name=store.name,
            location=Point.of(store.location),
            fallback_cost_cents=store.fallback_cost_cents,
        )


class StoreSummaryOut(BaseModel):
    store_id: UUID
    orders_by_status: dict[str, int]
    open_trips: int
    open_offers: int
    orders_past_deadline: int
    live_shoppers: int = Field(description="Shoppers on an active trip at this store with a live position")

    @classmethod
    def of(cls, summary: StoreSummary, live_shoppers: int) -> StoreSummaryOut:
        return cls(
            store_id=summary.store_id,
            orders_by_status=dict(summary.orders_by_status),
            open_trips=summary.open_trips,
            open_offers=summary.open_offers,
            orders_past_deadline=summary.orders_past_deadline,
            live_shoppers=live_shoppers,
        )


class BatchOut(BaseModel):
    store_id: UUID
    skipped: bool = Field(description="Another dispatcher was running this store's batch")
    offers: list[UUID]
    fallback_orders: list[UUID]
    expired_offers: int
    expired_trips: int
    pending_orders: int
    eligible_trips: int
    conflicts: int
    dropped_assignments: int


def order_statuses(values: list[OrderStatus] | None) -> list[OrderStatus] | None:
    return values or None


def trip_statuses(values: list[TripStatus] | None) -> list[TripStatus] | None:
    return values or None
