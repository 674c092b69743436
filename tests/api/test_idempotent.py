"""A POST that creates once per `Idempotency-Key` answers and is described one way on every route: 201 for the
first request, 200 with `Idempotent-Replayed: true` and the same body schema for a retry."""

from __future__ import annotations

import json
from typing import Any

from api.app import create_app
from api.idempotent import created_or_replayed
from api.schemas import Schema
from crowdship.settings import Settings

DOCUMENT: dict[str, Any] = create_app(Settings(environment="test")).openapi()
CREATED_ONCE = {
    ("/ops/orders", "post"),
    ("/finance/batches", "post"),
    ("/finance/orders/{order_id}/reward-reversal", "post"),
    ("/finance/orders/{order_id}/reward", "post"),
    ("/ops/shoppers/{shopper_id}/store-credit-redemptions", "post"),
    ("/policies", "post"),
    ("/ops/stores", "post"),
    ("/shopper/orders/{order_id}/incidents", "post"),
    ("/shopper/profiles", "post"),
    ("/shopper/trips", "post"),
    ("/shopper/profiles/{profile_id}/check-in", "post"),
    ("/ops/incidents/{incident_id}/claims", "post"),
    ("/auth/register", "post"),
}


def _keyed_creations() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        if "201" in operation["responses"]
        and any(parameter["name"] == "Idempotency-Key" for parameter in operation.get("parameters", []))
    }


def test_every_keyed_creation_documents_its_retry_with_the_first_answers_schema() -> None:
    creations = _keyed_creations()
    assert set(creations) == CREATED_ONCE
    for (path, method), operation in creations.items():
        created, retry = operation["responses"]["201"], operation["responses"]["200"]
        schema = created["content"]["application/json"]["schema"]
        assert retry["content"]["application/json"]["schema"] == schema, (method, path)
        assert retry["description"].startswith("A retry: "), (method, path)
        assert {"404", "409", "422"} & set(operation["responses"]), (method, path)


class _Thing(Schema):
    name: str


def test_a_first_request_is_created_and_a_retry_is_marked_replayed() -> None:
    first = created_or_replayed(_Thing(name="a"), replayed=False)
    again = created_or_replayed(_Thing(name="a"), replayed=True)
    assert (first.status_code, "idempotent-replayed" in first.headers) == (201, False)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (200, "true")
    assert json.loads(bytes(first.body)) == json.loads(bytes(again.body)) == {"name": "a"}


def test_a_retry_known_without_a_key_is_200_without_the_replayed_header() -> None:
    """A check-in identical to the open trip: the trip again, but no key was kept, so none is said replayed."""
    again = created_or_replayed(_Thing(name="a"), replayed=True, keyed=False)
    assert (again.status_code, "idempotent-replayed" in again.headers) == (200, False)
