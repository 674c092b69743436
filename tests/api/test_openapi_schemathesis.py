"""Property-based API testing from the OpenAPI document (schemathesis): for generated requests to every
operation, no server error, and every response conforms to the documented status codes, content types and
schemas. A bounded number of examples per operation keeps the run to a minute or two."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from api_support import Account
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from crowdship.settings import Settings
from dispatch.accounts import Role
from dispatch.model import Store

# The document needs no database: build it from an app that is never started. Requests go to a live server
# on the test session's database and Redis. The event stream never ends by design; it is tested on its own.
schema = schemathesis.openapi.from_dict(create_app(Settings(environment="test")).openapi()).exclude(
    path="/shopper/events"
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


ROLE_OF_PREFIX = {"/shopper": Role.SHOPPER, "/finance": Role.FINANCE, "/admin": Role.ADMIN, "/auth": Role.SHOPPER}
"""The audience of each part of the API; everything else (ops, policies, health) is called as ops."""


@pytest.fixture
def role_headers(
    make_staff: Callable[[Role], Account], make_shopper: Callable[..., Account], store: Store
) -> Callable[[str], dict[str, str]]:
    """A valid token of the role the path is for, so that generated requests reach the operation rather than
    stopping at 403 (a store exists, so ids can point at something real)."""
    _ = store
    accounts = {role: make_staff(role) for role in (Role.OPS, Role.FINANCE, Role.ADMIN)}
    accounts[Role.SHOPPER] = make_shopper()

    def headers(path: str) -> dict[str, str]:
        role = next((role for prefix, role in ROLE_OF_PREFIX.items() if path.startswith(prefix)), Role.OPS)
        return accounts[role].headers

    return headers


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_honours_its_openapi_document(
    case: schemathesis.Case[Any], role_headers: Callable[[str], dict[str, str]], live_server: str
) -> None:
    """No 5xx, and status, content type and body as documented, for every generated request; and the request
    reaches the operation, never turned away for the wrong role."""
    headers = dict(case.headers or {})
    headers.setdefault("Authorization", role_headers(case.path)["Authorization"])
    response = case.call_and_validate(base_url=live_server, headers=headers, checks=CHECKS)
    if response.status_code == 403:
        assert "needs the role" not in response.text
