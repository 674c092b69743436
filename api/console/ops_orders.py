"""Operations console: orders found by reference and filtered by status and store, an order's page (its
history, offers, proof of delivery with the photo reference, why it waits), and cancelling one after a
confirmation; a picked-up order its shopper will not deliver is marked so with a reason, a failed one taken
back into the store, a returned one requeued or handed to the courier fleet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.filters import enum_options, listed_store, one_of, store_options
from api.console.paging import HistoryPageQuery, OffersPageQuery, PageQuery, PageView, Paging
from api.console.problems import CONSOLE_ERRORS, FormProblem, merge_filters, readable_problem
from api.console.session import CONSOLE_PREFIX, Form, OpsUser, read_form
from api.console.web import people, redirect, render
from api.dependencies import AppServices, Services
from api.ops_schemas import NotDeliveredIn
from crowdship.pages import Page
from dispatch.model import OFFER_ENDED_REASONS, ORDER_TRANSITIONS, Order, OrderStatus
from dispatch.services import delivery, orders, queries
from dispatch.services.context import DispatchContext
from dispatch.services.intake import reissue_delivery_code
from dispatch.services.order_detail import Window, order_detail

router = APIRouter(prefix=CONSOLE_PREFIX + "/ops/orders", include_in_schema=False)

CANCELLABLE = frozenset(status for status, moves in ORDER_TRANSITIONS.items() if OrderStatus.CANCELLED in moves)
HANDED_ON = frozenset(status for status, moves in ORDER_TRANSITIONS.items() if OrderStatus.FALLBACK in moves)
"""What may go to the courier fleet: an order still waiting in the store, or one brought back to it."""
MAX_REF_CHARS = 200
NOT_DELIVERED_LABELS = {"reason": "Why it will not be delivered"}


@router.get("", response_class=HTMLResponse)
def list_orders(
    request: Request,
    user: OpsUser,
    services: Services,
    paging: PageQuery,
    ref: str = "",
    status: str = "",
    store_id: str = "",
) -> HTMLResponse:
    """Search by the start of the reference (any case), filter by status and store; newest first. A filter
    with a value it does not know lists nothing and says which filter and what it takes."""
    stores = {s.id: s for s in queries.list_stores(services.context)}
    statuses, status_problem = one_of(status, OrderStatus, "status", "status")
    store, store_problem = listed_store(store_id, stores.values())
    problem = merge_filters([status_problem, store_problem])
    ref = ref.strip()[:MAX_REF_CHARS]
    found = (
        Page[Order]((), 0)
        if problem
        else queries.list_orders(
            services.context,
            store_id=store,
            statuses=statuses,
            limit=paging.limit,
            offset=paging.offset,
            external_ref=ref or None,
        )
    )
    return render(
        request,
        "ops/orders.html",
        user,
        nav="orders",
        page=PageView.of(found, paging),
        ref=ref,
        chosen_status=status,
        store_id=store_id,
        status_options=enum_options(OrderStatus),
        store_options=store_options(stores.values()),
        stores=stores,
        problem=problem,
    )


@router.get("/{order_id}", response_class=HTMLResponse)
def order_page(
    request: Request,
    order_id: UUID,
    user: OpsUser,
    services: Services,
    history_paging: HistoryPageQuery,
    offers_paging: OffersPageQuery,
) -> HTMLResponse:
    """Its history and its offers a page each, paged apart: an order offered many times reads as much as any."""
    try:
        detail = order_detail(
            services.context, order_id=order_id, history=_window(history_paging), offers=_window(offers_paging)
        )
        store = queries.get_store(services.context, store_id=detail.order.store_id)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/missing.html", user, nav="orders", problem=readable_problem(error))
    return render(
        request,
        "ops/order.html",
        user,
        nav="orders",
        detail=detail,
        order=detail.order,
        store=store,
        cancellable=detail.order.status in CANCELLABLE,
        handed_on=detail.order.status in HANDED_ON,
        takes_a_new_code=_takes_a_new_code(detail.order),
        closed=not ORDER_TRANSITIONS[detail.order.status],
        offer_ended=detail.order.unassigned_reason in OFFER_ENDED_REASONS.values(),
        people=people(request, [entry.actor_id for entry in detail.timeline]),
        trip_names=_trip_names(services, detail.trip_shoppers),
        offer_parts=OFFER_PARTS,
        history_page=PageView.counted(
            detail.timeline, detail.history_total, history_paging, shown=detail.history_shown
        ),
        offers_page=PageView.counted(detail.offers, detail.offers_total, offers_paging),
    )


def _window(paging: Paging) -> Window:
    return Window(limit=paging.limit, offset=paging.offset)


OFFER_PARTS = {
    "base": "Base",
    "distance": "Distance",
    "duration": "Time",
    "bags": "Bags",
    "multiplier": "Peak and tier",
    "rounding": "Rounding",
    "minimum": "Up to the minimum",
    "caps": "Over the caps",
    "bonus": "Store-credit bonus",
}
"""The components of an offer's price (`dispatch.offer_explanation.offer_breakdown`), in words, in its order."""


def _trip_names(services: AppServices, trip_shoppers: Mapping[UUID, UUID]) -> dict[UUID, str]:
    """Each trip by its shopper's name, read in one query."""
    names = queries.shopper_names(services.context, set(trip_shoppers.values()))
    return {trip_id: names[shopper_id] for trip_id, shopper_id in trip_shoppers.items() if shopper_id in names}


@router.get("/{order_id}/cancel", response_class=HTMLResponse)
def confirm_cancel(request: Request, order_id: UUID, user: OpsUser, services: Services) -> HTMLResponse:
    """A page that asks first: cancelling cannot be undone, and a shopper who accepted the order is told."""
    try:
        order = queries.get_order(services.context, order_id=order_id)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/missing.html", user, nav="orders", problem=readable_problem(error))
    return render(
        request, "ops/order_cancel.html", user, nav="orders", order=order, cancellable=order.status in CANCELLABLE
    )


@router.get("/{order_id}/fallback", response_class=HTMLResponse)
def confirm_fallback(request: Request, order_id: UUID, user: OpsUser, services: Services) -> HTMLResponse:
    """A page that asks first: once the courier fleet has the order, no shopper is offered it again, and the
    store pays the fleet its fallback cost."""
    try:
        order = queries.get_order(services.context, order_id=order_id)
        store = queries.get_store(services.context, store_id=order.store_id)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/missing.html", user, nav="orders", problem=readable_problem(error))
    return render(
        request,
        "ops/order_fallback.html",
        user,
        nav="orders",
        order=order,
        store=store,
        handed_on=order.status in HANDED_ON,
    )


def _takes_a_new_code(order: Order) -> bool:
    """Whether a new delivery code may be issued: while the order can still be delivered (as the use case)."""
    return not order.is_final and order.status is not OrderStatus.FAILED


@router.get("/{order_id}/delivery-code", response_class=HTMLResponse)
def confirm_delivery_code(request: Request, order_id: UUID, user: OpsUser, services: Services) -> HTMLResponse:
    """A page that asks first: the recipient's current code stops working the moment a new one is issued."""
    try:
        order = queries.get_order(services.context, order_id=order_id)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/missing.html", user, nav="orders", problem=readable_problem(error))
    return render(
        request,
        "ops/order_delivery_code.html",
        user,
        nav="orders",
        order=order,
        possible=_takes_a_new_code(order),
        code=None,
    )


@router.post("/{order_id}/delivery-code", response_class=HTMLResponse, response_model=None)
def issue_delivery_code(
    request: Request, order_id: UUID, user: OpsUser, services: Services, form: Form
) -> HTMLResponse | RedirectResponse:
    """As `POST /ops/orders/{id}/delivery-code`: the new code is shown on this answer only (never stored in a
    cookie or a link, and the page is not cached); only its salted hash is kept."""
    del form  # the CSRF check is the point
    try:
        code = reissue_delivery_code(services.context, order_id=order_id)
        order = queries.get_order(services.context, order_id=order_id)
    except CONSOLE_ERRORS as error:
        url = f"{CONSOLE_PREFIX}/ops/orders/{order_id}"
        return redirect(request, url, flash=readable_problem(error).message, kind="error")
    return render(request, "ops/order_delivery_code.html", user, nav="orders", order=order, possible=True, code=code)


CSRF_CHECKED = [Depends(read_form)]
"""The body of a form that only confirms an action: its CSRF check is the point."""


class _OrderMove(Protocol):
    """A use case that moves an order by hand, on behalf of the member of staff who asked."""

    def __call__(self, ctx: DispatchContext, *, order_id: UUID, actor_id: UUID | None = None) -> Order: ...


def _move_order(
    request: Request, order_id: UUID, user: OpsUser, services: AppServices, move: _OrderMove, done: str
) -> RedirectResponse:
    """An ops action on an order's page, made by `user`: back to the page, with what happened (`done`, its
    `{ref}` the order's reference) or why it was refused."""
    url = f"{CONSOLE_PREFIX}/ops/orders/{order_id}"
    try:
        order = move(services.context, order_id=order_id, actor_id=user.principal.user_id)
    except CONSOLE_ERRORS as error:
        return redirect(request, url, flash=readable_problem(error).message, kind="error")
    return redirect(request, url, flash=done.format(ref=order.external_ref))


@router.post("/{order_id}/cancel", response_model=None, dependencies=CSRF_CHECKED)
def cancel(request: Request, order_id: UUID, user: OpsUser, services: Services) -> RedirectResponse:
    return _move_order(request, order_id, user, services, orders.cancel_order, "Order {ref} cancelled.")


@router.post("/{order_id}/requeue", response_model=None, dependencies=CSRF_CHECKED)
def requeue(request: Request, order_id: UUID, user: OpsUser, services: Services) -> RedirectResponse:
    done = "Order {ref} is back in the queue for shoppers."
    return _move_order(request, order_id, user, services, orders.requeue_order, done)


@router.post("/{order_id}/fallback", response_model=None, dependencies=CSRF_CHECKED)
def fallback(request: Request, order_id: UUID, user: OpsUser, services: Services) -> RedirectResponse:
    done = "Order {ref} handed to the courier fleet."
    return _move_order(request, order_id, user, services, orders.hand_to_fallback, done)


@router.post("/{order_id}/returned", response_model=None, dependencies=CSRF_CHECKED)
def returned(request: Request, order_id: UUID, user: OpsUser, services: Services) -> RedirectResponse:
    done = "Order {ref} is back in the store."
    return _move_order(request, order_id, user, services, delivery.mark_returned, done)


def _not_delivered_page(
    request: Request,
    order_id: UUID,
    user: OpsUser,
    services: AppServices,
    problem: FormProblem | None = None,
    reason: str = "",
) -> HTMLResponse:
    try:
        least = Window(limit=1, offset=0)  # the page names the order and its carrier only
        detail = order_detail(services.context, order_id=order_id, history=least, offers=least)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/missing.html", user, nav="orders", problem=readable_problem(error))
    return render(
        request,
        "ops/order_not_delivered.html",
        user,
        nav="orders",
        order=detail.order,
        carrier=detail.carrier,
        picked_up=detail.order.status is OrderStatus.PICKED_UP,
        max_reason_chars=delivery.MAX_NOT_DELIVERED_REASON_CHARS,
        problem=problem,
        reason=reason,
    )


@router.get("/{order_id}/not-delivered", response_class=HTMLResponse)
def ask_not_delivered(request: Request, order_id: UUID, user: OpsUser, services: Services) -> HTMLResponse:
    """A page that asks why first: the order fails for good with the shopper carrying it, and the reason stays
    in its history."""
    return _not_delivered_page(request, order_id, user, services)


@router.post("/{order_id}/not-delivered", response_class=HTMLResponse, response_model=None)
def not_delivered(
    request: Request, order_id: UUID, user: OpsUser, services: Services, form: Form
) -> HTMLResponse | RedirectResponse:
    """Back to the order's page with what happened; a refusal is told beside the reason, as typed."""
    try:
        body = form.model(NotDeliveredIn)
        result = delivery.mark_not_delivered(
            services.context, order_id=order_id, reason=body.reason, actor_id=user.principal.user_id
        )
    except CONSOLE_ERRORS as error:
        problem = readable_problem(error, NOT_DELIVERED_LABELS)
        return _not_delivered_page(request, order_id, user, services, problem, form.get("reason"))
    trip = (
        "the trip that carried it is over"
        if result.trip_completed
        else "the trip that carried it goes on with its other orders"
    )
    return redirect(
        request,
        f"{CONSOLE_PREFIX}/ops/orders/{order_id}",
        flash=f"Order {result.order.external_ref} marked not delivered; {trip}. Take it back into the store to "
        "requeue it, hand it to the courier fleet or cancel it.",
    )
