"""An order's history over the API comes a page at a time: its timeline by status changes and its offers, each
with its total, so an order re-offered all day answers as little as any other."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from api_support import Account, assert_problem, ingest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from crowdship.clock import ManualClock
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.history import OrderEvent
from dispatch.model import OrderStatus, Store


def _requeued(db: ConnectionPool, order_id: UUID, clock: ManualClock, times: int) -> None:
    """`times` more status changes, a minute apart (an order put back in the queue again and again)."""
    with PostgresDispatchUnitOfWork(db) as uow:
        for minute in range(1, times + 1):
            at = clock.now() + timedelta(minutes=minute)
            uow.history.add(OrderEvent(order_id, at, OrderStatus.PENDING, f"requeued, time {minute}"))
        uow.commit()


def test_an_orders_history_comes_a_page_of_status_changes_at_a_time_with_the_total(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, db: ConnectionPool
) -> None:
    receipt = ingest(client, ops, store, clock)
    _requeued(db, UUID(receipt["order_id"]), clock, 4)
    url = f"/ops/orders/{receipt['order_id']}/history"

    def notes(params: dict[str, int]) -> tuple[list[str], int, int]:
        body = client.get(url, params=params, headers=ops.headers).json()
        return [entry["detail"] for entry in body["timeline"]], body["history_total"], body["offers_total"]

    first, total, offers = notes({"history_limit": 2})
    assert (first[1:], total, offers) == (["requeued, time 1", "requeued, time 2"], 4, 0)  # after its intake
    assert notes({"history_limit": 2, "history_offset": 2})[0] == ["requeued, time 3", "requeued, time 4"]
    assert notes({"history_limit": 2, "history_offset": 4})[0] == []
    assert len(notes({})[0]) == 5
    assert_problem(client.get(url, params={"history_limit": 0}, headers=ops.headers), 422)
    assert_problem(client.get(url, params={"offers_limit": 10_000}, headers=ops.headers), 422)
    assert client.get(url, params={"offers_limit": 1, "offers_offset": 3}, headers=ops.headers).json()["offers"] == []
