"""The rewards CLI publishes policies and reports reconciliation on the configured database."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from crowdship.clock import ManualClock
from crowdship.settings import get_settings
from dispatch.accounts import Role, User
from dispatch.adapters.passwords import Argon2Passwords
from dispatch.model import OrderStatus
from rewards.policy_versions import RewardPolicy
from tests.rewards.conftest import NOW, PLAIN_PARAMETERS, World, credit

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def configured(pg_world: World, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Points the CLI's settings at this session's test database."""
    monkeypatch.setenv("CROWDSHIP_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield pg_world
    get_settings.cache_clear()


PASSWORD = "Orbit-Lamp-77-Quince"
PASSWORD_HASH = Argon2Passwords().hash(PASSWORD)


def _staff(world: World, role: Role) -> str:
    """A staff account that signs in with PASSWORD; its e-mail, as the CLI's `--actor` takes it."""
    user = User(
        email=f"{role.value}-{uuid4().hex[:6]}@example.org", password_hash=PASSWORD_HASH, role=role, created_at=NOW
    )
    with world.dispatch() as uow:
        uow.users.add(user)
        uow.commit()
    return user.email


def _as(actor: str, *args: str, password: str = PASSWORD) -> Result:
    """A rewards command run by `actor`, whose password is in CROWDSHIP_ACTOR_PASSWORD (typed at the prompt in
    `test_the_readmes_steps_...`)."""
    return CliRunner().invoke(app, ["rewards", *args, "--actor", actor], env={"CROWDSHIP_ACTOR_PASSWORD": password})


def test_the_readmes_example_policy_is_proposed_as_written(configured: World) -> None:
    """`docs/examples/policy.json`, the file the README's commands use, is a valid policy: peak hours 17-19
    at x1.2, in New York's time zone."""
    example = REPOSITORY_ROOT / "docs" / "examples" / "policy.json"
    created = _as(_staff(configured, Role.OPS), "policy-create", str(example))
    assert created.exit_code == 0, created.output
    with configured.rewards() as uow:
        (policy,) = uow.repos.policies.every_version()
    assert policy.parameters.peak_multiplier_bps[17:20] == (12_000,) * 3
    assert policy.parameters.timezone == "America/New_York"


def test_policy_create_proposes_and_another_person_approves(configured: World, tmp_path: Path) -> None:
    """A JSON file becomes version 1, proposed; its author cannot approve it; a finance user can; the list
    shows whole dates and the status. A bad file is refused with the field named, on stderr, exit status 1."""
    ops, finance = _staff(configured, Role.OPS), _staff(configured, Role.FINANCE)
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    created = _as(ops, "policy-create", str(good), "--note", "launch")
    assert created.exit_code == 0, created.output
    assert "version 1 proposed" in created.output
    assert PASSWORD not in created.output
    own = _as(ops, "policy-approve", "1")
    assert own.exit_code == 1
    assert "someone else" in own.stderr
    approved = _as(finance, "policy-approve", "1")
    assert approved.exit_code == 0, approved.output
    listed = CliRunner().invoke(app, ["rewards", "policies"])
    assert "launch" in listed.output
    assert "approved" in listed.output
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", listed.output)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(PLAIN_PARAMETERS | {"minimum_cents": -5}))
    refused = _as(ops, "policy-create", str(bad))
    assert refused.exit_code == 1
    assert "minimum_cents" in refused.stderr
    missing = _as(ops, "policy-create", str(tmp_path / "missing.json"))
    assert (missing.exit_code, missing.stderr.startswith("error: ")) == (1, True)


def test_proposals_and_decisions_are_stamped_by_the_commands_clock(
    configured: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commands read the time from the project's clock, as the rest of the service does, not the system's."""
    clock = ManualClock(NOW)
    monkeypatch.setattr("cli.rewards.CLOCK", clock)
    ops, finance = _staff(configured, Role.OPS), _staff(configured, Role.FINANCE)
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    assert _as(ops, "policy-create", str(good)).exit_code == 0
    clock.advance(timedelta(minutes=5))
    assert _as(finance, "policy-approve", "1").exit_code == 0
    with configured.rewards() as uow:
        (policy,) = uow.repos.policies.every_version()
    assert policy.decision is not None
    assert (policy.created_at, policy.decision.decided_at) == (NOW, NOW + timedelta(minutes=5))


def test_the_list_marks_the_version_in_force_and_an_older_proposal_is_not_approved(
    configured: World, tmp_path: Path
) -> None:
    """v1, v2 and v3 are proposed; v1 then v3 approved: the list's title and v3's status say v3 is in force;
    approving v2 exits 1 saying v3 is in force and to propose a new version, and v2 stays proposed."""
    ops, finance = _staff(configured, Role.OPS), _staff(configured, Role.FINANCE)
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    for _ in range(3):
        assert _as(ops, "policy-create", str(good)).exit_code == 0
    assert _as(finance, "policy-approve", "1").exit_code == 0
    assert _as(finance, "policy-approve", "3").exit_code == 0
    older = _as(finance, "policy-approve", "2")
    assert older.exit_code == 1
    assert "version 3 was approved after it was proposed and is in force" in " ".join(older.stderr.split())
    listed = CliRunner().invoke(app, ["rewards", "policies"])
    assert "Reward policies: version 3 is in force" in listed.output
    rows = {line.split()[1]: line for line in listed.output.splitlines() if re.match(r"^\W*\d+\s", line)}
    assert "approved, in force" in rows["3"]
    assert "in force" not in rows["1"]
    assert "proposed" in rows["2"]


def test_the_readmes_steps_approve_the_version_policy_create_printed_after_the_demos_own(configured: World) -> None:
    """`version=$(crowdship rewards policy-create ... -q)` then `policy-approve "$version"`, as the README runs
    them, also after `make demo` approved a version 1 of its own: stdout is only the number, the password is
    asked for on stderr."""
    ops, finance = _staff(configured, Role.OPS), _staff(configured, Role.FINANCE)
    example = str(REPOSITORY_ROOT / "docs" / "examples" / "policy.json")
    assert _as(ops, "policy-create", example).exit_code == 0
    assert _as(finance, "policy-approve", "1").exit_code == 0
    created = CliRunner().invoke(
        app, ["rewards", "policy-create", example, "--actor", ops, "-q"], input=f"{PASSWORD}\n"
    )
    assert created.exit_code == 0, created.output
    assert created.stdout.split() == ["2"]  # (the runner echoes the hidden answer's newline; a terminal shows it)
    assert f"Password of {ops}:" in created.stderr  # whose password: the one --actor names
    assert PASSWORD not in created.output
    approved = _as(finance, "policy-approve", created.stdout.strip())
    assert approved.exit_code == 0, approved.output
    assert "reward policy version 2 approved" in approved.stdout


def test_no_password_on_an_input_that_ends_is_a_refusal_naming_where_to_give_it(configured: World) -> None:
    """A script or a job without a terminal (stdin at its end) and no CROWDSHIP_ACTOR_PASSWORD: one error line
    saying how to give the password, not click's bare `Aborted!`; nothing is proposed."""
    ops = _staff(configured, Role.OPS)
    example = str(REPOSITORY_ROOT / "docs" / "examples" / "policy.json")
    result = CliRunner().invoke(app, ["rewards", "policy-create", example, "--actor", ops], input="")
    assert result.exit_code == 1, result.output
    assert "error: password: " in result.stderr
    assert "--password" in result.stderr
    assert "CROWDSHIP_ACTOR_PASSWORD" in result.stderr
    assert "Aborted" not in result.output
    with configured.rewards() as uow:
        assert uow.repos.policies.every_version() == []


def test_a_file_that_is_no_policy_is_refused_naming_it_before_the_password_is_asked(configured: World) -> None:
    """The matcher's example given by mistake: the refusal names the file and the parameter, and comes before
    anyone types a password for nothing."""
    ops = _staff(configured, Role.OPS)
    problem = REPOSITORY_ROOT / "docs" / "examples" / "match-problem.json"
    result = CliRunner().invoke(app, ["rewards", "policy-create", str(problem), "--actor", ops], input="")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {problem}: ")
    assert "is not a policy parameter" in result.stderr
    assert "Password" not in result.stderr


def test_one_person_cannot_act_as_two_without_the_second_ones_password(configured: World, tmp_path: Path) -> None:
    """The actor signs in: knowing another user's e-mail is not enough to approve as them."""
    ops, finance = _staff(configured, Role.OPS), _staff(configured, Role.FINANCE)
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    assert _as(ops, "policy-create", str(good)).exit_code == 0
    posing = _as(finance, "policy-approve", "1", password="not-their-password")
    assert posing.exit_code == 1
    assert "wrong e-mail or password" in posing.stderr
    with configured.rewards() as uow:
        assert [policy.status.value for policy in uow.repos.policies.every_version()] == ["proposed"]


@pytest.mark.parametrize("who", ["finance", "nobody"])
def test_policy_create_checks_the_actors_role_like_the_api(configured: World, tmp_path: Path, who: str) -> None:
    """Only ops and admins propose: a finance user, or an e-mail that is nobody's, is refused, nothing kept."""
    actor = _staff(configured, Role.FINANCE) if who == "finance" else "nobody@example.org"
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    refused = _as(actor, "policy-create", str(good))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: ")
    with configured.rewards() as uow:
        assert uow.repos.policies.every_version() == []


def test_reconcile_exits_1_and_names_the_difference(configured: World) -> None:
    """Clean books exit 0; a delivered order nobody rewarded makes it exit 1 and shows up by id."""
    runner = CliRunner()
    assert runner.invoke(app, ["rewards", "reconcile"]).exit_code == 0
    order = configured.order(status=OrderStatus.DELIVERED)
    result = runner.invoke(app, ["rewards", "reconcile"])
    assert result.exit_code == 1
    assert "delivered_without_reward" in result.output
    assert str(order.id) in result.output


def test_reconcile_lists_the_differences_it_kept_and_counts_the_rest(
    configured: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three unrewarded deliveries with room to list one: one line, and how many more there are."""
    monkeypatch.setattr("rewards.reconciliation.MAX_DISCREPANCIES_KEPT", 1)
    for _ in range(3):
        configured.order(status=OrderStatus.DELIVERED)
    result = CliRunner().invoke(app, ["rewards", "reconcile"])
    assert result.exit_code == 1
    assert result.output.count("delivered_without_reward") == 1
    assert "… and 2 more differences" in result.output


def test_reconcile_counts_one_of_a_kind_in_the_singular(configured: World, pg_policy: RewardPolicy) -> None:
    """One delivery rewarded: '1 reward, 1 transaction', not '1 rewards, 1 transactions'."""
    _ = pg_policy
    shopper = configured.add_shopper()
    credit(configured, configured.order(proof_by=shopper).id, shopper.id)
    result = CliRunner().invoke(app, ["rewards", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "1 transaction, 1 reward, 0 paid lines" in result.output


def test_the_list_of_policies_reads_on_an_80_column_terminal(
    configured: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table (version, status, dates) fits 80 columns with every date whole; each version's note and
    parameters follow on lines of their own, the parameters unbroken JSON as `policy-create` takes it."""
    from cli.output import console

    monkeypatch.setattr(console, "width", 80)
    ops = _staff(configured, Role.OPS)
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    assert _as(ops, "policy-create", str(good), "--note", "launch").exit_code == 0
    listed = CliRunner().invoke(app, ["rewards", "policies"])
    assert listed.exit_code == 0, listed.output
    table, _, after = listed.output.partition(f"version 1, proposed by {ops}: launch\n")
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "version" in table
    assert len(re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", table)) == 1  # proposed, not yet decided
    shown = json.loads(after.splitlines()[0])
    assert {key: shown[key] for key in PLAIN_PARAMETERS} == PLAIN_PARAMETERS


def test_a_note_with_terminal_escapes_is_refused_and_an_old_one_is_printed_escaped(
    configured: World, tmp_path: Path
) -> None:
    """`--note` goes through no API schema: a note that would clear the reader's screen is refused (exit 1,
    `note` named, nothing proposed); one stored before that check is listed with its controls spelled out."""
    from rewards.policy import PolicyParameters
    from rewards.policy_versions import RewardPolicy

    ops = _staff(configured, Role.OPS)
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    refused = _as(ops, "policy-create", str(good), "--note", "clear\x1b[2J\x1b[31mred")
    assert refused.exit_code == 1
    assert "note" in refused.stderr
    with configured.rewards() as uow:
        assert uow.repos.policies.versions() == []
        uow.repos.policies.add(
            RewardPolicy(
                version=1,
                parameters=PolicyParameters.from_json(PLAIN_PARAMETERS),
                created_by=uuid4(),
                created_at=NOW,
                note="old\x1b[2J\u202eevil\nsecond line",
            )
        )
        uow.commit()
    listed = CliRunner().invoke(app, ["rewards", "policies"])
    assert listed.exit_code == 0, listed.output
    assert "\x1b" not in listed.output
    assert "\u202e" not in listed.output
    assert ": old\\x1b[2J\\u202eevil\\nsecond line" in listed.output


def test_the_list_of_policies_names_who_proposed_and_who_decided_each_version(
    configured: World, tmp_path: Path
) -> None:
    """The command's help promises who proposed and who decided each version: their e-mails, on the version's
    line after the table (a proposal not yet decided names its author only)."""
    ops, finance, other = _staff(configured, Role.OPS), _staff(configured, Role.FINANCE), _staff(configured, Role.OPS)
    good = tmp_path / "policy.json"
    good.write_text(json.dumps(PLAIN_PARAMETERS))
    assert _as(ops, "policy-create", str(good), "--note", "launch").exit_code == 0
    assert _as(finance, "policy-approve", "1").exit_code == 0
    assert _as(other, "policy-create", str(good)).exit_code == 0
    listed = CliRunner().invoke(app, ["rewards", "policies"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert f"version 1, proposed by {ops}, approved by {finance}: launch" in lines
    assert f"version 2, proposed by {other}" in lines
