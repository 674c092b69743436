"""The finance pages in a real browser: a finance user prepares a payout batch and holds a line, the same
person's approval is refused with a readable message, a second finance user approves and pays it, the CSV
downloads with the payees' names; the books, rewards in cents, policies side by side and the audit log; an
ops user gets no finance page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2
import pytest
from api_support import Account
from console_support import StaffLogin, sign_in
from playwright.sync_api import Page, expect
from psycopg_pool import ConnectionPool
from rewards_flow import POLICY, credit_without_proof, publish_policy

from api.console.session import CSRF_FIELD
from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store

Screenshot = Callable[[Page, str], Path]
EVENING_PEAK = [10_000] * 17 + [12_000] * 3 + [10_000] * 4


@pytest.fixture
def owed(
    api: httpx2.Client,
    ops: Account,
    approver: Account,
    make_shopper: Callable[..., Account],
    db: ConnectionPool,
    store: Store,
    clock: ManualClock,
) -> tuple[Account, Account]:
    """Two policy versions in force one after the other, and two shoppers owed cash (without position proof,
    so their lines are flagged)."""
    publish_policy(api, ops, approver)
    publish_policy(api, ops, approver, base_cents=300, peak_multiplier_bps=EVENING_PEAK, daily_cap_cents=5_000)
    ana, ben = make_shopper("Ana"), make_shopper("Ben")
    credit_without_proof(db, store, clock, ana)
    credit_without_proof(db, store, clock, ben, bags=3)
    return ana, ben


EN_DASH = "\N{EN DASH}"
NEW_YORK = ZoneInfo("America/New_York")


def _go(page: Page, section: str) -> None:
    """Follows a link of the navigation, as a person would."""
    page.get_by_role("navigation", name="Sections").get_by_role("link", name=section).click()


def _pay_after_saying_yes(page: Page, screenshot: Screenshot) -> None:
    """Paying asks first, on a page of its own whose focused choice pays nothing; a paid batch's page to pay it
    refuses, without a button."""
    page.get_by_role("link", name="Pay batch…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pay the batch for")
    expect(page.get_by_text("1 line paid; 1 held line stays for a later batch")).to_be_visible()
    expect(page.get_by_role("link", name="No, not now")).to_be_focused()
    screenshot(page, "batch-pay-confirm")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("approved")
    page.get_by_role("link", name="Pay batch…").click()
    page.get_by_role("button", name=re.compile(r"^Yes, pay \$[0-9.,]+$")).click()
    expect(page.get_by_role("status")).to_contain_text("The batch is paid")
    batch_page = page.url
    page.goto(f"{batch_page}/pay")
    expect(page.get_by_role("alert")).to_contain_text("The batch is paid: only a batch a second person approved")
    expect(page.get_by_role("button", name=re.compile("^Yes, pay"))).to_have_count(0)
    page.goto(batch_page)


@pytest.mark.usefixtures("owed")
def test_a_batch_is_prepared_held_approved_by_a_second_person_paid_and_exported(
    signed_in: Callable[..., Page], clock: ManualClock, screenshot: Screenshot
) -> None:
    today = clock.now().date().isoformat()
    fiona = signed_in(Role.FINANCE, "fiona")
    _go(fiona, "Payout batches")
    fiona.get_by_label("From").fill(today)
    fiona.get_by_label("To (included)").fill(today)
    screenshot(fiona, "batches-empty")
    fiona.get_by_role("button", name="Prepare batch").click()
    expect(fiona.get_by_role("status")).to_contain_text("The batch is prepared: 2 lines")
    expect(fiona.get_by_role("heading", level=1)).to_contain_text("draft")
    expect(fiona.get_by_role("row").filter(has_text="Ana")).to_contain_text("no position proof")
    batch_url = fiona.url

    fiona.get_by_label("Reason to hold Ben's line").fill("   ")
    fiona.get_by_label("Reason to hold Ben's line").press("Enter")
    expect(fiona.locator("small.error")).to_have_text("say why the line is held")
    fiona.get_by_label("Reason to hold Ben's line").fill("no proof of delivery; asked the store")
    fiona.get_by_label("Reason to hold Ben's line").press("Enter")
    expect(fiona.get_by_role("status")).to_have_text("The line is held: it will not be paid with this batch.")
    expect(fiona.get_by_role("row").filter(has_text="Ben")).to_contain_text("no proof of delivery; asked the store")
    screenshot(fiona, "batch-draft-held")

    expect(fiona.get_by_text("You prepared this batch: a second finance user approves it.")).to_be_visible()
    expect(fiona.get_by_role("button", name="Approve batch")).to_have_count(0)  # the server refuses it too
    expect(fiona.get_by_role("link", name="Export CSV")).to_have_count(0)  # a draft does not go to the bank
    assert fiona.request.get(f"{batch_url}/export").status == 409  # the server refuses it too
    screenshot(fiona, "batch-draft-for-its-preparer")

    gus = signed_in(Role.FINANCE, "gus")
    gus.goto(batch_url)
    gus.get_by_role("button", name="Approve batch").click()
    expect(gus.get_by_role("status")).to_have_text("The batch is approved; it can be paid now.")
    _pay_after_saying_yes(gus, screenshot)
    expect(gus.get_by_role("heading", level=1)).to_contain_text("paid")
    expect(gus.locator("dl.facts")).to_contain_text("by fiona-")  # who prepared it, by e-mail
    expect(gus.locator("dl.facts")).to_contain_text("by you")
    expect(gus.get_by_role("row").filter(has_text="Ana")).to_contain_text("paid with the batch")
    screenshot(gus, "batch-paid")

    with gus.expect_download() as download:
        gus.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert [(row["payee_name"], row["status"]) for row in rows] == [("Ana", "paid")]  # Ben's held line stays out
    gus.goto(batch_url)
    downloads = gus.get_by_role("list", name="Downloads of the bank file").get_by_role("listitem")
    expect(downloads).to_have_count(1)
    expect(downloads).to_contain_text("exported by you at")
    screenshot(gus, "batch-exported")

    gus.goto("/console/finance/batches")
    expect(gus.get_by_role("row").filter(has_text="paid")).to_have_count(1)
    screenshot(gus, "batches-list")


@pytest.mark.usefixtures("owed")
def test_the_preparer_is_not_offered_releasing_a_second_persons_hold_nor_approves_it_away_from_an_old_page(
    signed_in: Callable[..., Page], screenshot: Screenshot
) -> None:
    """Fiona prepares, Gus holds Ben's line: Fiona's page names Gus as the holder and offers her no Release
    button (one sent from a page opened before the hold is refused, and the line stays held). Hal's page warns
    that releasing Gus's hold leaves the approval to someone else; Hal releases it; Gus, approving from the page
    that still shows it held, is refused and shown the batch as it is now."""
    fiona = signed_in(Role.FINANCE, "fiona")
    fiona.goto("/console/finance/batches")
    fiona.get_by_role("button", name="Prepare batch").click()
    batch_url = fiona.url
    hold_url = fiona.get_by_role("row").filter(has_text="Ben").locator("form").get_attribute("action")
    assert hold_url is not None
    csrf = fiona.locator(f"input[name={CSRF_FIELD}]").first.input_value()

    gus = signed_in(Role.FINANCE, "gus")
    gus.goto(batch_url)
    gus.get_by_label("Reason to hold Ben's line").fill("suspicious")
    gus.get_by_label("Reason to hold Ben's line").press("Enter")
    expect(gus.get_by_role("status")).to_have_text("The line is held: it will not be paid with this batch.")
    expect(gus.get_by_role("row").filter(has_text="Ben")).to_contain_text("Held by you: suspicious")

    fiona.goto(batch_url)
    bens_row = fiona.get_by_role("row").filter(has_text="Ben")
    expect(bens_row).to_contain_text(re.compile(r"Held by gus-\d+@example\.org: suspicious"))
    expect(bens_row).to_contain_text("You prepared this batch: another finance user releases this hold.")
    expect(bens_row.get_by_role("button", name=re.compile("^Release"))).to_have_count(0)
    screenshot(fiona, "release-not-offered-to-the-preparer")
    stale = fiona.request.post(hold_url.replace("/hold", "/release"), form={CSRF_FIELD: csrf})
    assert stale.status == 403
    assert "another finance user must release it (four eyes)" in stale.text()
    fiona.reload()
    expect(bens_row).to_contain_text("suspicious")

    hal = signed_in(Role.FINANCE, "hal")
    hal.goto(batch_url)
    expect(hal.get_by_role("row").filter(has_text="Ben")).to_contain_text(
        "Releasing a hold someone else placed leaves the approval of this batch to another finance user."
    )
    screenshot(hal, "release-of-anothers-hold-warns")
    hal.get_by_role("button", name="Release the line of Ben").click()
    expect(hal.get_by_role("status")).to_have_text("The hold is released.")

    gus.get_by_role("button", name="Approve batch").click()  # from the page that still shows Ben's line held
    expect(gus.get_by_role("alert")).to_contain_text("A line was held or released since you opened this page")
    expect(gus.get_by_role("heading", level=1)).to_contain_text("draft")
    expect(gus.get_by_role("row").filter(has_text="Ben")).not_to_contain_text("Held")
    screenshot(gus, "approval-of-an-old-page-refused")
    gus.get_by_role("button", name="Approve batch").click()
    expect(gus.get_by_role("status")).to_have_text("The batch is approved; it can be paid now.")


@pytest.mark.usefixtures("owed")
def test_who_released_a_hold_fiona_placed_is_not_offered_the_approval(
    signed_in: Callable[..., Page], screenshot: Screenshot
) -> None:
    """Fiona prepares and holds Ben's line; Gus releases it, so his page says another finance user approves and
    has no Approve button (the server refuses him too); Hal approves."""
    fiona = signed_in(Role.FINANCE, "fiona")
    fiona.goto("/console/finance/batches")
    fiona.get_by_role("button", name="Prepare batch").click()
    batch_url = fiona.url
    fiona.get_by_label("Reason to hold Ben's line").fill("check ID")
    fiona.get_by_label("Reason to hold Ben's line").press("Enter")
    expect(fiona.get_by_role("status")).to_have_text("The line is held: it will not be paid with this batch.")

    gus = signed_in(Role.FINANCE, "gus")
    gus.goto(batch_url)
    gus.get_by_role("button", name="Release the line of Ben").click()
    expect(gus.get_by_role("status")).to_have_text("The hold is released.")
    expect(gus.get_by_text("You released a hold someone else placed on a line of this batch")).to_be_visible()
    expect(gus.get_by_role("button", name="Approve batch")).to_have_count(0)
    screenshot(gus, "approval-not-offered-to-who-released-a-hold")

    hal = signed_in(Role.FINANCE, "hal")
    hal.goto(batch_url)
    hal.get_by_role("button", name="Approve batch").click()
    expect(hal.get_by_role("status")).to_have_text("The batch is approved; it can be paid now.")


@pytest.mark.usefixtures("owed")
def test_a_batch_prepared_for_exact_instants_shows_them_in_the_viewers_time_zone(
    signed_in: Callable[..., Page],
    api: httpx2.Client,
    make_staff: Callable[[Role], Account],
    clock: ManualClock,
    screenshot: Screenshot,
) -> None:
    """A batch prepared through the API from 09:30 past an hour to this minute is not whole UTC days: the list
    and the batch show its instants in New York time, both to the second, without the whole-days note; the
    title says them in UTC; the list's hidden words for its link give when it was prepared in the viewer's zone
    too."""
    start = (clock.now() - timedelta(days=1)).replace(minute=9, second=30)
    end = clock.now().replace(second=0)  # both are said to the second: one has them
    finance = make_staff(Role.FINANCE)
    prepared = api.post(
        "/finance/batches",
        json={"period_start": start.isoformat(), "period_end": end.isoformat()},
        headers={**finance.headers, "Idempotency-Key": "exact-instants"},
    )
    assert prepared.status_code == 201, prepared.text
    start_ny, end_ny = start.astimezone(NEW_YORK), end.astimezone(NEW_YORK)
    end_shown = end_ny.strftime("%H:%M:%S" if end_ny.date() == start_ny.date() else "%Y-%m-%d %H:%M:%S")
    shown = f"{start_ny:%Y-%m-%d %H:%M:%S} {EN_DASH} {end_shown} {end_ny.tzname()}"
    page = signed_in(Role.FINANCE, timezone_id="America/New_York")

    page.goto("/console/finance/batches")
    row = page.get_by_role("row").filter(has_text="draft")
    expect(row.get_by_role("cell").nth(1)).to_have_text(shown)
    prepared_at = clock.now().astimezone(NEW_YORK)
    expect(
        row.get_by_role("link", name=f"Open batch prepared {prepared_at:%Y-%m-%d %H:%M} {prepared_at.tzname()}")
    ).to_be_visible()
    screenshot(page, "batches-with-exact-instants")

    row.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Payout batch for {shown}")
    expect(page.locator("dl.facts")).to_contain_text(f"{shown} (exact instants, the end excluded)")
    expect(page.locator("dl.facts")).not_to_contain_text("whole UTC days")
    expect(page).to_have_title(
        f"Payout batch for {start:%Y-%m-%d %H:%M:%S} {EN_DASH} {end.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC · Crowdship"
    )
    screenshot(page, "batch-with-exact-instants")


@pytest.mark.usefixtures("owed")
def test_a_hold_carried_over_names_the_batch_by_its_period(
    signed_in: Callable[..., Page], clock: ManualClock, screenshot: Screenshot
) -> None:
    today = clock.now().date().isoformat()
    page = signed_in(Role.FINANCE)
    page.goto("/console/finance/batches")
    page.get_by_label("From").fill(today)
    page.get_by_label("To (included)").fill(today)
    page.get_by_role("button", name="Prepare batch").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Payout batch for {today}")
    page.get_by_label("Reason to hold Ben's line").fill("check the recipient")
    page.get_by_label("Reason to hold Ben's line").press("Enter")
    page.get_by_label("Reason to reject").fill("wrong period")
    page.get_by_role("button", name="Reject batch").click()
    page.goto("/console/finance/batches")
    page.get_by_role("button", name="Prepare batch").click()
    held = page.get_by_role("row").filter(has_text="Ben")
    expect(held).to_contain_text(f"carried over from batch of {today}: check the recipient")
    screenshot(page, "batch-with-carried-hold")


@pytest.mark.usefixtures("owed")
def test_a_draft_batch_is_rejected_with_a_reason(signed_in: Callable[..., Page], screenshot: Screenshot) -> None:
    page = signed_in(Role.FINANCE)
    page.goto("/console/finance/batches")
    page.get_by_role("button", name="Prepare batch").click()
    page.get_by_label("Reason to reject").fill("   ")
    page.get_by_role("button", name="Reject batch").click()
    expect(page.get_by_role("alert")).to_have_text("Reason: say why the batch is rejected.")
    expect(page.locator("#e-reason")).to_have_text("say why the batch is rejected")
    screenshot(page, "reject-without-reason")
    page.get_by_label("Reason to reject").fill("wrong period")
    page.get_by_role("button", name="Reject batch").click()
    expect(page.get_by_role("status")).to_have_text("The batch is rejected: nothing was paid.")
    expect(page.get_by_text("wrong period")).to_be_visible()
    for line in page.locator("tbody tr").all():
        expect(line).to_contain_text("not paid: the batch was rejected")


def test_a_bad_period_is_told_next_to_the_form(signed_in: Callable[..., Page], screenshot: Screenshot) -> None:
    page = signed_in(Role.FINANCE)
    page.goto("/console/finance/batches")
    page.get_by_label("From").fill("2001-01-01")
    page.get_by_label("To (included)").fill("2000-01-01")
    page.get_by_role("button", name="Prepare batch").click()
    expect(page.get_by_role("alert")).to_have_text("To: must be after “From”.")
    expect(page.locator("#e-period_end")).to_have_text("must be after “From”")
    expect(page.get_by_label("From")).to_have_value("2001-01-01")
    screenshot(page, "prepare-refused")


def test_the_books_rewards_policies_and_audit_log(
    signed_in: Callable[..., Page], owed: tuple[Account, Account], screenshot: Screenshot
) -> None:
    ana, _ = owed
    page = signed_in(Role.ADMIN)
    page.goto("/console/finance/batches")
    page.get_by_role("button", name="Prepare batch").click()

    _go(page, "Rewards")
    expect(page.get_by_role("heading", level=1)).to_have_text("Every reward")
    expect(page.get_by_role("link", name="Ben")).to_be_visible()
    expect(page.get_by_role("navigation", name="Pages")).to_contain_text(f"1{EN_DASH}2 of 2")
    screenshot(page, "rewards-every")
    page.goto("/console/finance/batches")
    page.get_by_role("link", name="Open").click()
    page.get_by_role("row").filter(has_text="Ana").get_by_role("link", name="Ledger").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("A shopper's ledger: Ana")
    expect(page.get_by_role("row").filter(has_text="delivery reward")).to_contain_text("reward for order IMPORT-")
    expect(page.get_by_label("Shopper (name or id)")).to_have_value("Ana")  # followed by id, shown by name
    screenshot(page, "ledger")

    page.get_by_role("link", name="Their rewards, explained to the cent →").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rewards of Ana")
    expect(page.get_by_role("cell", name="Base reward")).to_be_visible()
    expect(page.get_by_text("2 bags at $0.25 each")).to_be_visible()
    expect(page.get_by_role("heading", level=2).first).to_contain_text("order IMPORT-")
    screenshot(page, "rewards")

    _go(page, "Reconciliation")
    expect(page.get_by_role("status")).to_contain_text("The books agree.")
    screenshot(page, "reconciliation")

    _go(page, "Policies")
    expect(page.get_by_label("Compare version")).to_have_value("1")
    expect(page.get_by_label("with version")).to_have_value("2")
    expect(page.get_by_text("Base: $2.50 → $3.00")).to_be_visible()
    expect(page.get_by_text("Peak multiplier by local hour at 17:00: x1.00 → x1.20")).to_be_visible()
    screenshot(page, "policies-side-by-side")

    page.goto(f"/console/finance/ledger?shopper_id={ana.shopper_id}&account=store_credit")
    expect(page.get_by_role("cell", name="No entry.")).to_be_visible()
    page.goto("/console/finance/ledger?shopper_id=nobody-by-that-name")
    expect(page.get_by_role("alert")).to_contain_text("No shopper's name starts with “nobody-by-that-name”.")

    page.goto("/console/finance/ledger")  # found by name, as finance knows them: one match is taken
    page.get_by_label("Shopper (name or id)").fill("an")
    page.get_by_label("Shopper (name or id)").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("A shopper's ledger: Ana")
    expect(page.get_by_label("Shopper (name or id)")).to_have_value("an")  # what was typed stays
    page.goto("/console/finance/rewards")
    page.get_by_label("Shopper (name or id)").fill("")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Every reward")


@pytest.mark.usefixtures("owed")
def test_the_audit_log_says_what_happened_in_words(signed_in: Callable[..., Page], screenshot: Screenshot) -> None:
    page = signed_in(Role.FINANCE)
    page.goto("/console/finance/batches")
    page.get_by_role("button", name="Prepare batch").click()
    page.goto("/console/finance/audit")
    prepared = page.get_by_role("row").filter(has_text="Payout batch prepared")
    expect(prepared).to_contain_text("Total: ")
    expect(page.get_by_role("row").filter(has_text="Reward credited").first).to_contain_text("Order IMPORT-")
    expect(page.get_by_role("row").filter(has_text="Reward policy proposed").first).to_contain_text("Parameters")
    assert '{"' not in page.locator("main").inner_text()  # no raw JSON
    screenshot(page, "audit-log")
    page.get_by_label("Subject").select_option(label="Reward policy")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row").filter(has_text="Payout batch")).to_have_count(0)
    page.goto("/console/finance/audit?limit=3")
    expect(page.get_by_role("navigation", name="Pages")).to_contain_text(f"1{EN_DASH}3 of")
    page.get_by_role("link", name="Next →").click()
    expect(page.get_by_role("navigation", name="Pages")).to_contain_text(f"4{EN_DASH}")
    screenshot(page, "audit-log-page-2")


def test_an_unknown_batch_is_a_readable_not_found_page(signed_in: Callable[..., Page]) -> None:
    page = signed_in(Role.FINANCE)
    response = page.goto("/console/finance/batches/00000000-0000-0000-0000-000000000000")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_an_ops_user_gets_no_finance_page_but_the_policies(
    signed_in: Callable[..., Page], screenshot: Screenshot
) -> None:
    """Ops propose and decide reward policies: the Policies page is theirs too (in their own navigation)."""
    page = signed_in(Role.OPS)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Reward policies").click()
    expect(page.get_by_role("heading", name="Reward policy versions")).to_be_visible()
    for path in ("batches", "reconciliation", "ledger", "rewards", "audit"):
        response = page.goto(f"/console/finance/{path}")
        assert response is not None
        assert response.status == 403, path
        expect(page.get_by_role("alert")).to_have_text("This page is for finance or admin; you are signed in as ops.")
    screenshot(page, "ops-refused-finance")


def test_a_proposed_policy_is_approved_from_the_console_by_someone_other_than_its_author(
    signed_in: Callable[..., Page],
    new_page: Callable[..., Page],
    make_login: Callable[..., StaffLogin],
    api: httpx2.Client,
    screenshot: Screenshot,
) -> None:
    author = make_login(Role.OPS, "olga")
    signed = api.post("/auth/token", data={"username": author.email, "password": author.password})
    bearer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    proposed = api.post("/policies", json={"parameters": POLICY, "note": "evening rates"}, headers=bearer)
    assert proposed.status_code == 201, proposed.text
    version = proposed.json()["version"]

    olga = new_page()
    sign_in(olga, author)
    olga.goto("/console/finance/policies")
    expect(olga.get_by_text("You proposed this version: someone else approves or rejects it.")).to_be_visible()
    expect(olga.get_by_role("button", name=f"Approve v{version}")).to_have_count(0)
    screenshot(olga, "policy-for-its-author")
    token = olga.locator(f"input[name={CSRF_FIELD}]").first.get_attribute("value") or ""
    forged = olga.request.post(
        f"/console/finance/policies/{version}/approve", form={CSRF_FIELD: token}, max_redirects=0
    )
    assert forged.status == 303  # refused by the use case, said on the page it returns to
    olga.goto("/console/finance/policies")
    expect(olga.get_by_role("alert")).to_have_text(
        f"You proposed reward policy version {version}; someone else must approve or reject it."
    )

    fiona = signed_in(Role.FINANCE, "fiona")
    fiona.goto("/console/finance/policies")
    screenshot(fiona, "policy-waiting-for-a-decision")
    fiona.get_by_role("button", name=f"Approve v{version}").click()
    expect(fiona.get_by_role("status")).to_have_text(
        f"Version {version} is approved: it prices the offers made from now on."
    )
    expect(fiona.get_by_role("heading", name="Waiting for a decision")).to_have_count(0)
    expect(fiona.get_by_role("row").filter(has_text=f"v{version}").last).to_contain_text("approved")
    assert api.get(f"/policies/{version}", headers=bearer).json()["status"] == "approved"
    screenshot(fiona, "policy-approved")


def test_the_policies_page_marks_the_version_in_force_and_compares_a_proposal_with_it(
    signed_in: Callable[..., Page], api: httpx2.Client, ops: Account, approver: Account, screenshot: Screenshot
) -> None:
    """v1 and v2 in force one after the other, v3 and v4 proposed: v2 is marked in force and both proposals
    compare with it. Once v4 is approved, v3 offers no Approve (it would go back) and says why; a forged
    approval of it is refused, saying which version is in force."""
    publish_policy(api, ops, approver)
    publish_policy(api, ops, approver, base_cents=300)
    for base in (310, 320):
        assert api.post(
            "/policies", json={"parameters": {**POLICY, "base_cents": base}}, headers=ops.headers
        ).is_success
    page = signed_in(Role.FINANCE)
    page.goto("/console/finance/policies")
    expect(page.locator("#in-force")).to_contain_text("In force: v2")
    expect(page.get_by_role("row").filter(has_text="in force")).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text="in force")).to_contain_text("v2")
    expect(page.get_by_role("link", name="Compare with v2, in force")).to_have_count(2)
    page.locator(".decision[data-version='3']").get_by_role("link", name="Compare with v2, in force").click()
    expect(page.get_by_label("Compare version")).to_have_value("2")
    expect(page.get_by_label("with version")).to_have_value("3")
    screenshot(page, "policy-proposal-compared-with-the-one-in-force")

    page.get_by_role("button", name="Approve v4").click()
    expect(page.locator("#in-force")).to_contain_text("In force: v4")
    v3 = page.locator(".decision[data-version='3']")
    expect(v3).to_contain_text("Older than v4, in force: approving it would put an older policy back in force")
    expect(v3.get_by_role("button", name="Approve v3")).to_have_count(0)
    expect(v3.get_by_role("button", name="Reject v3")).to_be_visible()
    screenshot(page, "policy-older-proposal")
    token = page.locator(f"input[name={CSRF_FIELD}]").first.get_attribute("value") or ""
    forged = page.request.post("/console/finance/policies/3/approve", form={CSRF_FIELD: token}, max_redirects=0)
    assert forged.status == 303
    page.goto("/console/finance/policies")
    expect(page.get_by_role("alert")).to_contain_text("version 4 was approved after it was proposed and is in force")
    assert api.get("/policies/3", headers=ops.headers).json()["status"] == "proposed"


def test_rejecting_a_policy_needs_a_reason(
    signed_in: Callable[..., Page], api: httpx2.Client, ops: Account, screenshot: Screenshot
) -> None:
    proposed = api.post("/policies", json={"parameters": POLICY}, headers=ops.headers)
    version = proposed.json()["version"]
    page = signed_in(Role.ADMIN)
    page.goto("/console/finance/policies")
    page.get_by_label(f"Reason to reject v{version}").fill("   ")
    page.get_by_role("button", name=f"Reject v{version}").click()
    expect(page.locator(f"#e-reason-{version}")).to_be_visible()
    screenshot(page, "policy-reject-without-reason")
    page.get_by_label(f"Reason to reject v{version}").fill("the evening peak is too generous")
    page.get_by_role("button", name=f"Reject v{version}").click()
    expect(page.get_by_role("status")).to_have_text(f"Version {version} is rejected: it will never take effect.")
    assert api.get(f"/policies/{version}", headers=ops.headers).json()["status"] == "rejected"


def test_a_link_comparing_a_policy_version_there_is_not_says_so(
    signed_in: Callable[..., Page], api: httpx2.Client, ops: Account, approver: Account, screenshot: Screenshot
) -> None:
    """`?left=99` (hand-edited, or from another database) is not silently swapped for another version: the page
    says there is no v99 and which versions there are, and compares the newest ones."""
    publish_policy(api, ops, approver)
    page = signed_in(Role.FINANCE)
    answer = page.goto("/console/finance/policies?left=99")
    assert answer is not None
    assert answer.status == 422
    expect(page.get_by_role("alert")).to_have_text("There is no policy version “v99”: choose one of v1.")
    expect(page.get_by_label("Compare version")).to_have_value("1")
    screenshot(page, "policy-version-unknown")
