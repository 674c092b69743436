"""Operations console: simulations. Run a scenario (or a small sweep on Ray) from a form, watch its progress,
open its report, compare two days side by side.

Runs are child processes (`composition.simulation_runs`): this process only writes a status file and starts
`crowdship simulate|sweep`, so no simulated day ever runs in the API's event loop, and the API does not import
the simulator. File reads and the start happen in the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.console.paging import PageQuery, PageView, Paging
from api.console.problems import CONSOLE_ERRORS, FormProblem, merge_filters, readable_problem
from api.console.session import CONSOLE_PREFIX, ConsoleUser, Form, FormData, OpsUser, console_idempotency_key
from api.console.web import redirect, render
from api.dependencies import AppServices, Services
from composition.run_comparison import comparison_html
from composition.simulation_runs import (
    MAX_KEPT_RUNS,
    RUN_ID,
    RunRegistry,
    RunRequest,
    RunStatus,
    ScenarioChoice,
    scenario_choices,
)
from crowdship.errors import InvalidInput, NotFound

PAGE = CONSOLE_PREFIX + "/ops/simulations"
router = APIRouter(prefix=PAGE, include_in_schema=False)

POLL_SECONDS = 2
COMPARABLE_RUNS_LISTED = 50
REPORT_POLICY = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)
"""A report is our own self-contained HTML (plotly inlined); it still opens sandboxed, in an origin of its own
that can reach neither the console's cookies nor the API."""

RunLink = Annotated[str, Query(max_length=200)]
"""A run a comparison link names: checked by the page, which says which side is wrong and why."""
SIDES = {"left": "first", "right": "second"}
"""Each side of the comparison as its field's label says it ("First run", "Second run")."""


def registry(services: AppServices) -> RunRegistry:
    return RunRegistry(services.settings.local_dir / "runs")


@router.get("", response_class=HTMLResponse)
async def simulations_page(request: Request, user: OpsUser, services: Services, paging: PageQuery) -> HTMLResponse:
    return await _page(request, user, services, paging)


@router.post("", response_model=None)
async def start_run(request: Request, user: OpsUser, services: Services, form: Form) -> Response:
    try:
        status = await run_in_threadpool(_start, services, form)
    except CONSOLE_ERRORS as error:
        typed = {name: form.get(name)[:64] for name in ("scenario", "seed", "hours", "idempotency_key")}
        return await _page(
            request, user, services, Paging(limit=20, offset=0), problem=readable_problem(error), values=typed
        )
    what = "Sweep" if status.kind == "sweep" else "Simulation"
    return redirect(request, PAGE, flash=f"{what} {status.id} of {status.title} started.")


@router.get("/runs", response_class=HTMLResponse)
async def runs_fragment(request: Request, user: OpsUser, services: Services, paging: PageQuery) -> HTMLResponse:
    """The table of runs alone, which the page polls while a run is active; its last answer also carries the
    comparison's choices (htmx swaps them out of band), so that the days just finished can be compared."""
    runs, _, comparable = await run_in_threadpool(_page_data, services, paging)
    return render(
        request,
        "ops/simulations_runs.html",
        user,
        runs=runs,
        poll_seconds=POLL_SECONDS,
        comparable=comparable,
        refresh=True,
    )


@router.get("/compare", response_class=HTMLResponse)
async def compare_runs(
    request: Request, user: OpsUser, services: Services, left: RunLink = "", right: RunLink = ""
) -> HTMLResponse:
    """Two finished days side by side; a link naming a run that cannot be compared says which and why, with the
    comparison's choices again (the side that was wrong marked)."""
    table, problem = await run_in_threadpool(_compare, services, left.strip(), right.strip())
    if problem is not None:
        comparable = await run_in_threadpool(_comparable, services)
        return render(
            request,
            "ops/simulations_compare.html",
            user,
            status_code=problem.status,
            nav="simulations",
            problem=problem,
            comparable=comparable,
            chosen={"left": left.strip(), "right": right.strip()},
        )
    return render(
        request, "ops/simulations_compare.html", user, nav="simulations", comparison=table, runs=(left, right)
    )


@router.get("/{run_id}/report", response_model=None)
async def open_report(request: Request, user: OpsUser, services: Services, run_id: str) -> Response:
    try:
        path = await run_in_threadpool(registry(services).report_path, run_id)
        if path is None:
            raise NotFound(f"run {run_id} has no report yet: it is still running, or it failed")
    except CONSOLE_ERRORS as error:
        return render(
            request, "ops/simulations_no_report.html", user, nav="simulations", problem=readable_problem(error)
        )
    return FileResponse(
        path,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_POLICY, "Cache-Control": "no-store"},
    )


# --- What the handlers do, in the thread pool ---------------------------------------------------------------


async def _page(
    request: Request,
    user: ConsoleUser,
    services: AppServices,
    paging: Paging,
    *,
    problem: FormProblem | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page: the form (with what was typed, when refused), the runs, the comparison's choices."""
    runs, choices, comparable = await run_in_threadpool(_page_data, services, paging)
    return render(
        request,
        "ops/simulations.html",
        user,
        nav="simulations",
        problem=problem,
        runs=runs,
        choices=choices,
        comparable=comparable,
        poll_seconds=POLL_SECONDS,
        values=values or {},
    )


def _page_data(services: AppServices, paging: Paging) -> tuple[PageView, list[ScenarioChoice], list[RunStatus]]:
    return _runs(services, paging), scenario_choices(), _comparable(services)


def _comparable(services: AppServices) -> list[RunStatus]:
    """The finished days, newest first, as the comparison offers them."""
    everything, _ = registry(services).page(limit=10_000, offset=0)
    comparable = [run for run in everything if run.kind == "simulate" and run.state == "finished"]
    return comparable[:COMPARABLE_RUNS_LISTED]


def _runs(services: AppServices, paging: Paging) -> PageView:
    items, total = registry(services).page(paging.limit, paging.offset)
    return PageView(items, total, paging.limit, paging.offset)


def _start(services: AppServices, form: FormData) -> RunStatus:
    """The run the form asks for, started once however often the form is sent (its key minted as it is shown)."""
    key = console_idempotency_key(form.get("idempotency_key"), "simulation")
    scenario = form.get("scenario").strip()
    choice = next((c for c in scenario_choices() if c.file == scenario), None)
    if choice is None:
        raise InvalidInput("scenario", "choose one of the scenarios listed")
    data: dict[str, object] = {"kind": choice.kind, "scenario": scenario}
    for name in ("seed", "hours"):
        value = form.get(name).strip()
        if value:
            data[name] = value[:20]
    request = RunRequest.model_validate(data)
    return registry(services).start(request, services.context.clock.now(), key=key)


def _compare(services: AppServices, left: str, right: str) -> tuple[str, FormProblem | None]:
    """The comparison's table, or what is wrong with each side the link names."""
    runs = registry(services)
    found: list[tuple[RunStatus, dict[str, Any]]] = []
    problems: list[FormProblem | None] = []
    for side, run_id in (("left", left), ("right", right)):
        run, figures, problem = _side(runs, side, run_id)
        problems.append(problem)
        if run is not None and figures is not None:
            found.append((run, figures))
    problem = merge_filters(problems)
    if problem is not None:
        return "", problem
    (left_run, left_figures), (right_run, right_figures) = found
    return comparison_html(left_run, left_figures, right_run, right_figures), None


def _side(
    runs: RunRegistry, side: str, run_id: str
) -> tuple[RunStatus | None, dict[str, Any] | None, FormProblem | None]:
    """One side of a comparison link: the run and its day's figures, or why it cannot be compared."""
    which = f"The {SIDES[side]} run"
    if not run_id:
        return None, None, _side_problem(side, f"Choose the {SIDES[side]} run to compare.", 422)
    if not RUN_ID.match(run_id):
        said = f"{which}, “{run_id[:40]}”, is not a run id (such as 20260101T000000-abcdef): choose a finished day."
        return None, None, _side_problem(side, said, 422)
    try:
        run = runs.get(run_id)
    except NotFound:
        said = (
            f"{which}, {run_id}, is not kept: it was never run here, or it was among the oldest and removed (the "
            f"newest {MAX_KEPT_RUNS} are kept). Choose a finished day."
        )
        return None, None, _side_problem(side, said, 404)
    if run.kind == "sweep":
        said = f"{which}, {run_id}, is a sweep, not a day: open its chart from the runs, or choose a finished day."
        return None, None, _side_problem(side, said, 409)
    if run.active:
        said = (
            f"{which}, {run_id}, is still running ({round(run.progress * 100)}%): compare it once it is finished."
            if run.state == "running"
            else f"{which}, {run_id}, is queued: compare it once it is finished."
        )
        return None, None, _side_problem(side, said, 409)
    if run.state == "failed":
        said = f"{which}, {run_id}, failed: it has no day's figures (the runs say why). Choose a finished day."
        return None, None, _side_problem(side, said, 409)
    figures = runs.summary(run_id)
    if figures is None:
        said = f"{which}, {run_id}, finished without its day's figures (summary.json): run the day again."
        return None, None, _side_problem(side, said, 409)
    return run, figures, None


def _side_problem(side: str, message: str, status: int) -> FormProblem:
    return FormProblem(message, {side: message}, status)
