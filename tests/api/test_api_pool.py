"""The API's own PostgreSQL pool: a process frozen inside a transaction (SIGSTOP, a paused VM) does not keep its
row locks, and with them the dispatcher's rounds and other requests on those rows, for as long as it stays frozen."""

from __future__ import annotations

import time

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from crowdship.clock import ManualClock
from crowdship.settings import Settings


def test_a_transaction_of_the_api_left_silent_past_the_request_deadline_is_ended_by_the_server(
    api_settings: Settings, clock: ManualClock
) -> None:
    """Past the deadline the request was answered 503 and nobody waits for what its transaction would commit."""
    settings = api_settings.model_copy(update={"request_deadline_s": 0.3})
    with TestClient(create_app(settings, clock=clock)) as client:
        pool: ConnectionPool = client.app.state.pool  # type: ignore[attr-defined]
        with pool.connection() as connection:
            connection.execute("SELECT 1")
            time.sleep(1.0)  # idle inside the transaction its first statement opened
            with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
                connection.execute("SELECT 1")
