"""Logs are structured: in JSON mode each line is one event with its fields, whoever logged it."""

from __future__ import annotations

import json
import logging

import pytest

from crowdship.logging import configure_logging, get_logger
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
