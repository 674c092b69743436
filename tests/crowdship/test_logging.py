"""Logs are structured: in JSON mode each line is one event with its fields, whoever logged it."""

from __future__ import annotations

import json
import logging
import socket
import time

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from crowdship.db import open_pool
from crowdship.logging import EMAIL, Sampled, SampledLibraryWarnings, configure_logging, get_logger, scrub
from crowdship.settings import Settings


def test_json_logs_are_one_parseable_event_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Our own events and standard-library ones (uvicorn, alembic) both come out as JSON with level and time."""
    configure_logging(Settings(_env_file=None, log_format="json", log_level="INFO"))
    try:
        get_logger("tests").info("order ingested", order_ref="WEB-1", bags=2)
        logging.getLogger("some.library").warning("slow query")
        get_logger("tests").debug("not shown at INFO")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    finally:
        configure_logging(Settings(_env_file=None))
    assert [line["event"] for line in lines] == ["order ingested", "slow query"]
    assert lines[0]["order_ref"] == "WEB-1"
    assert lines[0]["bags"] == 2
    assert [line["level"] for line in lines] == ["info", "warning"]
    assert all("timestamp" in line for line in lines)


SIGNING_KEY = "9c4e1f7a2b8d3065e1f4a7c9b2d5e8f0a3c6e9b1d4f7a0c3"


def _explode(password: str, recipient_name: str) -> None:  # noqa: ARG001 - a local a traceback would show
    secret_key = SIGNING_KEY
    raise RuntimeError(f"could not connect with password={password} using {secret_key}")


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_an_exception_is_logged_in_a_few_lines_without_locals_or_secrets(
    capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    """No local variables, no password, no signing key, no recipient's data, whatever the format."""
    configure_logging(Settings(_env_file=None, log_format=log_format, secret_key=SIGNING_KEY))
    try:
        try:
            _explode("hunter2-hunter2", "Jade Moreau")
        except RuntimeError as error:
            get_logger("tests").error(
                "delivery failed",
                exc_info=error,
                password="hunter2-hunter2",
                recipient_name="Jade Moreau",
                dropoff_address="1200 Magnolia Dr",
                user="ana@example.org",
                order_ref="WEB-1",
            )
        logged = capsys.readouterr().err
    finally:
        configure_logging(Settings(_env_file=None))
    for secret in ("hunter2", SIGNING_KEY, "Jade", "Magnolia", "ana@example.org"):
        assert secret not in logged
    assert "WEB-1" in logged
    assert "RuntimeError" in logged
    assert "_explode" in logged
    assert "secret_key" not in logged  # the local variable is not shown
    assert "│" not in logged
    assert len(logged.splitlines()) <= 8


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_database_error_is_logged_without_the_values_it_quotes(
    capsys: pytest.CaptureFixture[str], database_url: str, log_format: str
) -> None:
    """PostgreSQL's message quotes the row it refused (`Failing row contains (...)`) or the key it found taken
    (`Key (...)=(...)`): a recipient's name and address, an e-mail address. The log keeps which constraint of
    which table, and not the values, whether the error is logged itself or as the cause of another."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "CREATE TEMPORARY TABLE parcels (recipient text, address text UNIQUE, bags int CHECK (bags > 0))"
        )
        connection.execute("INSERT INTO parcels VALUES ('Jade Moreau', '1200 Magnolia Dr', 1)")
        with pytest.raises(psycopg.errors.CheckViolation) as refused_row:
            connection.execute("INSERT INTO parcels VALUES ('Jade Moreau', '1200 Magnolia Dr', 0)")
        with pytest.raises(psycopg.errors.UniqueViolation) as taken_key:
            connection.execute("INSERT INTO parcels VALUES ('Ana Kaya', '1200 Magnolia Dr', 2)")
    assert "Magnolia" in str(refused_row.value)
    assert "Magnolia" in str(taken_key.value)
    configure_logging(Settings(_env_file=None, log_format=log_format))
    try:
        get_logger("tests").error("batch failed", exc_info=refused_row.value)
        try:
            raise RuntimeError("order intake failed") from taken_key.value
        except RuntimeError as error:
            get_logger("tests").error("unhandled error", exc_info=error)
        logged = capsys.readouterr().err
    finally:
        configure_logging(Settings(_env_file=None))
    for value in ("Jade", "Magnolia", "Ana Kaya"):
        assert value not in logged
    assert "CheckViolation" in logged
    assert "parcels_bags_check" in logged
    assert "UniqueViolation" in logged
    assert "parcels_address_key" in logged


def test_a_name_searched_for_in_a_logged_request_line_is_scrubbed_and_ids_are_kept() -> None:
    """The access log's request line carries the query: a shopper's name typed into a search never reaches a
    log, while ids and paging stay readable."""
    line = scrub('"GET /console/finance/ledger?shopper=Elif+Kaya&shopper_id=1b2c&limit=20&q=Jo%20Doe HTTP/1.1" 200')
    assert "Elif" not in line
    assert "Jo%20Doe" not in line
    assert "shopper_id=1b2c&limit=20" in line


def test_an_address_is_looked_for_only_where_one_can_start_not_inside_a_run_of_its_characters() -> None:
    """Every access log line is scrubbed on the event loop, and its request line is the client's to write (up to
    64 KiB). Tried at every position of a run of letters, the address pattern read the rest of the run each time:
    a request for `/` and 30 000 letters held every other request for 5.4 s. A match now starts only where the run
    does, and finds the same addresses."""
    assert EMAIL.match("xana@example.org", 1) is None
    assert EMAIL.match("(ana@example.org)", 1) is not None
    line = scrub(f'"GET /{"a" * 60_000}?to=ana.lee+1@mail.example.org HTTP/1.1" 404')
    assert line.endswith(" [...]")
    assert "ana.lee" not in scrub("to=ana.lee+1@mail.example.org; cc: bo@x.io")


def test_a_sampled_event_is_let_through_once_per_interval_with_the_count_it_stands_for() -> None:
    """An outage answered 503 a thousand times a minute logs a line every few seconds, each saying how many it
    stands for; each kind of event is sampled on its own."""
    now = [100.0]
    sampled = Sampled(every_s=5.0, now=lambda: now[0])
    assert sampled.take("OperationalError") == 0
    assert [sampled.take("OperationalError") for _ in range(3)] == [None, None, None]
    assert sampled.take("ConnectionError") == 0  # another kind: its own interval
    now[0] += 5.0
    assert sampled.take("OperationalError") == 3
    assert sampled.take("OperationalError") is None
    now[0] += 60.0
    assert sampled.take("OperationalError") == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_postgresql_away_logs_the_pools_failed_connections_once_every_few_seconds_not_per_attempt(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """psycopg's pool warns of every failed connection attempt, about one a second per process for as long as
    PostgreSQL is away (some 4 000 lines an hour): like the 503s it causes, it is logged once every few
    seconds per kind."""
    configure_logging(Settings(_env_file=None, log_format="json", log_level="INFO"))
    try:
        pool = open_pool(
            f"postgresql://postgres@127.0.0.1:{_closed_port()}/crowdship",
            wait=False,
            timeout_s=0.2,
            connect_timeout_s=1,
            name="away",
        )
        try:
            until = time.monotonic() + 3.0
            while time.monotonic() < until:  # requests keep asking for a connection, as during an outage
                with pytest.raises(PoolTimeout), pool.connection(timeout=0.2):
                    pass
        finally:
            pool.close()
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    finally:
        configure_logging(Settings(_env_file=None))
    failed = [line for line in lines if line["event"].startswith("error connecting in 'away'")]
    assert len(failed) == 1, [line["event"][:80] for line in lines]
    assert failed[0]["level"] == "warning"


def test_a_library_warning_let_through_again_says_how_many_like_it_were_held_back() -> None:
    """Sampled per message template (whatever its arguments): the next one let through carries the count."""
    now = [100.0]
    sampled = SampledLibraryWarnings(every_s=5.0, now=lambda: now[0])

    def record(template: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("psycopg.pool", logging.WARNING, __file__, 1, template, args, None)

    first = record("error connecting in %r: %s", "api", "refused")
    assert sampled.filter(first)
    assert first.getMessage() == "error connecting in 'api': refused"
    assert not any(sampled.filter(record("error connecting in %r: %s", "api", f"try {n}")) for n in range(3))
    assert sampled.filter(record("reconnection attempt in pool %r failed after %s sec", "api", 5.0))
    now[0] += 5.0
    again = record("error connecting in %r: %s", "api", "refused")
    assert sampled.filter(again)
    assert again.getMessage() == "error connecting in 'api': refused (and 3 more like it since the last)"
    error = logging.LogRecord("psycopg.pool", logging.ERROR, __file__, 1, "error connecting in %r: %s", (), None)
    assert sampled.filter(error), "errors are not sampled: only the repeated warnings of an outage"
