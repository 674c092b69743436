"""A hand-edited link comparing policy versions, said in the console's words: which side of the comparison it
asks for and what it takes, not "the left must be a number"; a version written as the page shows it ("v1") is
understood."""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest
from api_support import Account
from console_support import StaffLogin
from fastapi.testclient import TestClient
from rewards_flow import publish_policy

from dispatch.accounts import Role


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("left=abc", "The version to compare, “abc”, is not a policy version: choose one of v1."),
        ("right=1.5", "The version to compare with, “1.5”, is not a policy version: choose one of v1."),
    ],
)
def test_a_version_that_is_not_a_number_names_its_side_and_the_versions_there_are(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    ops: Account,
    approver: Account,
    query: str,
    said: str,
) -> None:
    publish_policy(client, ops, approver)
    sign_in_as(Role.FINANCE)
    page = client.get(f"/console/finance/policies?{query}")
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert said in text
    assert "must be a number" not in text
    assert 'id="f-left"' in page.text  # the page itself, comparing the newest versions, not a "Bad link" page


def test_a_version_written_as_the_page_shows_it_is_understood(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], ops: Account, approver: Account
) -> None:
    publish_policy(client, ops, approver)
    sign_in_as(Role.FINANCE)
    page = client.get("/console/finance/policies?left=v1&right=V1")
    assert page.status_code == 200
    assert 'role="alert"' not in page.text


def test_a_version_alone_is_shown_once_rather_than_beside_itself(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], ops: Account, approver: Account
) -> None:
    """With one version only, the page set v1 beside v1, every value twice (cut off on a phone), and said "the two
    versions have the same parameters"."""
    publish_policy(client, ops, approver)
    sign_in_as(Role.FINANCE)
    page = client.get("/console/finance/policies")
    header = page.text.split('<table class="compare">')[1].split("</thead>")[0]
    assert header.count("<th>v1 ") == 1, header
    assert "Only one version so far: nothing to compare it with." in page.text
    assert "The two versions have the same parameters" not in page.text
