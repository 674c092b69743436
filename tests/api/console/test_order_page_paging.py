"""An order's page pages its history and its offers as the console's other lists: an order re-offered many
times makes pages of twenty, with links to the next, not one page of everything."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from api_support import Account, ingest
from console_support import StaffLogin, add_an_open_trip
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from crowdship.units import Cents
from dispatch.accounts import Role
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.history import OrderEvent
from dispatch.model import Offer, OfferStatus, OrderStatus, Store
from routing.geo import GeoPoint

REOFFERS = 30


def _reoffer_many_times(db: ConnectionPool, store: Store, order_id: UUID, now: datetime) -> None:
    """`REOFFERS` offers to Dee's trip, each expired a minute later, with the order's moves as the service
    records them: offered, then pending again ("offer expired")."""
    trip = add_an_open_trip(db, store, "Dee", GeoPoint(30.55, -84.1), now)
    with PostgresDispatchUnitOfWork(db) as uow:
        for n in range(REOFFERS):
            made = now + timedelta(minutes=10 * (n + 1))
            expired = made + timedelta(minutes=1)
            uow.offers.add(
                Offer(
                    trip_id=trip.id,
                    stops=(order_id,),
                    extra_distance_m=400,
                    extra_duration_s=60,
                    reward_quote_cents=Cents(300 + n),
                    created_at=made,
                    expires_at=expired,
                    status=OfferStatus.EXPIRED,
                    resolved_at=expired,
                )
            )
            uow.history.add(OrderEvent(order_id, made, OrderStatus.OFFERED))
            uow.history.add(OrderEvent(order_id, expired, OrderStatus.PENDING, "offer expired"))
        uow.commit()


def _rows(page: str, table: str) -> list[str]:
    body = re.search(rf'<table class="{table}[^"]*">.*?<tbody>(.*?)</tbody>', page, re.DOTALL)
    assert body is not None, page
    return re.findall(r"<tr>.*?</tr>", body.group(1), re.DOTALL)


def test_an_order_offered_many_times_shows_its_history_and_offers_a_page_at_a_time(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    store: Store,
    clock: ManualClock,
    db: ConnectionPool,
) -> None:
    order = ingest(client, ops, store, clock, ref="WEB-REOFFERED-1")
    sign_in_as(Role.OPS)
    url = f"/console/ops/orders/{order['order_id']}"
    fresh = client.get(url).text
    assert "taken in" in fresh
    assert "Pages of the history" not in fresh  # its intake alone: one page, no "0-0 of 0"
    _reoffer_many_times(db, store, UUID(order["order_id"]), clock.now())

    first = client.get(url).text
    history = _rows(first, "timeline")
    assert len(history) == 21  # its intake (recorded on the order, not as a move), then 20 moves
    assert "taken in" in history[0]
    assert "for $3.00" in history[1]
    assert "offer expired" in history[2]
    offers = _rows(first, "offers")
    assert len(offers) == 20
    assert "$3.00" in offers[0]
    assert "$3.19" in offers[19]
    assert re.search(r'aria-label="Pages of the history">\s*<span>1\u201320 of 60 status changes</span>', first), first
    assert re.search(r'aria-label="Pages of the offers">\s*<span>1\u201320 of 30</span>', first)

    later = client.get(url, params={"history_offset": 40}).text
    history = _rows(later, "timeline")
    assert len(history) == 20
    assert "taken in" not in later
    assert "for $3.20" in history[0]
    assert "offer expired" in history[1]
    assert re.search(r'aria-label="Pages of the history">\s*<span>41\u201360 of 60 status changes</span>', later)
    assert len(_rows(later, "offers")) == 20  # the offers stay on their first page

    last_offers = client.get(url, params={"offers_offset": 20, "history_offset": 40}).text
    offers = _rows(last_offers, "offers")
    assert len(offers) == REOFFERS - 20
    assert "$3.20" in offers[0]
    assert f'href="{url}?offers_offset=0&amp;history_offset=40&amp;offers_limit=20" rel="prev"' in last_offers
