"""Who may call what: authentication, roles, and that a shopper never reaches another shopper's things."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from api_support import ON_THE_WAY, Account, assert_problem, check_in, current_offer, ingest, run_batch
from fastapi.testclient import TestClient

from crowdship.clock import ManualClock
from dispatch.accounts import Role
from dispatch.model import Store

SHOPPER_ROUTES = [
    ("GET", "/shopper/profile"),
    ("GET", "/shopper/wallet"),
    ("POST", "/shopper/trips"),
    ("GET", "/shopper/trips"),
    ("GET", "/shopper/trips/current"),
    ("POST", "/shopper/location"),
    ("GET", "/shopper/offers/current"),
    ("GET", "/shopper/events"),
]
OPS_ROUTES = [
    ("POST", "/ops/orders"),
    ("GET", "/ops/orders"),
    ("GET", "/ops/trips"),
    ("GET", "/ops/offers"),
    ("GET", "/ops/stores"),
    ("POST", "/ops/stores/00000000-0000-4000-8000-000000000000/batches"),
    ("POST", "/ops/shoppers/00000000-0000-4000-8000-000000000000/verification"),
]


@pytest.mark.parametrize(("method", "path"), [*SHOPPER_ROUTES, *OPS_ROUTES, ("GET", "/auth/me")])
def test_routes_refuse_callers_without_a_token(client: TestClient, method: str, path: str) -> None:
    """No bearer token: 401 problem with a WWW-Authenticate challenge."""
    response = client.request(method, path)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_tampered_or_expired_token_is_refused(
    client: TestClient, make_shopper: Callable[..., Account], clock: ManualClock
) -> None:
    """A token with a changed signature, or past its expiry, is not accepted."""
    shopper = make_shopper()
    token = shopper.headers["Authorization"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert_problem(client.get("/shopper/profile", headers={"Authorization": tampered}), 401)
    assert client.get("/shopper/profile", headers=shopper.headers).status_code == 200
    clock.advance(timedelta(hours=3))
    assert_problem(client.get("/shopper/profile", headers=shopper.headers), 401)


@pytest.mark.parametrize(("method", "path"), OPS_ROUTES)
def test_shoppers_and_finance_cannot_use_operations_routes(
    client: TestClient,
    make_shopper: Callable[..., Account],
    make_staff: Callable[[Role], Account],
    method: str,
    path: str,
) -> None:
    """Operations routes answer 403 to a shopper and to finance."""
    for account in (make_shopper(), make_staff(Role.FINANCE)):
        assert_problem(client.request(method, path, headers=account.headers), 403)


@pytest.mark.parametrize(("method", "path"), SHOPPER_ROUTES)
def test_staff_cannot_use_shopper_routes(
    client: TestClient, make_staff: Callable[[Role], Account], method: str, path: str
) -> None:
    """Shopper routes answer 403 to operations and admins: they have no shopper profile."""
    for role in (Role.OPS, Role.ADMIN):
        assert_problem(client.request(method, path, headers=make_staff(role).headers), 403)


def test_admin_may_use_operations_routes(client: TestClient, make_staff: Callable[[Role], Account]) -> None:
    """Admins have every operations right."""
    assert client.get("/ops/stores", headers=make_staff(Role.ADMIN).headers).status_code == 200


def test_another_shopper_can_neither_see_nor_act_on_a_shoppers_trip_offer_or_order(
    client: TestClient, ops: Account, store: Store, clock: ManualClock, make_shopper: Callable[..., Account]
) -> None:
    """Every shopper route with an id answers 404 to a second shopper, and changes nothing."""
    receipt = ingest(client, ops, store, clock)
    ana, ben = make_shopper("Ana"), make_shopper("Ben")
    trip = check_in(client, ana, store, clock)
    run_batch(client, ops, store)
    offer = current_offer(client, ana)
    order_id = receipt["order_id"]

    assert_problem(client.get(f"/shopper/offers/{offer['id']}", headers=ben.headers), 404)
    assert_problem(client.post(f"/shopper/offers/{offer['id']}/decline", headers=ben.headers), 404)
    assert_problem(client.post(f"/shopper/offers/{offer['id']}/accept", headers=ben.headers), 404)
    assert_problem(client.get("/shopper/offers/current", headers=ben.headers), 404)

    accepted = client.post(f"/shopper/offers/{offer['id']}/accept", headers=ana.headers)
    assert accepted.status_code == 200
    assert_problem(
        client.post(
            f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=ben.headers
        ),
        404,
    )
    assert_problem(client.post(f"/shopper/trips/{trip['id']}/cancel", headers=ben.headers), 404)
    assert_problem(
        client.post(
            f"/shopper/orders/{order_id}/incidents", json={"kind": "damage", "description": "x"}, headers=ben.headers
        ),
        404,
    )
    picked = client.post(
        f"/shopper/trips/{trip['id']}/pickup", json={"bag_codes": [receipt["bag_code"]]}, headers=ana.headers
    )
    assert picked.status_code == 200
    proof = {"position": {"lat": ON_THE_WAY.lat, "lon": ON_THE_WAY.lon}, "code": receipt["delivery_code"]}
    assert_problem(client.post(f"/shopper/orders/{order_id}/delivery", json=proof, headers=ben.headers), 404)

    ben_history = client.get("/shopper/trips", headers=ben.headers).json()
    assert ben_history["total"] == 0
    assert "Magnolia" not in client.get("/shopper/trips", headers=ben.headers).text
    assert client.get("/ops/orders/" + order_id, headers=ops.headers).json()["status"] == "picked_up"
    assert client.post(f"/shopper/orders/{order_id}/delivery", json=proof, headers=ana.headers).status_code == 200


def test_a_shopper_registers_signs_in_and_sees_only_themselves(client: TestClient) -> None:
    """Register, sign in with the OAuth2 password flow, read /auth/me; wrong passwords fail, and a reused e-mail
    is answered alike (201) but registers nothing: its password does not sign in."""
    registered = client.post(
        "/auth/register",
        json={"email": "Ana@Example.org", "password": "correct horse battery", "display_name": "Ana"},
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["role"] == "shopper"
    assert registered.json()["email"] == "ana@example.org"
    reused = client.post(
        "/auth/register", json={"email": "ana@example.org", "password": "another long one", "display_name": "A"}
    )
    assert reused.status_code == 201, reused.text
    assert reused.json()["id"] != registered.json()["id"]
    for wrong_password in ("wrong password!", "another long one"):
        wrong = client.post("/auth/token", data={"username": "ana@example.org", "password": wrong_password})
        assert_problem(wrong, 401)
    token = client.post("/auth/token", data={"username": "ana@example.org", "password": "correct horse battery"})
    assert token.status_code == 200, token.text
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["id"] == registered.json()["id"]
    assert me.json()["shopper_id"] == registered.json()["shopper_id"]


def test_an_e_mail_spelled_with_full_width_or_decomposed_letters_is_the_same_account(client: TestClient) -> None:
    """ana@example.org in full-width letters reads as ana@example.org (and a decomposed é as the composed one): it
    registers nothing new (answered as a new account would be), signs in to that account, and counts against that
    account's lockout, not a fresh one."""
    password = "correct horse battery"
    for email in ("ana@example.org", "jos\u00e9@example.org"):
        assert (
            client.post(
                "/auth/register", json={"email": email, "password": password, "display_name": "Ana"}
            ).status_code
            == 201
        )
    for look_alike in ("\uff41\uff4e\uff41@example.org", "ANA@\uff25xample.org", "jose\u0301@example.org"):
        again = client.post(
            "/auth/register", json={"email": look_alike, "password": "another long one", "display_name": "A"}
        )
        assert again.status_code == 201, again.text
        assert_problem(client.post("/auth/token", data={"username": look_alike, "password": "another long one"}), 401)
        token = client.post("/auth/token", data={"username": look_alike, "password": password})
        assert token.status_code == 200, look_alike
    variants = ["\uff41na@example.org", "a\uff4ea@example.org", "an\uff41@example.org", "\uff21na@example.org"]
    for variant in [*variants, "ana@example.org"]:
        assert_problem(client.post("/auth/token", data={"username": variant, "password": "wrong password!"}), 401)
    locked = client.post("/auth/token", data={"username": "\uff41\uff4e\uff41@example.org", "password": password})
    assert_problem(locked, 429)


def test_operations_verify_a_shopper_and_set_the_trust_tier(
    client: TestClient, ops: Account, make_shopper: Callable[..., Account]
) -> None:
    """Ops record an identity check and a tier; the shopper sees it on their profile."""
    from dispatch.model import TrustTier

    shopper = make_shopper(tier=TrustTier.NEW, verified=False)
    response = client.post(
        f"/ops/shoppers/{shopper.shopper_id}/verification",
        json={"identity_verified": True, "trust_tier": 2},
        headers=ops.headers,
    )
    assert response.status_code == 200, response.text
    profile = client.get("/shopper/profile", headers=shopper.headers).json()
    assert profile["identity_verified"] is True
    assert profile["trust_tier"] == 2
    assert_problem(
        client.post(f"/ops/shoppers/{shopper.shopper_id}/verification", json={"trust_tier": 9}, headers=ops.headers),
        422,
    )
