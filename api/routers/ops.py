"""Operations: ingest orders, verify shoppers, watch stores, trigger batches, give up on orders a shopper will
not deliver, take failed orders back."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.dependencies import OPS_ROLES, Context, OpsPrincipal, Services, require_roles
from api.fields import IdempotencyKey, Limit, Offset
from api.idempotent import created_once, created_or_replayed
from api.json_bodies import JsonBodyRoute
from api.ops_records_schemas import ExternalRef, OrderDetailOut
from api.ops_schemas import (
    BatchOut,
    DeliveryCodeOut,
    LiveStoreSummary,
    NotDeliveredIn,
    OpsOfferOut,
    OrderIn,
    OrderOut,
    OrderReceipt,
    StoreOut,
    StoreSummaryOut,
    VerificationIn,
)
from api.problems import problem_responses
from api.schemas import OpsShopperOut, PageOf, ShopperOut
from api.shopper_schemas import TripOut
from crowdship.units import Cents
from dispatch.model import OfferStatus, OrderStatus, TripStatus, TrustTier
from dispatch.services import accounts, batch, delivery, orders, queries
from dispatch.services.intake import OrderIntake, ingest_order, reissue_delivery_code
from dispatch.services.order_detail import Window, order_detail

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/ops",
    tags=["ops"],
    responses=problem_responses(401, 403),
    dependencies=[Depends(require_roles(*OPS_ROLES))],
)


@router.post("/orders", **created_once(OrderReceipt, "the first response, replayed", 409, 422))
def create_order(
    body: OrderIn, idempotency_key: IdempotencyKey, principal: OpsPrincipal, context: Context
) -> JSONResponse:
    """Ingest an online order. Refused with 422 (field `dropoff`) outside the store's service area. The
    response carries the recipient's one-time code for the shop to send; the service keeps only its hash."""
    intake = OrderIntake(
        store_id=body.store_id,
        external_ref=body.external_ref,
        dropoff=body.dropoff.to_geo(),
        dropoff_address=body.dropoff_address,
        recipient_name=body.recipient_name,
        window_earliest=body.window_earliest,
        window_latest=body.window_latest,
        dispatch_deadline=body.dispatch_deadline,
        size_bags=body.size_bags,
        value_cents=Cents(body.value_cents),
        age_restricted=body.age_restricted,
        perishable=body.perishable,
    )
    result = ingest_order(context, scope=f"orders:{principal.user_id}", idempotency_key=idempotency_key, intake=intake)
    receipt = OrderReceipt.model_validate({**result.receipt, "delivery_code": result.delivery_code})
    return created_or_replayed(receipt, result.replayed)


@router.get("/orders", response_model=PageOf[OrderOut], responses=problem_responses(422))
def list_orders(
    context: Context,
    store_id: UUID | None = None,
    status: Annotated[list[OrderStatus] | None, Query()] = None,
    external_ref: Annotated[
        ExternalRef | None, Query(description="Orders whose reference starts with this, in any case")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOf[OrderOut]:
    page = queries.list_orders(
        context, store_id=store_id, statuses=status or None, limit=limit, offset=offset, external_ref=external_ref
    )
    return PageOf[OrderOut].from_page(page, limit=limit, offset=offset)


@router.get("/orders/{order_id}/history", response_model=OrderDetailOut, responses=problem_responses(404, 422))
def order_history(
    order_id: UUID,
    context: Context,
    history_limit: Limit = 100,
    history_offset: Offset = 0,
    offers_limit: Limit = 100,
    offers_offset: Offset = 0,
) -> OrderDetailOut:
    """What happened to the order and when (status changes, offers, delivery attempts with the proof's photo
    reference, incidents), its offers, and why it waits without an offer when it is pending or returned. The
    timeline and the offers come a page each (`history_total` status changes, `offers_total` offers): an order
    re-offered all day answers as little as any other. A page of the timeline holds its status changes and what
    else happened from the first of them to the first of the next page."""
    detail = order_detail(
        context,
        order_id=order_id,
        history=Window(history_limit, history_offset),
        offers=Window(offers_limit, offers_offset),
    )
    return OrderDetailOut.model_validate(detail)


@router.get("/orders/{order_id}", response_model=OrderOut, responses=problem_responses(404))
def get_order(order_id: UUID, context: Context) -> OrderOut:
    return OrderOut.model_validate(queries.get_order(context, order_id=order_id))


@router.post("/orders/{order_id}/delivery-code", response_model=DeliveryCodeOut, responses=problem_responses(404, 409))
def new_delivery_code(order_id: UUID, context: Context) -> DeliveryCodeOut:
    """A new one-time code for the recipient (the first was lost); the old one stops working at once."""
    return DeliveryCodeOut(order_id=order_id, delivery_code=reissue_delivery_code(context, order_id=order_id))


@router.post("/orders/{order_id}/cancel", response_model=OrderOut, responses=problem_responses(404, 409))
def cancel_order(order_id: UUID, principal: OpsPrincipal, context: Context) -> OrderOut:
    """Cancel an order that has not left the store (pending, offered, accepted or returned; 409 otherwise). An
    offer it was in is withdrawn; a shopper who had accepted it is told. A cancelled order cancelled again (a
    retry after a lost answer) answers as it is."""
    return OrderOut.model_validate(orders.cancel_order(context, order_id=order_id, actor_id=principal.user_id))


@router.post("/orders/{order_id}/requeue", response_model=OrderOut, responses=problem_responses(404, 409))
def requeue_order(order_id: UUID, principal: OpsPrincipal, context: Context) -> OrderOut:
    """A returned order goes back to the queue for shoppers (409 unless returned). Requeued again while it
    still waits where the requeue left it, it answers as it is."""
    return OrderOut.model_validate(orders.requeue_order(context, order_id=order_id, actor_id=principal.user_id))


@router.post("/orders/{order_id}/fallback", response_model=OrderOut, responses=problem_responses(404, 409))
def hand_to_fallback(order_id: UUID, principal: OpsPrincipal, context: Context) -> OrderOut:
    """The paid courier fleet takes it (a pending or returned order; 409 otherwise). One the fleet has already
    answers as it is."""
    return OrderOut.model_validate(orders.hand_to_fallback(context, order_id=order_id, actor_id=principal.user_id))


@router.post("/orders/{order_id}/not-delivered", response_model=OrderOut, responses=problem_responses(404, 409, 422))
def order_not_delivered(order_id: UUID, body: NotDeliveredIn, principal: OpsPrincipal, context: Context) -> OrderOut:
    """A picked-up order its shopper will not deliver (deactivated, gone silent, the bags lost) fails, as after
    a last refused attempt; the reason and who gave it go into its history (409 unless picked up). The trip
    that carried it ends when nothing else is left on it. Then, as for any failed delivery: `returned`, and
    `requeue`, `fallback` or `cancel`. Said again while the order is still failed by operations' word, it
    answers as it is (the first reason kept); an order that failed at the door is 409."""
    result = delivery.mark_not_delivered(context, order_id=order_id, reason=body.reason, actor_id=principal.user_id)
    return OrderOut.model_validate(result.order)


@router.post("/orders/{order_id}/returned", response_model=OrderOut, responses=problem_responses(404, 409))
def order_returned(order_id: UUID, principal: OpsPrincipal, context: Context) -> OrderOut:
    """A failed delivery's bags are back in the store (409 unless failed; a returned order answers as it is)."""
    return OrderOut.model_validate(delivery.mark_returned(context, order_id=order_id, actor_id=principal.user_id))


@router.get("/trips", response_model=PageOf[TripOut], responses=problem_responses(422))
def list_trips(
    context: Context,
    store_id: UUID | None = None,
    shopper_id: UUID | None = None,
    status: Annotated[list[TripStatus] | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOf[TripOut]:
    page = queries.list_trips(
        context, store_id=store_id, shopper_id=shopper_id, statuses=status or None, limit=limit, offset=offset
    )
    return PageOf[TripOut].from_page(page, limit=limit, offset=offset)


@router.get("/offers", response_model=PageOf[OpsOfferOut], responses=problem_responses(422))
def list_offers(
    context: Context,
    store_id: UUID | None = None,
    status: Annotated[list[OfferStatus] | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PageOf[OpsOfferOut]:
    page = queries.list_offers(context, store_id=store_id, statuses=status or None, limit=limit, offset=offset)
    return PageOf[OpsOfferOut].from_page(page, limit=limit, offset=offset)


@router.get("/stores", response_model=PageOf[StoreOut], responses=problem_responses(422))
def list_stores(context: Context, limit: Limit = 50, offset: Offset = 0) -> PageOf[StoreOut]:
    """Stores by name."""
    page = queries.stores_page(context, limit=limit, offset=offset)
    return PageOf[StoreOut].from_page(page, limit=limit, offset=offset)


@router.get("/stores/{store_id}/summary", response_model=StoreSummaryOut, responses=problem_responses(404))
def store_summary(store_id: UUID, context: Context) -> StoreSummaryOut:
    """Live picture of a store: orders by status, open trips and offers, orders past their deadline."""
    summary, live_shoppers = queries.store_summary(context, store_id=store_id)
    return StoreSummaryOut.model_validate(LiveStoreSummary(summary, live_shoppers))


@router.post("/stores/{store_id}/batches", response_model=BatchOut, responses=problem_responses(404))
async def trigger_batch(store_id: UUID, services: Services) -> BatchOut:
    """Run one dispatch batch for the store now (skipped if a dispatcher is running it at this moment)."""
    report = await run_in_threadpool(batch.run_batch, services.context, store_id=store_id, solver=services.solver)
    return BatchOut.model_validate(report)


@router.get("/shoppers/{shopper_id}", response_model=OpsShopperOut, responses=problem_responses(404))
def get_shopper(shopper_id: UUID, context: Context) -> OpsShopperOut:
    """The shopper, with their recent drop-outs and, past the limit, until when they are offered nothing."""
    standing = accounts.drop_out_standing(context, shopper_id)
    shopper = ShopperOut.model_validate(accounts.get_shopper(context, shopper_id))
    return OpsShopperOut(**shopper.model_dump(), **vars(standing))


@router.post("/shoppers/{shopper_id}/verification", response_model=ShopperOut, responses=problem_responses(404, 422))
def verify_shopper(shopper_id: UUID, body: VerificationIn, principal: OpsPrincipal, context: Context) -> ShopperOut:
    """Record an identity check and set the trust tier (which caps the value of orders the shopper may carry)."""
    shopper = accounts.verify_shopper(
        context,
        shopper_id=shopper_id,
        identity_verified=body.identity_verified,
        trust_tier=TrustTier(body.trust_tier) if body.trust_tier is not None else None,
        actor_id=principal.user_id,
    )
    return ShopperOut.model_validate(shopper)
