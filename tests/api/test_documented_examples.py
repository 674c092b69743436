"""What /docs offers to try runs as written: the sign-up example, its password included, passes the
project's own password rules (a shopper pressing "Try it out" on a fresh service gets an account, not a 422)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def _example(client: TestClient, schema: str) -> dict[str, Any]:
    document = client.get("/openapi.json").json()
    (example,) = document["components"]["schemas"][schema]["examples"]
    assert isinstance(example, dict)
    return example


def test_the_documented_sign_up_registers_and_signs_in(client: TestClient) -> None:
    example = _example(client, "RegisterIn")
    registered = client.post("/auth/register", json=example)
    assert registered.status_code == 201, registered.text
    token = client.post("/auth/token", data={"username": example["email"], "password": example["password"]})
    assert token.status_code == 200, token.text
