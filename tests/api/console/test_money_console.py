"""The console's money corrections over HTTP (no browser), as rendered HTML: finance reverses a reward from the
Rewards page (a double submission reverses once; a refusal is told next to the form, keeping the reason) and
credits a delivery the reconciliation lists without a reward (the amount shown first); operations take store
credit at the till and record who brought a shopper; each form for its own role only."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from api_support import Account
from console_support import StaffLogin, form_token
from console_support import said as page_says
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from rewards_flow import Owed, deliver_through_the_app, publish_policy

from api.console.session import CSRF_FIELD
from crowdship.clock import ManualClock
from crowdship.units import format_dollars
from dispatch.accounts import Role
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.model import Shopper, Store, TrustTier
from rewards.policy import PaymentMethod


def hidden(page: str, name: str, index: int = 0) -> str:
    found = re.findall(rf'name="{name}" value="([^"]*)"', page)
    assert len(found) > index, f"the page has a hidden {name}"
    return str(found[index])


def test_finance_reverses_a_reward_from_the_rewards_page_once_even_when_the_form_is_sent_twice(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    owed: Callable[..., Owed],
) -> None:
    ana, credit = owed("Ana")
    sign_in_as(Role.FINANCE, "fiona")
    page = client.get(f"/console/finance/rewards?shopper_id={ana.shopper_id}").text
    assert "Reverse this reward" in page
    dollars = format_dollars(credit.amount_cents)
    assert f'Reversing takes <span class="money">{dollars}</span> back from <bdi>Ana</bdi>\'s' in page
    form = {
        CSRF_FIELD: hidden(page, CSRF_FIELD),
        "idempotency_key": hidden(page, "idempotency_key"),
        "back": f"/console/finance/rewards?shopper_id={ana.shopper_id}",
        "reason": "the recipient says nothing came",
    }
    url = f"/console/finance/orders/{credit.order_id}/reward-reversal"

    done = client.post(url, data=form)
    assert done.status_code == 200
    reversed_ = rf"The reward of order IMPORT-\w+ is reversed: \{dollars} taken back\."
    assert re.search(reversed_, page_says(done.text)), done.text
    assert 'class="badge bad">reversed' in done.text
    assert "Reverse this reward" not in done.text
    twice = client.post(url, data=form)
    assert "was already reversed by this form" in twice.text
    assert client.get("/shopper/wallet", headers=ana.headers).json()["cash_payable_cents"] == 0

    another = client.post(url, data={**form, "idempotency_key": "another-form"})
    assert another.status_code == 409
    assert "was already reversed" in another.text
    assert 'role="alert"' in another.text


def test_a_refused_reversal_is_told_on_its_page_keeping_the_reason(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    owed: Callable[..., Owed],
) -> None:
    """A blank reason is asked again; a reward spent at the till is not reversed, and the page says so."""
    ana, credit = owed("Ana", method=PaymentMethod.STORE_CREDIT)
    client.post(
        f"/ops/shoppers/{ana.shopper_id}/store-credit-redemptions",
        json={"amount_cents": credit.amount_cents},
        headers={**ops.headers, "Idempotency-Key": "till-all"},
    )
    sign_in_as(Role.FINANCE, "fiona")
    url = f"/console/finance/orders/{credit.order_id}/reward-reversal"
    page = client.get(url).text
    assert "holds less than that now (paid out or spent): the reversal will be refused" in page
    form = {CSRF_FIELD: hidden(page, CSRF_FIELD), "idempotency_key": hidden(page, "idempotency_key")}

    blank = client.post(url, data={**form, "reason": "   "})
    assert blank.status_code == 422
    assert "Reason: say why the transaction is reversed" in blank.text
    spent = client.post(url, data={**form, "reason": "recipient disputes it"})
    assert spent.status_code == 409
    assert "the shopper no longer holds it (it was spent at the till" in spent.text
    assert 'value="recipient disputes it"' in spent.text
    assert hidden(spent.text, "idempotency_key") == form["idempotency_key"]


def test_finance_credits_a_delivery_the_reconciliation_lists_without_a_reward_after_seeing_the_amount(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    approver: Account,
    make_shopper: Callable[..., Account],
    store: Store,
    clock: ManualClock,
) -> None:
    ana = make_shopper("Ana")
    order_id = deliver_through_the_app(client, ops, store, clock, ana, ref="WEB-NO-POLICY")["order_id"]
    sign_in_as(Role.FINANCE, "fiona")
    report = client.get("/console/finance/reconciliation").text
    assert f'href="/console/finance/orders/{order_id}/reward">Credit this delivery' in report
    url = f"/console/finance/orders/{order_id}/reward"
    assert "No policy version is approved yet" in client.get(url).text

    clock.advance(timedelta(minutes=5))  # approved after the delivery (the session lasts 15 minutes)
    version = publish_policy(client, ops, approver)["version"]
    page = client.get(url, params={"policy_version": version})
    assert page.status_code == 200
    assert "Credit the delivery of order WEB-NO-POLICY" in page_says(page.text)
    amount = re.search(
        r"Credits <span class=\"money\">(\$[0-9.,]+)</span> to <bdi>Ana</bdi>'s cash payable by policy v"
        + str(version),
        page.text,
    )
    assert amount, page.text
    form = {
        CSRF_FIELD: hidden(page.text, CSRF_FIELD),
        "idempotency_key": hidden(page.text, "idempotency_key"),
        "policy_version": str(version),
    }
    done = client.post(url, data=form)
    assert f"The delivery of order WEB-NO-POLICY is credited: {amount.group(1)} by policy v{version}." in done.text
    assert "was already credited by this form" in client.post(url, data=form).text
    again = client.get(url)
    assert again.status_code == 409
    assert "was already rewarded" in again.text
    assert "Credit this delivery" not in client.get("/console/finance/reconciliation").text


def test_operations_take_store_credit_at_the_till_and_record_who_brought_a_shopper(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    make_shopper: Callable[..., Account],
    owed: Callable[..., Owed],
) -> None:
    ana, credit = owed("Ana", method=PaymentMethod.STORE_CREDIT)
    rita = make_shopper("Rita")
    held = credit.amount_cents
    left = format_dollars(held - 250)
    sign_in_as(Role.OPS, "oscar")
    url = f"/console/ops/shoppers/{ana.shopper_id}"
    page = client.get(url).text
    assert f'holds <strong><span class="money">{format_dollars(held)}</span></strong> of store credit' in page
    till = {CSRF_FIELD: hidden(page, CSRF_FIELD), "idempotency_key": hidden(page, "idempotency_key")}

    spent = client.post(f"{url}/store-credit-redemptions", data={**till, "amount": "2.50"})
    assert f"$2.50 of store credit is taken; {left} left." in spent.text
    twice = client.post(f"{url}/store-credit-redemptions", data={**till, "amount": "2.50"})
    assert f"$2.50 of store credit was already taken by this form; {left} left." in twice.text
    fresh = {**till, "idempotency_key": hidden(twice.text, "idempotency_key")}
    beyond = client.post(f"{url}/store-credit-redemptions", data={**fresh, "amount": "100"})
    assert f"The shopper holds {left} of store credit: $100.00 cannot be spent." in beyond.text
    for bad, said in (("0", "Amount: must be more than $0.00"), ("ten", "Amount: must be an amount in dollars")):
        refused = client.post(f"{url}/store-credit-redemptions", data={**fresh, "amount": bad})
        assert said in refused.text, refused.text

    assert "No referrer is recorded for <bdi>Ana</bdi>: a referrer earns a share" in page
    delivered = client.post(f"{url}/referral", data={CSRF_FIELD: till[CSRF_FIELD], "referrer": "rit"})
    assert "Shopper: the shopper already delivered; referrals are for new shoppers." in delivered.text
    nico = f"/console/ops/shoppers/{make_shopper('Nico').shopper_id}"
    recorded = client.post(f"{nico}/referral", data={CSRF_FIELD: till[CSRF_FIELD], "referrer": "rit"})
    assert "Recorded: Rita brought this shopper." in recorded.text
    assert f'Brought by <a href="/console/ops/shoppers/{rita.shopper_id}">Rita</a>' in recorded.text
    assert 'holds <strong><span class="money">$0.00</span></strong> of store credit' in recorded.text
    assert "Take store credit" not in recorded.text
    unknown = client.post(
        f"/console/ops/shoppers/{rita.shopper_id}/referral", data={CSRF_FIELD: till[CSRF_FIELD], "referrer": "Zed"}
    )
    assert "Referred by: no shopper&#39;s name starts with “Zed”." in unknown.text


def test_a_money_form_carrying_a_key_the_console_never_minted_is_refused_on_a_page_and_moves_nothing(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], owed: Callable[..., Owed]
) -> None:
    """The console mints each form's key; one altered on its way (a NUL, a key of the API's full 160 characters,
    which with the console's prefix and the caller's id no longer fits the 200 the ledger keeps) is refused as a
    form the console did not send, in its own words on a page, rather than a JSON problem or a limit of 200
    characters the key did not break."""
    ana, credit = owed("Ana", method=PaymentMethod.STORE_CREDIT)
    sign_in_as(Role.OPS, "oscar")
    url = f"/console/ops/shoppers/{ana.shopper_id}"
    csrf = hidden(client.get(url).text, CSRF_FIELD)
    for altered in ("k\x00", "k" * 160, "key with spaces"):
        refused = client.post(
            f"{url}/store-credit-redemptions", data={CSRF_FIELD: csrf, "idempotency_key": altered, "amount": "1.00"}
        )
        assert refused.status_code == 403, (altered[:8], refused.status_code, refused.text[:200])
        assert refused.headers["content-type"].startswith("text/html")
        assert "was not sent from the console" in refused.text
    assert (
        f'holds <strong><span class="money">{format_dollars(credit.amount_cents)}</span></strong>'
        in client.get(url).text
    )


def test_a_shoppers_name_ending_in_a_full_stop_is_not_followed_by_another(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], db: ConnectionPool
) -> None:
    """Names such as the demo's "Gus G." end in a full stop: a sentence ending on one must not add a second."""
    gus = Shopper(display_name="Gus G.", trust_tier=TrustTier.BRONZE)
    with PostgresDispatchUnitOfWork(db) as uow:
        uow.shoppers.add(gus)
        uow.commit()
    sign_in_as(Role.OPS, "oscar")
    page = client.get(f"/console/ops/shoppers/{gus.id}").text
    assert "Gus G." in page
    assert "Gus G.." not in page


def test_each_money_form_of_the_console_is_for_its_own_role(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    make_shopper: Callable[..., Account],
) -> None:
    ana = make_shopper("Ana")
    order = "00000000-0000-4000-8000-000000000000"
    sign_in_as(Role.OPS)
    for path in (f"/console/finance/orders/{order}/reward-reversal", f"/console/finance/orders/{order}/reward"):
        assert client.get(path).status_code == 403
    sign_in_as(Role.FINANCE)
    token = form_token(client, "/console/finance/rewards")
    refused = client.post(
        f"/console/ops/shoppers/{ana.shopper_id}/store-credit-redemptions",
        data={CSRF_FIELD: token, "amount": "1", "idempotency_key": "k"},
    )
    assert refused.status_code == 403
    assert "This page is for ops or admin" in refused.text
    missing = client.get(f"/console/finance/orders/{order}/reward-reversal")
    assert missing.status_code == 404
    assert "has no reward" in missing.text


def test_the_reconciliation_names_an_order_by_its_reference_not_its_id(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    make_shopper: Callable[..., Account],
    store: Store,
    clock: ManualClock,
) -> None:
    """A delivery without a reward is listed with the order's reference, as a person looks it up."""
    ana = make_shopper("Ana")
    order_id = deliver_through_the_app(client, ops, store, clock, ana, ref="WEB-UNREWARDED")["order_id"]
    sign_in_as(Role.FINANCE, "fiona")
    report = client.get("/console/finance/reconciliation").text
    row = re.search(r"<tr><td><span class=\"badge bad\">delivered without reward</span></td><td>(.*?)</td>", report)
    assert row, report
    assert row.group(1) == "WEB-UNREWARDED"
    assert f'title="{order_id}"' not in report


def test_a_payout_line_names_its_payee_without_their_id_beside(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    ana = owed("Ana").shopper
    sign_in_as(Role.FINANCE, "fiona")
    today = clock.now().date()
    form = {
        CSRF_FIELD: form_token(client, "/console/finance/batches"),
        "idempotency_key": "payee-names",
        "period_start": (today - timedelta(days=1)).isoformat(),
        "period_end": today.isoformat(),
    }
    batch = client.post("/console/finance/batches", data=form)
    assert batch.status_code == 200, batch.text
    assert ana.shopper_id is not None
    lines = batch.text.partition("<h2>Lines</h2>")[2]
    assert re.search(r"<tr class=\"\">\s*<td>Ana</td>", lines), lines
    assert str(ana.shopper_id)[:8] not in lines.partition("</td>")[0]


def test_a_refused_referral_or_till_form_keeps_what_was_typed_with_the_reason_beside_it(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    make_shopper: Callable[..., Account],
    owed: Callable[..., Owed],
) -> None:
    """Not a redirect to an empty form with a message at the top of the page: the shopper's page again (422),
    the field marked and described by its error, holding what the person typed."""
    ana = owed("Ana", method=PaymentMethod.STORE_CREDIT).shopper
    nico = make_shopper("Nico")
    sign_in_as(Role.OPS, "oscar")
    page = client.get(f"/console/ops/shoppers/{ana.shopper_id}").text
    till = {CSRF_FIELD: hidden(page, CSRF_FIELD), "idempotency_key": hidden(page, "idempotency_key")}

    unknown = client.post(
        f"/console/ops/shoppers/{nico.shopper_id}/referral",
        data={CSRF_FIELD: till[CSRF_FIELD], "referrer": "Zed Nobody"},
        follow_redirects=False,
    )
    assert unknown.status_code == 422
    assert re.search(r'<input id="f-referrer" name="referrer" type="text" value="Zed Nobody"', unknown.text)
    assert 'aria-describedby="e-referrer"' in unknown.text
    assert '<small id="e-referrer" class="error">no shopper&#39;s name starts with “Zed Nobody”</small>' in unknown.text
    themselves = client.post(
        f"/console/ops/shoppers/{nico.shopper_id}/referral", data={CSRF_FIELD: till[CSRF_FIELD], "referrer": "Nico"}
    )
    assert themselves.status_code == 422
    assert "Referred by: a shopper cannot refer themselves." in themselves.text  # the field typed in, not "Shopper"
    assert '<small id="e-referrer" class="error">a shopper cannot refer themselves</small>' in themselves.text

    bad = client.post(
        f"/console/ops/shoppers/{ana.shopper_id}/store-credit-redemptions",
        data={**till, "amount": "12.345"},
        follow_redirects=False,
    )
    assert bad.status_code == 422
    assert re.search(r'<input id="f-amount" name="amount" type="text" value="12.345"', bad.text)
    assert '<small id="e-amount" class="error">' in bad.text


def _a_reward_reversed_by_finance(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], owed: Callable[..., Owed]
) -> Account:
    """Ana is owed a reward, which finance (signed in) reverses from her Rewards page: "the recipient says
    nothing came"."""
    ana, credit = owed("Ana")
    sign_in_as(Role.FINANCE, "fiona")
    rewards_page = client.get(f"/console/finance/rewards?shopper_id={ana.shopper_id}").text
    form = {
        CSRF_FIELD: hidden(rewards_page, CSRF_FIELD),
        "idempotency_key": hidden(rewards_page, "idempotency_key"),
        "back": f"/console/finance/rewards?shopper_id={ana.shopper_id}",
        "reason": "the recipient says nothing came",
    }
    assert client.post(f"/console/finance/orders/{credit.order_id}/reward-reversal", data=form).status_code == 200
    return ana


def test_a_reversal_on_a_shoppers_ledger_names_what_it_reverses_not_a_transaction_id(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    owed: Callable[..., Owed],
) -> None:
    """The ledger wrote "reversal of c1397d67: the recipient says nothing came": an id finance cannot look up
    anywhere in the console. It names the posting it reverses instead, by its order's reference."""
    ana = _a_reward_reversed_by_finance(client, sign_in_as, owed)
    ledger = client.get(f"/console/finance/ledger?shopper_id={ana.shopper_id}").text
    reference = re.search(r"reward for order (IMPORT-\w+)", ledger)
    assert reference is not None, "the reward's own line names its order"
    said = re.search(r"<td[^>]*>(reversal of [^<]*)</td>", ledger)
    assert said is not None, "the ledger lists the reversal"
    assert said.group(1) == f"reversal of the reward for order {reference.group(1)}: the recipient says nothing came"
    alone = client.get(f"/console/finance/ledger?shopper_id={ana.shopper_id}&limit=1").text  # the reward on page 2
    said_alone = re.search(r"<td[^>]*>(reversal of [^<]*)</td>", alone)
    assert said_alone is not None
    assert (
        said_alone.group(1)
        == f"reversal of the posting for order {reference.group(1)}: the recipient says nothing came"
    )


def test_the_audit_log_names_a_reversed_posting_by_its_order_not_a_transaction_id(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    owed: Callable[..., Owed],
) -> None:
    """Its subject read "Ledger transaction c1397d67", which finance can look up nowhere in the console."""
    ana = _a_reward_reversed_by_finance(client, sign_in_as, owed)
    reference = re.search(
        r"reward for order (IMPORT-\w+)", client.get(f"/console/finance/ledger?shopper_id={ana.shopper_id}").text
    )
    assert reference is not None
    audit = client.get("/console/finance/audit", params={"subject_kind": "ledger_transaction"}).text
    row = re.search(r"<tr>(?:(?!</tr>).)*Ledger transaction reversed(?:(?!</tr>).)*</tr>", audit, re.DOTALL)
    assert row is not None, "the audit log lists the reversal"
    said = " ".join(re.sub(r"<[^>]+>", " ", row.group(0)).split())  # the words a person reads
    assert f"Reward for order {reference.group(1)} you Reason: the recipient says nothing came" in said
    assert re.search(r"Ledger transaction [0-9a-f]{8}", said) is None


def test_the_rewards_page_says_times_in_minutes_and_every_component_in_dollars_adding_up_to_the_amount(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    owed: Callable[..., Owed],
) -> None:
    """A delivery 240 s out of the way, priced per minute: the page said "Extra time 240 s" (the order page says
    "4 min") and its components as bare integers in a "Cents" column, where the rest of the console says $0.40."""
    ana, credit = owed("Ana")  # 1 500 m and 240 s out of the way
    sign_in_as(Role.FINANCE, "fiona")
    page = client.get(f"/console/finance/rewards?shopper_id={ana.shopper_id}").text
    assert "<dt>Extra time</dt><dd>4 min</dd>" in page
    assert "Extra time: 4 min beyond the 0 min included" in page
    table = re.search(r"<table>(.*?)</table>", page, re.DOTALL)
    assert table is not None
    assert "Cents" not in table.group(1)
    amounts = re.findall(r'<td class="num"><span class="money">(-?)\$([0-9,]+)\.([0-9]{2})</span></td>', table.group(1))
    assert len(amounts) >= 3, table.group(1)
    total = sum(
        (-1 if minus else 1) * (int(dollars.replace(",", "")) * 100 + int(cents)) for minus, dollars, cents in amounts
    )
    assert total == credit.amount_cents
    shown = format_dollars(credit.amount_cents)
    assert f'<th class="num"><span class="money">{shown}</span></th>' in table.group(1)
