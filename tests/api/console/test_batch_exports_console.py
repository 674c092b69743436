"""The console's batch page over HTTP (no browser): a download of the bank upload is shown on the batch as
"exported by X at T", and the reject form of an exported batch asks for the word that its bank file was
withdrawn, refusing the rejection without it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from api_support import Account
from console_support import StaffLogin, form_token, sign_in_client
from fastapi.testclient import TestClient
from rewards_flow import Owed, prepare_batch

from api.console.session import CSRF_FIELD
from crowdship.clock import ManualClock
from dispatch.accounts import Role


def test_an_exported_batch_shows_who_exported_it_and_is_rejected_only_with_the_bank_file_withdrawn(
    client: TestClient,
    make_login: Callable[..., StaffLogin],
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    owed("Ana")
    batch = prepare_batch(client, finance, clock, "console-export")
    client.post(f"/finance/batches/{batch['id']}/approve", headers=second_finance.headers)
    fiona = make_login(Role.FINANCE, "fiona")
    sign_in_client(client, fiona)
    url = f"/console/finance/batches/{batch['id']}"
    before = client.get(url).text
    assert "exported by" not in before
    assert 'name="bank_file_withdrawn"' not in before  # nothing went to the bank: rejecting needs no more

    assert client.get(f"{url}/export").status_code == 200
    page = client.get(url).text
    assert re.search(r"exported by you at <time datetime=\"[^\"]+\">[^<]+ UTC</time>", page), page
    assert 'name="bank_file_withdrawn" value="yes" required' in page

    form = {CSRF_FIELD: form_token(client, url), "reason": "wrong period"}
    refused = client.post(f"{url}/reject", data=form)
    assert refused.status_code == 409
    assert "This batch was exported for the bank: nothing was rejected." in refused.text
    assert client.get(f"/finance/batches/{batch['id']}", headers=finance.headers).json()["status"] == "approved"

    done = client.post(f"{url}/reject", data={**form, "bank_file_withdrawn": "yes"})
    assert done.status_code == 200
    assert "The batch is rejected: nothing was paid." in done.text
    assert "(after export: the bank file was withdrawn)" in done.text


def test_the_audit_log_says_an_export_by_which_download_of_the_bank_file_it_was_not_by_its_id(
    client: TestClient,
    make_login: Callable[..., StaffLogin],
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """ "Export: 85a8b6be" told finance nothing; a second download of one bank file is what they look for."""
    owed("Ana")
    batch = prepare_batch(client, finance, clock, "console-export-audit")
    client.post(f"/finance/batches/{batch['id']}/approve", headers=second_finance.headers)
    sign_in_client(client, make_login(Role.FINANCE, "fiona"))
    for _ in range(2):
        assert client.get(f"/console/finance/batches/{batch['id']}/export").status_code == 200
        clock.advance(timedelta(minutes=1))
    log = client.get("/console/finance/audit", params={"subject_kind": "payout_batch"}).text
    exported = re.findall(r'<tr>\s*<td class="num">\d+</td>.*?</tr>', log, re.DOTALL)
    exported = [row for row in exported if "exported for the bank" in row]
    assert len(exported) == 2
    assert "Bank file: download 2, downloaded before" in exported[0]  # newest first
    assert "Bank file: first download" in exported[1]
    assert "Export:" not in log


def test_a_batch_downloaded_many_times_lists_its_downloads_a_page_at_a_time_newest_first(
    client: TestClient,
    make_login: Callable[..., StaffLogin],
    finance: Account,
    second_finance: Account,
    clock: ManualClock,
    owed: Callable[..., Owed],
) -> None:
    """Every download of the bank file was listed on the batch's page, however many there were; they come 20 a
    page like the console's other lists, with their own pager (`exports_offset`), the newest first."""
    owed("Ana")
    batch = prepare_batch(client, finance, clock, "console-export-pages")
    client.post(f"/finance/batches/{batch['id']}/approve", headers=second_finance.headers)
    sign_in_client(client, make_login(Role.FINANCE, "fiona"))
    url = f"/console/finance/batches/{batch['id']}"
    first_at = clock.now()
    for _ in range(25):
        assert client.get(f"{url}/export").status_code == 200
        clock.advance(timedelta(seconds=20))  # within the session's lifetime
    last_at = clock.now() - timedelta(seconds=20)

    def shown(page: str) -> list[str]:
        return re.findall(r'exported by you at <time datetime="([^"]+)"', page)

    page = client.get(url).text
    assert len(shown(page)) == 20
    assert shown(page)[0] == last_at.isoformat()  # the newest first
    assert "1\u201320 of 25 downloads" in page
    assert "exports_offset=20" in page
    rest = client.get(url, params={"exports_offset": 20}).text
    assert len(shown(rest)) == 5
    assert shown(rest)[-1] == first_at.isoformat()
    assert "21\u201325 of 25 downloads" in rest
