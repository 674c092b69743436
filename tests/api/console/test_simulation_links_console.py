"""A link comparing two simulated days (the console's compare page, over HTTP, no browser) that cannot be
followed says which run is wrong and why, as the console's other problem messages do, and offers the
comparison's choices again: a malformed id, a run there is not, a sweep, a day still running or failed, a
side missing. It answered a generic 'Bad link' page ("the left string should match pattern ...")."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from console_support import StaffLogin, said
from fastapi.testclient import TestClient

from composition.simulation_runs import RunStatus
from crowdship.settings import Settings
from dispatch.accounts import Role

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY_1, DAY_2 = "20260101T000000-aaaaaa", "20260101T000100-bbbbbb"
COMPARE = "/console/ops/simulations/compare"


@pytest.fixture
def api_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The app keeps its runs under this test's own folder (`<local_dir>/runs`)."""
    return settings.model_copy(update={"local_dir": tmp_path})


@pytest.fixture
def runs(api_settings: Settings) -> Path:
    """Two finished days, a sweep, a day still running and one that failed."""
    folder = api_settings.local_dir / "runs"
    for run_id, seed in ((DAY_1, 1), (DAY_2, 2)):
        _put(folder, run_id, "finished", seed=seed, finished_at=NOW)
        (folder / run_id / "summary.json").write_text(json.dumps({"summary": {"orders": 10 * seed}}), "utf-8")
    _put(folder, "20260101T000200-cccccc", "finished", kind="sweep", finished_at=NOW)
    _put(folder, "20260101T000300-dddddd", "running", started_at=NOW, pid=os.getpid(), progress=0.4)
    _put(folder, "20260101T000400-eeeeee", "failed", error="the matcher ran out of memory")
    return folder


def _put(runs: Path, run_id: str, state: str, kind: str = "simulate", **more: object) -> None:
    (runs / run_id).mkdir(parents=True)
    status = RunStatus(
        id=run_id, kind=kind, scenario="demo.toml", title="Demo day", state=state, created_at=NOW, **more
    )
    (runs / run_id / "status.json").write_text(status.model_dump_json(), encoding="utf-8")


def _alert(page: str) -> str:
    found = re.search(r'<div class="problem" role="alert" id="problem">\s*<strong>(.*?)</strong>', page, re.DOTALL)
    assert found, page
    return said(found.group(1))


@pytest.mark.usefixtures("runs")
@pytest.mark.parametrize(
    ("left", "right", "status", "said", "field"),
    [
        ("x", DAY_2, 422, "The first run, “x”, is not a run id (such as 20260101T000000-abcdef)", "left"),
        (DAY_1, "20260101T000900-ffffff", 404, "The second run, 20260101T000900-ffffff, is not kept", "right"),
        (DAY_1, "20260101T000200-cccccc", 409, "The second run, 20260101T000200-cccccc, is a sweep", "right"),
        ("20260101T000300-dddddd", DAY_2, 409, "The first run, 20260101T000300-dddddd, is still running (40%)", "left"),
        ("20260101T000400-eeeeee", DAY_2, 409, "The first run, 20260101T000400-eeeeee, failed", "left"),
        (DAY_1, "", 422, "Choose the second run to compare", "right"),
    ],
)
def test_a_comparison_link_that_cannot_be_followed_says_which_run_and_why(
    client: TestClient,
    sign_in_as: Callable[..., StaffLogin],
    left: str,
    right: str,
    status: int,
    said: str,
    field: str,
) -> None:
    sign_in_as(Role.OPS)
    answer = client.get(COMPARE, params={"left": left, "right": right})
    assert answer.status_code == status
    assert "Bad link" not in answer.text
    assert _alert(answer.text).startswith(said), _alert(answer.text)
    # the choices again, the side that was wrong marked, pointing at the message
    assert re.search(
        rf'<select id="f-{field}" name="{field}" aria-invalid="true" aria-describedby="problem">', answer.text
    )
    assert f'<option value="{DAY_1}"' in answer.text


@pytest.mark.usefixtures("runs")
def test_both_sides_wrong_are_both_said(client: TestClient, sign_in_as: Callable[..., StaffLogin]) -> None:
    sign_in_as(Role.OPS)
    answer = client.get(COMPARE, params={"left": "../etc", "right": "20260101T000900-ffffff"})
    assert answer.status_code == 422
    message = _alert(answer.text)
    assert "The first run, “../etc”, is not a run id" in message
    assert "The second run, 20260101T000900-ffffff, is not kept" in message


@pytest.mark.usefixtures("runs")
def test_two_finished_days_are_still_compared(client: TestClient, sign_in_as: Callable[..., StaffLogin]) -> None:
    sign_in_as(Role.OPS)
    answer = client.get(COMPARE, params={"left": DAY_1, "right": DAY_2})
    assert answer.status_code == 200
    assert 'class="comparison' in answer.text
    assert 'role="alert"' not in answer.text
