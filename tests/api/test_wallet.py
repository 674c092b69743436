"""The shopper's wallet over HTTP: balances in cents, rewards with the policy and inputs behind each, the
ledger with running balances; only ever the caller's own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from api_support import Account, assert_problem
from fastapi.testclient import TestClient
from rewards_flow import POLICY, Owed, deliver_through_the_app, publish_policy

from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store
from rewards.policy import PaymentMethod

WALLET_ROUTES = ["/shopper/wallet", "/shopper/wallet/rewards", "/shopper/wallet/ledger"]


def test_a_delivery_shows_in_the_wallet_with_the_policy_and_inputs_it_was_priced_from(
    approver: Account,
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> None:
    """The live flow credits cash: the balance, the reward (version, offer numbers) and the ledger agree."""
    policy = publish_policy(client, ops, approver)
    ana = make_shopper("Ana")
    offer = deliver_through_the_app(client, ops, store, clock, ana, ref="WEB-W1")
    cents = offer["reward_quote_cents"]

    assert client.get("/shopper/wallet", headers=ana.headers).json() == {
        "store_credit_cents": 0,
        "cash_payable_cents": cents,
    }
    history = client.get("/shopper/wallet/rewards", headers=ana.headers).json()
    assert history["total"] == 1
    (reward,) = history["items"]
    assert reward["order_id"] == offer["order_id"]
    assert reward["policy_version"] == policy["version"]
    assert (reward["method"], reward["amount_cents"], reward["cash_value_cents"]) == ("cash", cents, cents)
    assert reward["inputs"]["extra_distance_m"] == offer["extra_distance_m"]
    assert reward["inputs"]["bags"] == 1
    assert reward["inputs"]["trust_tier"] == 2
    assert reward["reversed"] is False
    assert reward["breakdown"][0] == {"kind": "base", "label": "Base reward", "cents": POLICY["base_cents"]}
    assert sum(component["cents"] for component in reward["breakdown"]) == cents

    ledger = client.get("/shopper/wallet/ledger", headers=ana.headers).json()
    assert [(e["account"], e["kind"], e["amount_cents"], e["balance_after_cents"]) for e in ledger["items"]] == [
        ("cash_payable", "delivery_reward", cents, cents)
    ]
    assert ledger["items"][0]["order_id"] == offer["order_id"]


def test_store_credit_carries_its_bonus_and_each_account_keeps_its_own_running_balance(
    client: TestClient, owed: Callable[..., Owed]
) -> None:
    """Rewards in store credit and in cash: two balances, two running balances, filters and pages."""
    ana, first = owed("Ana", method=PaymentMethod.STORE_CREDIT)
    second = owed(shopper=ana, method=PaymentMethod.STORE_CREDIT, bags=3).credit
    cash = owed(shopper=ana).credit
    assert first.amount_cents == (first.cash_value_cents * 12_000 + 5_000) // 10_000

    assert client.get("/shopper/wallet", headers=ana.headers).json() == {
        "store_credit_cents": first.amount_cents + second.amount_cents,
        "cash_payable_cents": cash.amount_cents,
    }
    store_credit = client.get("/shopper/wallet/ledger", params={"account": "store_credit"}, headers=ana.headers).json()
    assert [e["balance_after_cents"] for e in store_credit["items"]] == [
        first.amount_cents + second.amount_cents,
        first.amount_cents,
    ]
    everything = client.get("/shopper/wallet/ledger", headers=ana.headers).json()
    assert everything["total"] == 3
    assert everything["items"][0]["account"] == "cash_payable"
    assert everything["items"][0]["balance_after_cents"] == cash.amount_cents

    page = client.get("/shopper/wallet/rewards", params={"limit": 2, "offset": 2}, headers=ana.headers).json()
    assert (page["total"], len(page["items"]), page["limit"], page["offset"]) == (3, 1, 2, 2)
    methods = [r["method"] for r in client.get("/shopper/wallet/rewards", headers=ana.headers).json()["items"]]
    assert sorted(methods) == ["cash", "store_credit", "store_credit"]


def test_a_shopper_never_sees_another_shoppers_money(
    client: TestClient, make_shopper: Callable[..., Account], owed: Callable[..., Owed]
) -> None:
    """Ben's token shows Ben's empty wallet, never Ana's; the finance ledger of Ana refuses Ben (403)."""
    ana, ben = owed("Ana").shopper, make_shopper("Ben")
    assert client.get("/shopper/wallet", headers=ana.headers).json()["cash_payable_cents"] > 0

    assert client.get("/shopper/wallet", headers=ben.headers).json() == {
        "store_credit_cents": 0,
        "cash_payable_cents": 0,
    }
    assert client.get("/shopper/wallet/rewards", headers=ben.headers).json()["total"] == 0
    assert client.get("/shopper/wallet/ledger", headers=ben.headers).json()["total"] == 0
    assert_problem(client.get(f"/finance/shoppers/{ana.shopper_id}/ledger", headers=ben.headers), 403)
    # A shopper id in the query is not a way in either: it is not a parameter of the route, so it is refused.
    sneaky = client.get("/shopper/wallet/ledger", params={"shopper_id": str(ana.shopper_id)}, headers=ben.headers)
    assert assert_problem(sneaky, 422)["errors"][0]["field"] == "shopper_id"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/shopper/wallet/rewards", {"limit": 0}, "limit"),
        ("/shopper/wallet/ledger", {"offset": -1}, "offset"),
        ("/shopper/wallet/ledger", {"account": "reward_expense"}, "account"),
    ],
    ids=["limit-0", "negative-offset", "company-account"],
)
def test_bad_paging_and_account_are_422_naming_the_field(
    client: TestClient, make_shopper: Callable[..., Account], path: str, params: dict[str, int | str], field: str
) -> None:
    """limit 0, a negative offset, a company account: each named."""
    problem = assert_problem(client.get(path, params=params, headers=make_shopper().headers), 422)
    assert problem["errors"][0]["field"] == field


@pytest.mark.parametrize("path", WALLET_ROUTES)
def test_wallet_routes_refuse_callers_without_a_token(client: TestClient, path: str) -> None:
    """No bearer token: 401."""
    assert_problem(client.get(path), 401)


@pytest.mark.parametrize("path", WALLET_ROUTES)
def test_wallet_routes_refuse_staff(client: TestClient, make_staff: Callable[[Role], Account], path: str) -> None:
    """Ops, finance and admins have no wallet: 403."""
    for role in (Role.OPS, Role.FINANCE, Role.ADMIN):
        assert_problem(client.get(path, headers=make_staff(role).headers), 403)


# --- How the shopper is paid ---------------------------------------------------------------------------------

PAYMENT_METHOD = "/shopper/wallet/payment-method"


def test_the_payment_method_is_cash_until_chosen_and_round_trips(
    client: TestClient, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """GET: cash, never chosen; PUT store credit: kept with the time of choice; GET reads it back."""
    ana = make_shopper("Ana")
    assert client.get(PAYMENT_METHOD, headers=ana.headers).json() == {"method": "cash", "chosen_at": None}

    chosen = client.put(PAYMENT_METHOD, json={"method": "store_credit"}, headers=ana.headers)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["method"] == "store_credit"
    assert datetime.fromisoformat(chosen.json()["chosen_at"]) == clock.now()
    assert client.get(PAYMENT_METHOD, headers=ana.headers).json() == chosen.json()

    clock.advance(timedelta(minutes=5))
    back = client.put(PAYMENT_METHOD, json={"method": "cash"}, headers=ana.headers).json()
    assert back["method"] == "cash"
    assert datetime.fromisoformat(back["chosen_at"]) == clock.now()
    assert client.get(PAYMENT_METHOD, headers=ana.headers).json() == back


def test_a_store_credit_shopper_is_offered_and_credited_store_credit_with_the_bonus(
    approver: Account,
    client: TestClient,
    ops: Account,
    store: Store,
    clock: ManualClock,
    make_shopper: Callable[..., Account],
) -> None:
    """The live flow after choosing store credit: the offer's quote is what lands on the store-credit account,
    the cash value plus the policy's 20 % bonus; nothing on cash payable."""
    publish_policy(client, ops, approver)
    ana = make_shopper("Ana")
    assert client.put(PAYMENT_METHOD, json={"method": "store_credit"}, headers=ana.headers).status_code == 200

    offer = deliver_through_the_app(client, ops, store, clock, ana, ref="WEB-SC1")
    cents = offer["reward_quote_cents"]

    assert client.get("/shopper/wallet", headers=ana.headers).json() == {
        "store_credit_cents": cents,
        "cash_payable_cents": 0,
    }
    (reward,) = client.get("/shopper/wallet/rewards", headers=ana.headers).json()["items"]
    assert (reward["method"], reward["amount_cents"]) == ("store_credit", cents)
    assert reward["inputs"]["method"] == "store_credit"
    bonus = POLICY["store_credit_bonus_bps"]
    assert cents == (reward["cash_value_cents"] * bonus + 5_000) // 10_000
    assert cents > reward["cash_value_cents"]


def test_two_shoppers_choices_stay_their_own(client: TestClient, make_shopper: Callable[..., Account]) -> None:
    """There is no shopper id in the route: Ana's choice is Ana's, Ben's PUT changes only Ben's, and a
    shopper id slipped into the query or the body is not a way to reach someone else's."""
    ana, ben = make_shopper("Ana"), make_shopper("Ben")
    client.put(PAYMENT_METHOD, json={"method": "store_credit"}, headers=ana.headers)
    assert client.get(PAYMENT_METHOD, headers=ben.headers).json()["method"] == "cash"

    sneaky = client.put(
        PAYMENT_METHOD,
        params={"shopper_id": str(ana.shopper_id)},
        json={"method": "cash"},
        headers=ben.headers,
    )
    assert assert_problem(sneaky, 422)["errors"][0]["field"] == "shopper_id"
    in_body = client.put(
        PAYMENT_METHOD, json={"method": "cash", "shopper_id": str(ana.shopper_id)}, headers=ben.headers
    )
    assert assert_problem(in_body, 422)["errors"][0]["field"] == "shopper_id"

    assert client.get(PAYMENT_METHOD, headers=ana.headers).json()["method"] == "store_credit"
    assert client.get(PAYMENT_METHOD, headers=ben.headers).json()["method"] == "cash"


@pytest.mark.parametrize("body", [{"method": "bitcoin"}, {"method": None}, {}, {"method": "CASH"}])
def test_a_bad_payment_method_is_422_naming_the_field(
    client: TestClient, make_shopper: Callable[..., Account], body: dict[str, object]
) -> None:
    """Only `cash` and `store_credit`: anything else (or nothing) names `method` and changes nothing."""
    ana = make_shopper("Ana")
    client.put(PAYMENT_METHOD, json={"method": "store_credit"}, headers=ana.headers)
    problem = assert_problem(client.put(PAYMENT_METHOD, json=body, headers=ana.headers), 422)
    assert problem["errors"][0]["field"] == "method"
    assert client.get(PAYMENT_METHOD, headers=ana.headers).json()["method"] == "store_credit"


def test_the_payment_method_refuses_callers_without_a_token(client: TestClient) -> None:
    """No bearer token: 401, reading or choosing."""
    assert_problem(client.get(PAYMENT_METHOD), 401)
    assert_problem(client.put(PAYMENT_METHOD, json={"method": "cash"}), 401)


def test_the_payment_method_refuses_staff(client: TestClient, make_staff: Callable[[Role], Account]) -> None:
    """Ops, finance and admins are not paid for deliveries: 403, reading or choosing."""
    for role in (Role.OPS, Role.FINANCE, Role.ADMIN):
        headers = make_staff(role).headers
        assert_problem(client.get(PAYMENT_METHOD, headers=headers), 403)
        assert_problem(client.put(PAYMENT_METHOD, json={"method": "store_credit"}, headers=headers), 403)
