"""Bodies of the operations endpoints: order intake, the orders and offers operations watch, stores and their
batches, shopper verification. Trips and shoppers read as the shopper app shows them (`api.shopper_schemas`,
`api.schemas`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, AliasPath, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.fields import Instant
from api.schemas import FromDomain, Point, Schema, Text, no_control_characters
from api.shopper_schemas import AlternativeOut, OfferBreakdownOut
from dispatch.model import Offer, OfferStatus, OrderStatus
from dispatch.repositories import StoreSummary
from dispatch.services.delivery import MAX_NOT_DELIVERED_REASON_CHARS

# --- Orders ----------------------------------------------------------------------------------------------


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


class OrderOut(FromDomain):
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
    unassigned_reason: str | None = Field(
        description="Why the store's last batch left it pending: the matcher's reason code, as `crowdship match` "
        "gives, or the batch's own (outside_service_area, shoppers_at_their_caps, shoppers_dropped_out, "
        "waiting_for_a_later_trip, changed_before_offered); or, back in the pool since, that its offer ended "
        "(offer_declined, offer_expired, offer_withdrawn) until the next batch gives its own; null before a "
        "batch has seen it (or after a requeue)"
    )
    unassigned_at: datetime | None = Field(description="When that batch ran, or the offer ended")


class OpsAlternativeOut(AlternativeOut):
    trip_id: UUID


class OpsOfferBreakdownOut(OfferBreakdownOut):
    best_alternative: OpsAlternativeOut | Literal["none"] = Field(
        description='The cheapest other trip of the batch that could carry the same stops, or "none"'
    )


class OpsOfferOut(FromDomain):
    id: UUID
    trip_id: UUID
    status: OfferStatus
    order_ids: list[UUID] = Field(validation_alias="stops")  # an offer's stops are its order ids, in visiting order
    extra_distance_m: int
    extra_duration_s: int
    reward_quote_cents: int
    created_at: datetime
    expires_at: datetime
    resolved_at: datetime | None
    breakdown: OpsOfferBreakdownOut | None = Field(description="None for offers made before it was kept")


# --- Stores and batches ----------------------------------------------------------------------------------


class StoreOut(FromDomain):
    id: UUID
    name: str
    location: Point
    fallback_cost_cents: int


@dataclass(frozen=True)
class LiveStoreSummary:
    """A store's summary from PostgreSQL with the count of its shoppers live in Redis: one answer, two sources."""

    summary: StoreSummary
    live_shoppers: int


class StoreSummaryOut(FromDomain):
    store_id: UUID = Field(validation_alias=AliasPath("summary", "store_id"))
    orders_by_status: dict[str, int] = Field(validation_alias=AliasPath("summary", "orders_by_status"))
    open_trips: int = Field(validation_alias=AliasPath("summary", "open_trips"))
    open_offers: int = Field(validation_alias=AliasPath("summary", "open_offers"))
    orders_past_deadline: int = Field(validation_alias=AliasPath("summary", "orders_past_deadline"))
    pending_by_reason: dict[str, int] = Field(
        validation_alias=AliasPath("summary", "pending_by_reason"),
        description="Pending orders by the reason code the last batch gave, or their offer's end since "
        '(offer_declined, offer_expired, offer_withdrawn) ("none": no batch saw them yet)',
    )
    live_shoppers: int = Field(description="Shoppers on an active trip at this store with a live position")


class BatchOut(FromDomain):
    store_id: UUID
    skipped: bool = Field(description="Another dispatcher was running this store's batch")
    offers: list[UUID]
    fallback_orders: list[UUID]
    expired_offers: int
    expired_trips: int
    pending_orders: int
    eligible_trips: int
    conflicts: int
    dropped_assignments: int = Field(validation_alias="dropped")

    @field_validator("offers", mode="before")
    @classmethod
    def _offer_ids(cls, offers: Sequence[Offer]) -> list[UUID]:
        """The batch report holds the offers it made; the answer names them."""
        return [offer.id for offer in offers]

    @field_validator("dropped_assignments", mode="before")
    @classmethod
    def _count_dropped(cls, dropped: Sequence[object]) -> int:
        return len(dropped)


class NotDeliveredIn(Schema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Shopper deactivated mid-trip; bags not recovered"}]},
    )

    reason: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_NOT_DELIVERED_REASON_CHARS, pattern=r"^[^\x00]*$"),
        AfterValidator(no_control_characters),
    ] = Field(description="Why the order will not be delivered, kept in its history with who said it")


# --- Shoppers --------------------------------------------------------------------------------------------


class VerificationIn(Schema):
    identity_verified: bool | None = None
    trust_tier: int | None = Field(default=None, ge=0, le=3)
