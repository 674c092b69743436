"""Operations console: simulations. Run a scenario (or a small sweep on Ray) from a form, watch its progress,
open its report, compare two days side by side.

Runs are child processes (`composition.simulation_runs`): this process only writes a status file and starts
`crowdship simulate|sweep`, so no simulated day ever runs in the API's event loop, and the API does not import
the simulator. File reads and the start happen in the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.console.paging import PageQuery, PageView, Paging
from api.console.problems import CONSOLE_ERRORS, FormProblem, readable_problem
from api.console.web import CONSOLE_PREFIX, ConsoleUser, Form, FormData, OpsUser, redirect, render
from api.dependencies import AppServices, Services
from composition.run_comparison import comparison_html
from composition.simulation_runs import RUN_ID, RunRegistry, RunRequest, RunStatus, ScenarioChoice, scenario_choices
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

RunId = Annotated[str, Query(max_length=40, pattern=RUN_ID.pattern)]


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
        typed = {name: form.get(name)[:64] for name in ("scenario", "seed", "hours")}
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
async def compare_runs(request: Request, user: OpsUser, services: Services, left: RunId, right: RunId) -> HTMLResponse:
    try:
        table = await run_in_threadpool(_compare, services, left, right)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/simulations_compare.html", user, nav="simulations", problem=readable_problem(error))
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
    everything, _ = registry(services).page(limit=10_000, offset=0)
    comparable = [run for run in everything if run.kind == "simulate" and run.state == "finished"]
    return _runs(services, paging), scenario_choices(), comparable[:COMPARABLE_RUNS_LISTED]


def _runs(services: AppServices, paging: Paging) -> PageView:
    items, total = registry(services).page(paging.limit, paging.offset)
    return PageView(items, total, paging.limit, paging.offset)


def _start(services: AppServices, form: FormData) -> RunStatus:
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
    return registry(services).start(request, services.context.clock.now())


def _compare(services: AppServices, left: str, right: str) -> str:
    runs = registry(services)
    figures = []
    for run_id in (left, right):
        summary = runs.summary(run_id)
        if summary is None:
            raise InvalidInput("run", f"run {run_id} has no day's figures: a sweep, or not finished")
        figures.append(summary)
    return comparison_html(runs.get(left), figures[0], runs.get(right), figures[1])
