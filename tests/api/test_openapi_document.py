"""The OpenAPI document is complete: every operation is described, every error is a problem document, the
main request bodies carry examples."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from crowdship.settings import Settings
from dispatch.offer_explanation import BATCH_REASON_TEXT

DOCUMENT: dict[str, Any] = create_app(Settings(environment="test")).openapi()
OPERATIONS = [
    (path, method, operation)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
]


@pytest.mark.parametrize(
    ("path", "method", "operation"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS]
)
def test_every_operation_documents_its_errors_as_problems(path: str, method: str, operation: dict[str, Any]) -> None:
    """A summary, a success response, a 500, and only `application/problem+json` for 4xx and 5xx."""
    assert operation.get("summary"), f"{method} {path} has no summary"
    responses = operation["responses"]
    assert any(status.startswith("2") for status in responses)
    assert "500" in responses
    for status, response in responses.items():
        if status[0] in "45":
            assert list(response["content"]) == ["application/problem+json"], (path, status)


def test_the_problem_schema_has_the_rfc_9457_members() -> None:
    problem = DOCUMENT["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem)
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]


@pytest.mark.parametrize("name", ["OrderIn", "TripIn", "DeliveryIn", "RegisterIn"])
def test_main_request_bodies_carry_an_example(name: str) -> None:
    assert DOCUMENT["components"]["schemas"][name]["examples"]


def test_operations_that_need_a_token_say_so() -> None:
    """Shopper and ops operations declare the OAuth2 password bearer scheme."""
    for path, _, operation in OPERATIONS:
        if path.startswith(("/shopper", "/ops")):
            assert operation.get("security"), path


def test_an_orders_unassigned_reason_names_every_code_a_batch_may_give() -> None:
    """The batch's own codes as well as the matcher's (`crowdship match`): it named the matcher's only."""
    described = DOCUMENT["components"]["schemas"]["OrderOut"]["properties"]["unassigned_reason"]["description"]
    assert "crowdship match" in described
    assert [code for code in BATCH_REASON_TEXT if code not in described] == []
