"""The rewards CLI publishes policies and reports reconciliation on the configured database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crowdship.cli import app
from crowdship.settings import get_settings
from dispatch.model import OrderStatus
from tests.rewards.conftest import OPS, PLAIN_PARAMETERS, World


@pytest.fixture
def configured(world: World, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Points the CLI's settings at this session's test database."""
    monkeypatch.setenv("CROWDSHIP_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield world
    get_settings.cache_clear()


@pytest.mark.usefixtures("configured")
def test_policy_create_publishes_a_version_and_policies_lists_it(tmp_path: Path) -> None:
    """A JSON file becomes version 1; a bad one is refused with the field named and exit code 1."""
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    runner = CliRunner()
    created = runner.invoke(app, ["rewards", "policy-create", str(good), "--actor", str(OPS), "--note", "launch"])
    assert created.exit_code == 0, created.output
    assert "version 1 created" in created.output
    listed = runner.invoke(app, ["rewards", "policies"])
    assert "launch" in listed.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(PLAIN_PARAMETERS | {"minimum_cents": -5}))
    refused = runner.invoke(app, ["rewards", "policy-create", str(bad), "--actor", str(OPS)])
    assert refused.exit_code == 1
    assert "minimum_cents" in refused.output


def test_reconcile_exits_1_and_names_the_difference(configured: World) -> None:
    """Clean books exit 0; a delivered order nobody rewarded makes it exit 1 and shows up by id."""
    runner = CliRunner()
    assert runner.invoke(app, ["rewards", "reconcile"]).exit_code == 0
    order = configured.order(status=OrderStatus.DELIVERED)
    result = runner.invoke(app, ["rewards", "reconcile"])
    assert result.exit_code == 1
    assert "delivered_without_reward" in result.output
    assert str(order.id) in result.output
