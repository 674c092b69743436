"""`crowdship replay` prints the store's name as it was typed: a name is text, never the terminal's markup."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool
from typer.testing import CliRunner

from cli.main import app
from crowdship.settings import Settings, get_settings
from crowdship.units import Cents
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Store
from routing.areas import circular_area
from routing.geo import GeoPoint

LOCATION = GeoPoint(30.4627, -84.2211)


@pytest.fixture
def cli_env(settings: Settings, db: ConnectionPool, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads its settings from the environment: point them at this session's database."""
    _ = db
    monkeypatch.setenv("CROWDSHIP_DATABASE_URL", settings.require_database_url())
    monkeypatch.setenv("CROWDSHIP_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_a_store_name_with_brackets_is_printed_as_typed_not_read_as_markup(db: ConnectionPool) -> None:
    """Operations name stores in the console or the API; `[/]` in a name made the replay stop with rich's
    MarkupError (a traceback, for one store's name), and `[link=…]` printed a link the name does not show."""
    name = "Evil [/] [link=https://evil.example]Northeast[/link]"
    store = Store(
        name=name, location=LOCATION, service_area=circular_area(LOCATION, 5_000), fallback_cost_cents=Cents(899)
    )
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.commit()
    arguments = ["replay", "--store", str(store.id), "--day", "2026-12-01", "--policy", "docs/examples/policy.json"]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert name in result.output
