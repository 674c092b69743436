"""`crowdship users create`: the first operations account, usable to sign in to the API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from api_support import Account
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from typer.testing import CliRunner

from cli.main import app as cli
from crowdship.migrate import head_revisions
from crowdship.settings import Settings, get_settings


@pytest.fixture
def cli_env(api_settings: Settings, db: ConnectionPool, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads its settings from the environment: point them at this session's database."""
    _ = db
    monkeypatch.setenv("CROWDSHIP_DATABASE_URL", api_settings.require_database_url())
    monkeypatch.setenv("CROWDSHIP_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_users_create_makes_an_ops_account_that_can_sign_in(client: TestClient) -> None:
    """Created from the CLI with a prompted password, the account signs in and has the ops role."""
    result = CliRunner().invoke(
        cli,
        ["users", "create", "--email", "Ops@Example.org", "--role", "ops"],
        input="long enough pw\nlong enough pw\n",
    )
    assert result.exit_code == 0, result.output
    assert "created ops user ops@example.org" in result.output
    token = client.post("/auth/token", data={"username": "ops@example.org", "password": "long enough pw"})
    assert token.status_code == 200, token.text
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["role"] == "ops"
    again = CliRunner().invoke(
        cli,
        ["users", "create", "--email", "ops@example.org", "--role", "ops"],
        input="long enough pw\nlong enough pw\n",
    )
    assert again.exit_code == 1
    assert again.stderr.startswith("error: ")
    assert "exists" in again.stderr


@pytest.mark.usefixtures("cli_env")
def test_users_create_refuses_shopper_accounts_and_short_passwords() -> None:
    """Shoppers register in the app (not a choice of --role: a usage error, status 2); a password under 10
    characters is refused like any broken rule (status 1, on stderr)."""
    shopper = CliRunner().invoke(
        cli, ["users", "create", "--email", "a@b.org", "--role", "shopper"], input="x" * 12 + "\n" + "x" * 12 + "\n"
    )
    assert shopper.exit_code == 2
    short = CliRunner().invoke(cli, ["users", "create", "--email", "a@b.org"], input="short\nshort\n")
    assert short.exit_code == 1
    assert "password" in short.stderr


@pytest.mark.usefixtures("cli_env")
def test_users_create_asks_for_the_password_on_stderr_and_only_for_an_address_it_can_take() -> None:
    """`id=$(crowdship users create ...)` captures only the result: the prompts go to stderr. A mistyped or
    taken address is refused before the password is asked for twice (nothing read from stdin)."""
    created = CliRunner().invoke(
        cli, ["users", "create", "--email", "fin@example.org", "--role", "finance"], input="long enough pw\n" * 2
    )
    assert created.exit_code == 0, created.output
    assert created.stdout.strip().startswith("created finance user fin@example.org (")  # the test runner
    assert "Password" in created.stderr  # echoes a hidden answer's newline on its stdout: hence strip()
    for email, why in (("not-an-address", "must be an e-mail address"), ("Fin@Example.org", "exists")):
        refused = CliRunner().invoke(cli, ["users", "create", "--email", email], input="")
        assert refused.exit_code == 1, refused.output
        assert refused.stdout == ""
        assert refused.stderr.startswith("error: ")
        assert why in refused.stderr
        assert "Password" not in refused.stderr


@pytest.mark.usefixtures("cli_env")
def test_the_dispatcher_runs_a_round_over_every_store(
    client: TestClient, api_settings: Settings, monkeypatch: pytest.MonkeyPatch, db: ConnectionPool
) -> None:
    """`crowdship dispatcher --once` batches each store: a pending order and an open trip yield an offer."""
    from datetime import UTC, datetime, timedelta

    from crowdship.units import Cents
    from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
    from dispatch.model import Order, Shopper, Store, Trip, TrustTier
    from routing.areas import circular_area
    from routing.geo import GeoPoint

    _ = client
    monkeypatch.setenv("CROWDSHIP_REDIS_URL", api_settings.require_redis_url())
    get_settings.cache_clear()
    now = datetime.now(UTC)
    at = GeoPoint(30.4627, -84.2211)
    store = Store("CLI store", at, circular_area(at, 12_000), Cents(899))
    shopper = Shopper("Cli", trust_tier=TrustTier.GOLD, identity_verified=True)
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.stores.add(store)
        uow.shoppers.add(shopper)
        uow.trips.add(Trip(shopper.id, store.id, GeoPoint(30.5, -84.2211), 2, now, now + timedelta(hours=1), 3000))
        uow.orders.add(
            Order(
                store.id,
                "CLI-1",
                GeoPoint(30.48, -84.219),
                "1 Main St",
                "Jo Doe",
                now,
                now + timedelta(hours=3),
                now + timedelta(hours=2),
                1,
                Cents(2000),
                now,
            )
        )
        uow.commit()
    result = CliRunner().invoke(cli, ["dispatcher", "--once"])
    assert result.exit_code == 0, result.output
    assert "ran one round" in result.output
    with PostgresDispatchUnitOfWork(db) as uow:
        (order,) = uow.orders.list_for_store(store.id)
    assert order.status == "offered"


@pytest.mark.usefixtures("cli_env")
def test_the_password_prompt_shows_no_empty_default() -> None:
    """The prompt asks `Password:` and `Repeat for confirmation:`, without a stray `[]` default."""
    result = CliRunner().invoke(
        cli, ["users", "create", "--email", "prompt@example.org", "--role", "finance"], input="Orbit-Lamp-77\n" * 2
    )
    assert result.exit_code == 0, result.output
    assert "Password: " in result.output
    assert "[]" not in result.output


@pytest.mark.usefixtures("cli_env")
def test_a_weak_password_is_refused_before_it_is_asked_for_again() -> None:
    """Typing a password twice only to learn it was too short is a wasted step: the rule is checked on the first
    answer, and the second is asked for only when the first passes."""
    short = CliRunner().invoke(cli, ["users", "create", "--email", "weak@example.org"], input="short\n")
    assert short.exit_code == 1, short.output
    assert "at least 10 characters" in short.stderr
    assert "Repeat for confirmation" not in short.stderr
    differ = CliRunner().invoke(
        cli, ["users", "create", "--email", "weak@example.org"], input="Orbit-Lamp-77\nOrbit-Lamp-78\n"
    )
    assert differ.exit_code == 1, differ.output
    assert "error: password: the two answers differ" in differ.stderr
    assert "Repeat for confirmation" in differ.stderr


@pytest.mark.usefixtures("cli_env")
def test_no_password_on_an_input_that_ends_is_a_refusal_naming_the_option() -> None:
    """`crowdship users create` in a script with nothing on stdin: one error line naming --password, not
    click's bare `Aborted!`."""
    result = CliRunner().invoke(cli, ["users", "create", "--email", "script@example.org"], input="")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Password:")
    assert "error: password: " in result.stderr
    assert "--password" in result.stderr
    assert "Aborted" not in result.output


@pytest.mark.usefixtures("cli_env")
def test_users_deactivate_stops_the_accounts_tokens(
    client: TestClient, make_shopper: Callable[..., Account], monkeypatch: pytest.MonkeyPatch, api_settings: Settings
) -> None:
    """The CLI is another process: the API hears of the deactivation through live state and refuses the token."""
    monkeypatch.setenv("CROWDSHIP_REDIS_URL", api_settings.require_redis_url())
    get_settings.cache_clear()
    shopper = make_shopper()
    assert client.get("/shopper/profile", headers=shopper.headers).status_code == 200
    email = client.get("/auth/me", headers=shopper.headers).json()["email"]
    result = CliRunner().invoke(cli, ["users", "deactivate", "--email", email])
    assert result.exit_code == 0, result.output
    deadline = time.monotonic() + 5
    while client.get("/shopper/profile", headers=shopper.headers).status_code != 401:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    unknown = CliRunner().invoke(cli, ["users", "deactivate", "--email", "nobody@example.org"])
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: no account")


NEWEST = max(head_revisions())


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize(
    ("args", "environment", "said"),
    [
        (["db", "migrate", "no-such-revision"], {}, "error: revision: Can't locate revision"),
        (["db", "migrate", "0010_commute_profiles"], {}, f"is older than the database's {NEWEST[:4]}"),
        (["match", "missing.json"], {"CROWDSHIP_OFFER_TTL_S": "abc"}, "error: CROWDSHIP_OFFER_TTL_S: "),
        (["db", "status"], {"CROWDSHIP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "cannot be reached"),
        (["dispatcher", "--once"], {"CROWDSHIP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "error: "),
    ],
)
def test_a_refusal_or_an_unreachable_server_is_one_error_line_and_status_1(
    args: list[str], environment: dict[str, str], said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CROWDSHIP_DB_CONNECT_TIMEOUT_S", "1")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert said in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["api", "--port", "99999"], "--port"),
        (["api", "--port", "0"], "--port"),
        (["dispatcher", "--cadence", "-1"], "--cadence"),
        (["dispatcher", "--cadence", "0"], "--cadence"),
    ],
)
def test_a_port_or_cadence_out_of_range_is_refused_before_anything_starts(args: list[str], option: str) -> None:
    """A port past 65535 would wrap around to another one; a cadence of 0 or less would spin the database."""
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output


@pytest.mark.usefixtures("cli_env")
def test_one_dispatcher_round_also_forgets_idempotency_keys_past_their_retention(db: ConnectionPool) -> None:
    """`crowdship dispatcher --once` (a cron job, say) keeps house as the long-running loop does."""
    with db.connection() as connection:
        for key, age in (("old", timedelta(days=31)), ("young", timedelta(days=1))):
            connection.execute(
                "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ('s', %s, 'h', now() - %s)",
                (key, age),
            )
    result = CliRunner().invoke(cli, ["dispatcher", "--once"])
    assert result.exit_code == 0, result.output
    with db.connection() as connection:
        assert connection.execute("SELECT key FROM idempotency_keys").fetchall() == [("young",)]


def test_a_bad_role_or_a_weak_key_is_told_without_pydantics_value_error_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Options and settings are checked by pydantic, whose "Value error, " before the reason is not for people."""
    role = CliRunner().invoke(cli, ["users", "create", "--email", "a@b.org", "--role", "bogus"])
    assert role.exit_code == 2
    assert "Invalid value for '--role': 'bogus' is not one of" in role.output
    assert "Value error" not in role.output
    monkeypatch.setenv("CROWDSHIP_SECRET_KEY", "short")
    get_settings.cache_clear()
    try:
        weak = CliRunner().invoke(cli, ["api"])
    finally:
        get_settings.cache_clear()
    assert weak.exit_code == 1, weak.output
    assert weak.stderr.startswith("error: CROWDSHIP_SECRET_KEY: the key is shorter than 32 characters")
    assert "Value error" not in weak.output


def test_api_on_a_port_already_in_use_is_one_error_line_and_status_1() -> None:
    """Told before the application is built, not as uvicorn's log line and its status 3, with what to do about it
    (the README's and the demo's commands all say 8000, which may be taken on a shared machine)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["api", "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"error: port {port} is already in use on 127.0.0.1: give another with --port, and use it in the URLs\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["users", "deactivate", "--email", "ops@example.org"],
        ["users", "create", "--email", "ops@example.org", "--password", "Orbit-Lamp-77-Quince"],
        ["rewards", "policies"],
        ["rewards", "reconcile"],
        ["dispatcher", "--once"],
    ],
)
def test_postgresql_away_is_named_by_its_address_within_seconds_and_without_pool_warnings(
    args: list[str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """One line naming the server and where it is (not its password), in a couple of seconds, not ten seconds of
    psycopg_pool's warnings and then an anonymous PoolTimeout."""
    monkeypatch.setenv("CROWDSHIP_DATABASE_URL", "postgresql://nobody:hunter2-secret@127.0.0.1:1/none")
    get_settings.cache_clear()
    started = time.monotonic()
    try:
        result = CliRunner().invoke(cli, args)
    finally:
        get_settings.cache_clear()
    assert time.monotonic() - started < 5
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: PostgreSQL at 127.0.0.1:1 cannot be reached: Connection refused")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "hunter2" not in result.output
    assert not [record for record in caplog.records if record.name.startswith("psycopg")]
