"""The use cases added for the finance and wallet API: batch preparation once per key, a shopper's ledger
with running balances, their rewards, the audit log and the policy versions, on PostgreSQL and in memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdship.errors import InvalidInput, NotFound
from crowdship.idempotency import IdempotencyKeyReused
from crowdship.units import Cents
from rewards.ledger import AccountKind
from rewards.policy import PaymentMethod
from rewards.policy_versions import RewardPolicy
from rewards.records import NothingToPay
from rewards.services import (
    PreparedBatch,
    audit_log,
    create_reward_policy,
    every_reward,
    hold_payout_line,
    prepare_payout_batch,
    proposed_reward_policies,
    redeem_store_credit,
    reverse_delivery_reward,
    reward_policies,
    reward_policy,
    reward_policy_versions,
    set_payment_preference,
    shopper_ledger,
    shopper_rewards,
)
from rewards.services.policies import earnings_of
from rewards.services.wallet import payment_methods_at
from tests.rewards.conftest import (
    FINANCE_A,
    FINANCE_B,
    NOW,
    OPS,
    PERIOD,
    PLAIN_PARAMETERS,
    World,
    credit,
    inputs,
    publish_policy,
)


def prepare_once(world: World, key: str, *, actor_id: UUID = FINANCE_A, days: int = 7) -> PreparedBatch:
    with world.rewards() as uow:
        return prepare_payout_batch(
            uow,
            period_start=NOW - timedelta(days=days),
            period_end=PERIOD[1],
            actor_id=actor_id,
            now=NOW,
            idempotency_key=key,
        )


@pytest.mark.usefixtures("policy")
def test_a_batch_is_prepared_once_per_key(world: World) -> None:
    """A retry returns the first batch as it is now; the key with another period is refused; another preparer's
    same key is their own (keys are per caller, as the API has them), a new preparation with nobody left to pay."""
    shopper = world.add_shopper()
    credit(world, world.order(proof_by=shopper).id, shopper.id)
    first = prepare_once(world, "prep-1")
    assert not first.replayed
    with world.rewards() as uow:
        line = first.batch.lines[0]
        hold_payout_line(uow, batch_id=first.batch.id, line_id=line.id, reason="check", actor_id=FINANCE_A, now=NOW)
    again = prepare_once(world, "prep-1")
    assert again.replayed
    assert again.batch.id == first.batch.id
    assert again.batch.lines[0].held
    with pytest.raises(IdempotencyKeyReused):
        prepare_once(world, "prep-1", days=30)
    with pytest.raises(NothingToPay):
        prepare_once(world, "prep-1", actor_id=FINANCE_B)


@pytest.mark.usefixtures("policy")
def test_a_refused_preparation_leaves_its_key_free(world: World) -> None:
    """Nothing to pay keeps nothing, not even the key: the same key prepares once there is money to pay."""
    with pytest.raises(NothingToPay):
        prepare_once(world, "early")
    shopper = world.add_shopper()
    credit(world, world.order(proof_by=shopper).id, shopper.id)
    prepared = prepare_once(world, "early")
    assert not prepared.replayed
    assert [line.shopper_id for line in prepared.batch.lines] == [shopper.id]


@pytest.mark.usefixtures("policy")
def test_the_ledger_shows_running_balances_per_account_newest_first(world: World) -> None:
    """Cash and store credit each keep their own running balance; filters and pages keep the total."""
    shopper = world.add_shopper()
    credit(world, world.order(proof_by=shopper).id, shopper.id)
    credit(world, world.order(proof_by=shopper).id, shopper.id, reward_inputs=inputs(method=PaymentMethod.STORE_CREDIT))
    with world.rewards() as uow:
        redeem_store_credit(uow, shopper_id=shopper.id, amount_cents=Cents(100), now=NOW, idempotency_key="spend")
    with world.rewards() as uow:
        page = shopper_ledger(uow, shopper_id=shopper.id)
        store_credit = shopper_ledger(uow, shopper_id=shopper.id, account=AccountKind.STORE_CREDIT)
        tail = shopper_ledger(uow, shopper_id=shopper.id, limit=2, offset=2)
        beyond = shopper_ledger(uow, shopper_id=shopper.id, limit=2, offset=10)
    assert [(line.account, line.kind.value) for line in page.items] == [
        (AccountKind.STORE_CREDIT, "store_credit_redemption"),
        (AccountKind.STORE_CREDIT, "delivery_reward"),
        (AccountKind.CASH_PAYABLE, "delivery_reward"),
    ]
    spent, earned = store_credit.items
    assert (spent.amount_cents, spent.balance_after_cents) == (-100, earned.amount_cents - 100)
    assert earned.balance_after_cents == earned.amount_cents
    assert page.items[2].balance_after_cents == page.items[2].amount_cents
    assert (page.total, store_credit.total, tail.total, beyond.total) == (3, 2, 3, 3)
    assert [line.entry_id for line in tail.items] == [page.items[2].entry_id]
    assert beyond.items == []


def test_the_ledger_of_an_unknown_shopper_or_a_company_account_is_refused(world: World) -> None:
    """NotFound for a shopper who does not exist; InvalidInput naming `account` or the page bounds."""
    shopper = world.add_shopper()
    with world.rewards() as uow:
        with pytest.raises(NotFound):
            shopper_ledger(uow, shopper_id=uuid4())
        with pytest.raises(InvalidInput) as error:
            shopper_ledger(uow, shopper_id=shopper.id, account=AccountKind.PAYOUTS_CLEARING)
        assert error.value.field == "account"
        with pytest.raises(InvalidInput) as error:
            shopper_rewards(uow, shopper_id=shopper.id, limit=0)
        assert error.value.field == "limit"
        with pytest.raises(InvalidInput) as error:
            audit_log(uow, offset=-1)
        assert error.value.field == "offset"


@pytest.mark.usefixtures("policy")
def test_a_shoppers_rewards_carry_policy_inputs_and_reversal(world: World) -> None:
    """Newest first; each with its policy version and inputs; a reversed one says so; only their own."""
    shopper, other = world.add_shopper(), world.add_shopper()
    first = world.order(proof_by=shopper, at=NOW - timedelta(hours=2))
    second = world.order(proof_by=shopper)
    credit(world, first.id, shopper.id, delivered_at=NOW - timedelta(hours=2))
    credit(world, second.id, shopper.id, reward_inputs=inputs(bags=3))
    credit(world, world.order(proof_by=other).id, other.id)
    with world.rewards() as uow:
        reverse_delivery_reward(uow, order_id=first.id, actor_id=OPS, reason="dispute", now=NOW, idempotency_key="r")
    with world.rewards() as uow:
        page = shopper_rewards(uow, shopper_id=shopper.id)
        second_page = shopper_rewards(uow, shopper_id=shopper.id, limit=1, offset=1)
    assert [(r.record.order_id, r.reversed) for r in page.items] == [(second.id, False), (first.id, True)]
    assert page.items[0].record.inputs == inputs(bags=3)
    assert page.items[0].record.policy_version == 1
    assert page.items[0].method is PaymentMethod.CASH
    assert (second_page.total, [r.record.order_id for r in second_page.items]) == (2, [first.id])


@pytest.mark.usefixtures("policy")
def test_every_reward_is_listed_newest_first_across_shoppers(world: World) -> None:
    """Finance reads every reward, whoever earned it, a page at a time, with the reversed one marked."""
    shopper, other = world.add_shopper(), world.add_shopper()
    oldest = world.order(proof_by=shopper, at=NOW - timedelta(hours=3))
    middle = world.order(proof_by=other, at=NOW - timedelta(hours=1))
    newest = world.order(proof_by=shopper)
    credit(world, oldest.id, shopper.id, delivered_at=NOW - timedelta(hours=3))
    credit(world, middle.id, other.id, delivered_at=NOW - timedelta(hours=1))
    credit(world, newest.id, shopper.id)
    with world.rewards() as uow:
        reverse_delivery_reward(uow, order_id=middle.id, actor_id=OPS, reason="dispute", now=NOW, idempotency_key="v")
    with world.rewards() as uow:
        everything = every_reward(uow)
        page_two = every_reward(uow, limit=2, offset=2)
    assert [(r.record.order_id, r.reversed) for r in everything.items] == [
        (newest.id, False),
        (middle.id, True),
        (oldest.id, False),
    ]
    assert (page_two.total, [r.record.order_id for r in page_two.items]) == (3, [oldest.id])


@pytest.mark.usefixtures("policy")
def test_the_audit_log_pages_newest_first_and_narrows_to_a_subject(world: World) -> None:
    """The batch's own entries by subject; kinds by subject kind; pages keep the total."""
    shopper = world.add_shopper()
    credit(world, world.order(proof_by=shopper).id, shopper.id)
    batch = prepare_once(world, "audit").batch
    with world.rewards() as uow:
        everything = audit_log(uow)
        of_batch = audit_log(uow, subject_kind="payout_batch", subject_id=batch.id)
        policies = audit_log(uow, subject_kind="reward_policy")
        first_page = audit_log(uow, limit=1)
    assert [record.entry.action for record in of_batch.items] == ["batch.prepared"]
    assert [record.entry.action for record in policies.items] == ["policy.approved", "policy.proposed"]
    assert everything.total == first_page.total == len(everything.items) >= 3
    assert [r.sequence for r in everything.items] == sorted((r.sequence for r in everything.items), reverse=True)
    assert first_page.items[0].sequence == everything.items[0].sequence


def test_policy_versions_are_paged_oldest_first_unless_asked(world: World, policy: RewardPolicy) -> None:
    """A page of versions with the total, in either order; every number for choosing; one by number; an
    unknown number is NotFound and a bad window InvalidInput."""
    second = publish_policy(world.rewards(), PLAIN_PARAMETERS, now=NOW - timedelta(days=20))
    third = publish_policy(world.rewards(), PLAIN_PARAMETERS, now=NOW - timedelta(days=10))
    with world.rewards() as uow:
        everything = reward_policies(uow)
        assert ([p.version for p in everything.items], everything.total) == ([1, 2, 3], 3)
        newest = reward_policies(uow, newest_first=True, limit=2, offset=1)
        assert ([p.version for p in newest.items], newest.total) == ([second.version, policy.version], 3)
        assert reward_policy_versions(uow) == [third.version, second.version, policy.version]
        assert reward_policy(uow, version=policy.version) == policy
        with pytest.raises(NotFound):
            reward_policy(uow, version=99)
        with pytest.raises(InvalidInput):
            reward_policies(uow, limit=0)
        assert proposed_reward_policies(uow) == []
    with world.rewards() as uow:
        waiting = [
            create_reward_policy(uow, parameters=PLAIN_PARAMETERS, actor_id=OPS, now=NOW, note=f"draft {n}")
            for n in range(3)
        ]
        uow.commit()
    with world.rewards() as uow:
        assert [p.version for p in proposed_reward_policies(uow, limit=2)] == [w.version for w in waiting[:2]]


@given(movements=st.lists(st.tuples(st.sampled_from(["cash", "credit", "spend"]), st.integers(1, 3)), max_size=8))
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
def test_running_balances_add_up_to_the_balances(
    fresh_world: Callable[[], World], movements: list[tuple[str, int]]
) -> None:
    """For any rewards and spending: each entry's balance is the one before plus its amount, and the newest
    balance of each account is what the wallet shows."""
    world = fresh_world()
    shopper = world.add_shopper()
    for step, (kind, bags) in enumerate(movements):
        if kind == "spend":
            with world.rewards() as uow:
                held = uow.repos.ledger.shopper_accounts(shopper.id)[AccountKind.STORE_CREDIT].held_cents
            if held > 0:
                with world.rewards() as uow:
                    redeem_store_credit(
                        uow,
                        shopper_id=shopper.id,
                        amount_cents=Cents(held // 2 or held),
                        now=NOW,
                        idempotency_key=f"spend-{step}",
                    )
            continue
        method = PaymentMethod.CASH if kind == "cash" else PaymentMethod.STORE_CREDIT
        credit(world, world.order(proof_by=shopper).id, shopper.id, reward_inputs=inputs(bags=bags, method=method))
    with world.rewards() as uow:
        accounts = uow.repos.ledger.shopper_accounts(shopper.id)
        for kind in (AccountKind.CASH_PAYABLE, AccountKind.STORE_CREDIT):
            lines = shopper_ledger(uow, shopper_id=shopper.id, account=kind, limit=1_000).items
            oldest_first = list(reversed(lines))
            running = 0
            for line in oldest_first:
                running += line.amount_cents
                assert line.balance_after_cents == running
            assert running == accounts[kind].held_cents


@pytest.mark.usefixtures("policy")
def test_a_batchs_shoppers_earnings_and_payment_methods_are_read_together(world: World) -> None:
    """One read for many shoppers: who earned today counts it, who earned nothing counts zero; the method in
    force at the instant, cash for one who chose only later or never."""
    earner, idle, later = world.add_shopper(), world.add_shopper(), world.add_shopper()
    credited = credit(world, world.order().id, earner.id)
    with world.rewards() as uow:
        set_payment_preference(uow, shopper_id=earner.id, method=PaymentMethod.STORE_CREDIT, now=NOW, actor_id=None)
    with world.rewards() as uow:
        set_payment_preference(
            uow, shopper_id=later.id, method=PaymentMethod.STORE_CREDIT, now=NOW + timedelta(hours=1), actor_id=None
        )
    with world.rewards() as uow:
        policy = uow.repos.policies.in_force_at(NOW)
        earned = earnings_of(uow.repos, [earner.id, idle.id], NOW + timedelta(minutes=5), policy)
        methods = payment_methods_at(uow.repos, [earner.id, idle.id, later.id], NOW + timedelta(minutes=5))
    assert earned[earner.id].today_cents == earned[earner.id].this_week_cents == credited.cash_value_cents > 0
    assert (earned[idle.id].today_cents, earned[idle.id].this_week_cents) == (0, 0)
    assert methods == {
        earner.id: PaymentMethod.STORE_CREDIT,
        idle.id: PaymentMethod.CASH,
        later.id: PaymentMethod.CASH,
    }
