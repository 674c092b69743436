"""Helpers of the console's tests: an account that signs in through the form, and signing in (in a browser,
or with a TestClient and the form's CSRF token)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from api_support import ON_THE_WAY
from fastapi.testclient import TestClient
from playwright.sync_api import Page
from psycopg_pool import ConnectionPool

from api.console.session import CSRF_FIELD
from dispatch.accounts import Role
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Order, Shopper, Store, Trip, TrustTier
from routing.geo import GeoPoint
from tests.dispatch.adapters.test_contract import a_trip, an_order

PASSWORD = "console-Test-passphrase-42"


def said(page: str) -> str:
    """What a page (or a part of one) says, as its reader reads it: its text without tags, unescaped, each run of
    spaces one space; a reference kept whole in a box of its own reads as it does without one."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))


@dataclass(frozen=True)
class StaffLogin:
    user_id: UUID
    email: str
    password: str
    role: Role


def sign_in(page: Page, login: StaffLogin) -> None:
    """Through the sign-in form, as a person would (Enter submits)."""
    page.goto("/console/sign-in")
    page.get_by_label("E-mail address").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_load_state()


def form_token(client: TestClient, path: str = "/console/sign-in") -> str:
    """The CSRF token of the form on the page at `path` (the client keeps the CSRF cookie it was sent)."""
    found = re.search(rf'name="{CSRF_FIELD}" value="([0-9a-f]+)"', client.get(path).text)
    assert found, f"the page {path} carries a CSRF token"
    return found.group(1)


def sign_in_client(client: TestClient, login: StaffLogin) -> None:
    """Signs `client` in through the console's form (no browser), keeping the session cookie."""
    answer = client.post(
        "/console/sign-in",
        data={"email": login.email, "password": login.password, "next": "/console", CSRF_FIELD: form_token(client)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def add_waiting_orders(db: ConnectionPool, store: Store, count: int) -> None:
    """`count` pending orders with long references, straight into the database (no intake: many, quickly)."""
    with PostgresDispatchUnitOfWork(db) as uow:
        for index in range(count):
            uow.orders.add(replace(an_order(store, ON_THE_WAY, f"WEB-LONG-REFERENCE-{index:04d}"), id=uuid4()))
        uow.commit()


def add_an_order_for_later(db: ConnectionPool, store: Store, ref: str, now: datetime) -> Order:
    """A pending order whose window opens an hour after `now` (dispatched by two hours), straight into the
    database."""
    order = replace(
        an_order(store, ON_THE_WAY, ref),
        id=uuid4(),
        created_at=now,
        window_earliest=now + timedelta(hours=1),
        window_latest=now + timedelta(hours=3),
        dispatch_deadline=now + timedelta(hours=2),
    )
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.orders.add(order)
        uow.commit()
    return order


def add_an_open_trip(db: ConnectionPool, store: Store, name: str, destination: GeoPoint, now: datetime) -> Trip:
    """A silver shopper living at `destination`, checked in at `now` with room for three bags, leaving in 45
    minutes, straight into the database."""
    shopper = Shopper(display_name=name, trust_tier=TrustTier.SILVER, home_location=destination)
    trip = replace(a_trip(store, shopper, destination), checked_in_at=now, leave_by=now + timedelta(minutes=45))
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.shoppers.add(shopper)
        uow.trips.add(trip)
        uow.commit()
    return trip
