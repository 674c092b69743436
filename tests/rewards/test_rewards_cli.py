"""The rewards CLI publishes policies and reports reconciliation on the configured database."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from typer.testing import CliRunner

from cli.main import app
from crowdship.settings import get_settings
from dispatch.accounts import Role, User
from dispatch.model import OrderStatus
from tests.rewards.conftest import NOW, PLAIN_PARAMETERS, World


@pytest.fixture
def configured(pg_world: World, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Points the CLI's settings at this session's test database."""
    monkeypatch.setenv("CROWDSHIP_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield pg_world
    get_settings.cache_clear()


def _staff(world: World, role: Role) -> UUID:
    user = User(email=f"{role.value}-{uuid4().hex[:6]}@example.org", password_hash="-", role=role, created_at=NOW)
    with world.dispatch() as uow:
        uow.users.add(user)
        uow.commit()
    return user.id


def test_policy_create_proposes_and_another_person_approves(configured: World, tmp_path: Path) -> None:
    """A JSON file becomes version 1, proposed; its author cannot approve it; a finance user can; the list
    shows whole dates and the status. A bad file is refused with the field named, on stderr, exit status 1."""
    ops, finance = _staff(configured, Role.OPS), _staff(configured, Role.FINANCE)
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    runner = CliRunner()
    created = runner.invoke(app, ["rewards", "policy-create", str(good), "--actor", str(ops), "--note", "launch"])
    assert created.exit_code == 0, created.output
    assert "version 1 proposed" in created.output
    own = runner.invoke(app, ["rewards", "policy-approve", "1", "--actor", str(ops)])
    assert own.exit_code == 1
    assert "someone else" in own.stderr
    approved = runner.invoke(app, ["rewards", "policy-approve", "1", "--actor", str(finance)])
    assert approved.exit_code == 0, approved.output
    listed = runner.invoke(app, ["rewards", "policies"])
    assert "launch" in listed.output
    assert "approved" in listed.output
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", listed.output)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(PLAIN_PARAMETERS | {"minimum_cents": -5}))
    refused = runner.invoke(app, ["rewards", "policy-create", str(bad), "--actor", str(ops)])
    assert refused.exit_code == 1
    assert "minimum_cents" in refused.stderr


@pytest.mark.parametrize("who", ["finance", "shopperless-stranger"])
def test_policy_create_checks_the_actors_role_like_the_api(configured: World, tmp_path: Path, who: str) -> None:
    """Only ops and admins propose: a finance user, or an id that is nobody, is refused and nothing is kept."""
    actor = _staff(configured, Role.FINANCE) if who == "finance" else uuid4()
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    refused = CliRunner().invoke(app, ["rewards", "policy-create", str(good), "--actor", str(actor)])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: ")
    with configured.rewards() as uow:
        assert uow.repos.policies.list() == []


def test_reconcile_exits_1_and_names_the_difference(configured: World) -> None:
    """Clean books exit 0; a delivered order nobody rewarded makes it exit 1 and shows up by id."""
    runner = CliRunner()
    assert runner.invoke(app, ["rewards", "reconcile"]).exit_code == 0
    order = configured.order(status=OrderStatus.DELIVERED)
    result = runner.invoke(app, ["rewards", "reconcile"])
    assert result.exit_code == 1
    assert "delivered_without_reward" in result.output
    assert str(order.id) in result.output
