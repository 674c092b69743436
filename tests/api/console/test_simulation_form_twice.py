"""The console's simulation form sent twice (a double click on Start, a retry) starts one run: it sent no key, so
each submission started a child process of its own and the two took both slots. It carries a key minted as it is
shown, as the store form does; a refused form keeps its key (nothing was started)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from console_support import StaffLogin
from fastapi.testclient import TestClient

from api.console.session import CSRF_FIELD
from composition.simulation_runs import RunRegistry
from crowdship.settings import Settings
from dispatch.accounts import Role

PAGE = "/console/ops/simulations"


def hidden(page: str, name: str) -> str:
    found = re.findall(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"the page has a hidden {name}"
    return str(found[0])


@pytest.fixture
def api_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The app keeps its runs under this test's own folder (`<local_dir>/runs`)."""
    return settings.model_copy(update={"local_dir": tmp_path})


@pytest.fixture
def runs(api_settings: Settings) -> Iterator[RunRegistry]:
    """The app's runs; any still running at the end is stopped (the test needs only that it started)."""
    registry = RunRegistry(api_settings.local_dir / "runs")
    yield registry
    for status in registry.page(100, 0)[0]:
        if status.active and status.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(status.pid, signal.SIGKILL)


def test_the_simulation_form_sent_twice_starts_one_run(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], runs: RunRegistry
) -> None:
    sign_in_as(Role.OPS)
    shown = client.get(PAGE).text
    key = hidden(shown, "idempotency_key")
    assert len(key) == 32
    form = {CSRF_FIELD: hidden(shown, CSRF_FIELD), "idempotency_key": key, "scenario": "demo.toml", "hours": "1"}
    first = client.post(PAGE, data=form, follow_redirects=False)
    again = client.post(PAGE, data=form, follow_redirects=False)
    assert (first.status_code, again.status_code) == (303, 303), again.text
    started, total = runs.page(limit=10, offset=0)
    assert total == 1
    shown_again = client.get(PAGE).text
    assert re.search(rf'Simulation <span class="reference">{started[0].id}</span> of .* started', shown_again)
    assert hidden(shown_again, "idempotency_key") != key


def test_a_refused_simulation_form_is_shown_again_with_its_key(
    client: TestClient, sign_in_as: Callable[..., StaffLogin], runs: RunRegistry
) -> None:
    sign_in_as(Role.OPS)
    shown = client.get(PAGE).text
    form = {
        CSRF_FIELD: hidden(shown, CSRF_FIELD),
        "idempotency_key": hidden(shown, "idempotency_key"),
        "scenario": "demo.toml",
        "hours": "99",
    }
    refused = client.post(PAGE, data=form)
    assert refused.status_code == 422
    assert hidden(refused.text, "idempotency_key") == form["idempotency_key"]
    assert runs.page(limit=10, offset=0)[1] == 0
