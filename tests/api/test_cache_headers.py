"""What caches may keep: nothing the API answers (a recipient's one-time code, a shopper's ledger, a bank file,
a refusal) is stored by a browser or a shared proxy; the console's and the docs' own script and style files may be."""

from __future__ import annotations

from collections.abc import Callable

from api_support import Account, order_body
from fastapi.testclient import TestClient

from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store


def test_an_order_receipt_with_its_delivery_code_is_never_stored_by_a_cache(
    client: TestClient, ops: Account, store: Store, clock: ManualClock
) -> None:
    receipt = client.post(
        "/ops/orders",
        json=order_body(store, clock),
        headers={**ops.headers, "Idempotency-Key": "cache-headers-1"},
    )
    assert receipt.status_code == 201
    assert receipt.headers["Cache-Control"] == "no-store"


def test_personal_answers_and_refusals_are_never_stored_by_a_cache(
    client: TestClient, make_shopper: Callable[..., Account], make_staff: Callable[[Role], Account]
) -> None:
    shopper, finance = make_shopper(), make_staff(Role.FINANCE)
    for path, headers in (
        ("/auth/me", shopper.headers),
        ("/shopper/wallet/ledger", shopper.headers),
        ("/finance/audit", finance.headers),
        ("/ops/orders", shopper.headers),  # a refusal (403)
        ("/ops/orders", {}),  # 401
    ):
        answer = client.get(path, headers=headers)
        assert answer.headers["Cache-Control"] == "no-store", path


def test_a_refused_sign_in_is_never_stored_by_a_cache(client: TestClient) -> None:
    answer = client.post("/auth/token", data={"username": "nobody@example.org", "password": "wrong"})
    assert answer.headers.get_list("Cache-Control") == ["no-store"]


def test_the_consoles_and_the_docs_static_files_may_be_cached(client: TestClient) -> None:
    for path in ("/console/static/console.css", "/static/swagger-ui/swagger-ui.css"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "no-store" not in answer.headers.get("Cache-Control", ""), path
