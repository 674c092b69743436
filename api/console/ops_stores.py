"""Operations console: stores listed, created and edited (service area pasted as GeoJSON and shown on the
map, opening hours per weekday), and each store watched live (refreshed by htmx polling)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from api.console.formats import money
from api.console.ops_maps import area_map_svg, live_map_svg, store_map_svg
from api.console.paging import PageQuery, PageView
from api.console.problems import CONSOLE_ERRORS, FormProblem, merged, readable_problem
from api.console.session import CONSOLE_PREFIX, ConsoleUser, Form, FormData, OpsUser, console_idempotency_key
from api.console.web import redirect, render
from api.dependencies import AppServices, Services
from api.ops_records_schemas import StoreIn
from crowdship.errors import InvalidInput
from crowdship.units import Cents, counted, parse_dollars
from dispatch.hours import WEEKDAYS, OpeningHours
from dispatch.model import Store
from dispatch.services import batch, queries
from dispatch.services.store_view import store_live_view
from dispatch.services.stores import StoreChanges, StoreDraft, create_store, edit_store
from routing.areas import check_store_area, service_area_from_geojson, service_area_to_geojson
from routing.geo import GeoPoint

router = APIRouter(prefix=CONSOLE_PREFIX + "/ops/stores", include_in_schema=False)

LIVE_REFRESH_S = 5
FIELD_LABELS = {
    "name": "Name",
    "location": "Location",
    "location.lat": "Latitude",
    "location.lon": "Longitude",
    "service_area": "Service area",
    "fallback_cost": "Fallback courier cost",
    "opening_hours": "Opening hours",
    **{f"opening_hours.{day}": day.title() for day in WEEKDAYS},
    **{f"opening_hours.{day}.{end}": f"{day.title()} {end}" for day in WEEKDAYS for end in ("opens", "closes")},
}
FORM_NAMES = {"fallback_cost_cents": "fallback_cost"}
"""The API's field the form asks in other units: the fallback cost in dollars, not cents."""


def _values_of(store: Store) -> dict[str, str]:
    values = {
        "name": store.name,
        "location.lat": f"{store.location.lat:.6f}",
        "location.lon": f"{store.location.lon:.6f}",
        "fallback_cost": money(store.fallback_cost_cents).removeprefix("$").replace(",", ""),
        "service_area": _geojson_text(service_area_to_geojson(store.service_area)),
    }
    for day, hours in store.opening_hours.named().items():
        values[f"opening_hours.{day}.opens"] = hours.opens if hours else ""
        values[f"opening_hours.{day}.closes"] = hours.closes if hours else ""
    return values


def _geojson_text(geometry: dict[str, Any]) -> str:
    """GeoJSON for the textarea: one [lon, lat] position per line, so a person can read and edit it."""
    text = json.dumps(geometry, separators=(", ", ": "))
    return re.sub(r"\], \[(?=-?\d)", "],\n  [", text)


def _readable(error: Exception) -> FormProblem:
    """The console's problem, with each field said in words ("Service area: must contain ...")."""
    return readable_problem(error, FIELD_LABELS, FORM_NAMES)


def _form_values(form: FormData) -> dict[str, str]:
    """What was typed, and the new store form's key, minted as it was first shown and kept while it is shown
    again (refused, or drawn on the map: nothing was created), so that a double submission creates one store."""
    names = ["name", "location.lat", "location.lon", "fallback_cost", "service_area", "idempotency_key"]
    names += [f"opening_hours.{day}.{end}" for day in WEEKDAYS for end in ("opens", "closes")]
    return {name: form.get(name)[:200_000] for name in names}


def _draft(values: dict[str, str]) -> StoreDraft | FormProblem:
    """The form as the use case takes it, or every error of the submission at once: the fallback cost read
    as dollars, the domain's check of each day's hours (all days together) and of the area, the API's schema for
    the rest (a field refused twice is told once)."""
    problems = []
    try:
        cost = parse_dollars(values["fallback_cost"], "fallback_cost") if values["fallback_cost"].strip() else None
    except InvalidInput as error:
        problems.append(_readable(error))
        cost = None
    hours: dict[str, Any] = {}
    for day in WEEKDAYS:
        opens, closes = values[f"opening_hours.{day}.opens"].strip(), values[f"opening_hours.{day}.closes"].strip()
        hours[day] = {"opens": opens, "closes": closes} if opens or closes else None
    try:
        OpeningHours.from_named({day: (h["opens"], h["closes"]) if h else None for day, h in hours.items()})
    except InvalidInput as error:
        problems.append(_readable(error))
        hours = {}  # told above: the schema would stop at the first malformed time
    area = None
    try:
        area = _parsed_area(values)
        _check_area(area, values)
    except InvalidInput as error:
        # told here; the schema below still gets what was pasted, so that it does not call a refused area
        # missing ("is required") next to the real error
        problems.append(_readable(error))
    try:
        draft = _store_in(values, cost, hours, area).to_draft()
    except CONSOLE_ERRORS as error:
        problems.append(_readable(error))
    return merged(problems, FIELD_LABELS) if problems else draft


def _store_in(values: dict[str, str], cost: Cents | None, hours: dict[str, Any], area: Any) -> StoreIn:
    """The form as the API's body, validated by the API's schema: the same rules, the same field names."""
    return StoreIn.model_validate(
        {
            "name": values["name"],
            "location": {"lat": values["location.lat"] or None, "lon": values["location.lon"] or None},
            "service_area": area,
            "fallback_cost_cents": cost,
            "opening_hours": hours,
        }
    )


def _parsed_area(values: dict[str, str]) -> Any:
    """The pasted GeoJSON as JSON (None when nothing was pasted)."""
    text = values["service_area"]
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput("service_area", f"not valid JSON: {error.msg} at line {error.lineno}") from None
    except RecursionError:
        raise InvalidInput("service_area", "nested too deeply to be GeoJSON") from None


def _check_area(area: Any, values: dict[str, str]) -> None:
    """The area checked by the domain on its own (and against the store's location when that reads as one),
    so that its error is told with the others' rather than on the next submission."""
    if area is None:
        return
    polygon = service_area_from_geojson(area)
    try:
        location = GeoPoint(float(values["location.lat"]), float(values["location.lon"]))
    except (ValueError, InvalidInput):
        return  # the schema tells what is wrong with the location
    check_store_area(polygon, location)


def _form_page(
    request: Request,
    user: ConsoleUser,
    *,
    store: Store | None,
    values: dict[str, str],
    problem: FormProblem | None = None,
    preview: bool = False,
) -> HTMLResponse:
    """The store form (new or edit), with the area's errors gathered (its GeoJSON path may be deep) and the
    map of the store as saved, or as typed when the form asked to see it on the map (`preview`)."""
    map_svg = Markup(store_map_svg(store, networks_dir=_streets(request))) if store else None
    if preview:
        map_svg, problem = _typed_map(values, _streets(request))
    area_errors = [  # a part of the GeoJSON by its path in it ("coordinates[0]: ..."), the whole area alone
        (name.removeprefix("service_area").lstrip("."), message)
        for name, message in (problem.fields if problem else {}).items()
        if name.startswith("service_area")
    ]
    return render(
        request,
        "ops/store_form.html",
        user,
        nav="stores",
        store=store,
        values=values,
        weekdays=WEEKDAYS,
        area_errors=area_errors,
        problem=problem,
        map_svg=map_svg,
        preview=preview,
    )


PREVIEW = "preview"
"""The `action` of the form's "Show on the map" button: the form again with the map as typed, nothing saved."""


def _typed_map(values: dict[str, str], networks_dir: Path) -> tuple[Markup | None, FormProblem | None]:
    """The map of the store as typed, to draw its area on before saving: none until the location reads as
    one; the area typed when it reads as one, else the ground around the store and what is wrong with it."""
    try:
        location = GeoPoint(float(values["location.lat"]), float(values["location.lon"]))
    except (ValueError, InvalidInput):
        needed = "needed to show the store on the map"
        message = "Type the store's latitude and longitude to see it on the map."
        return None, FormProblem(message, {"location.lat": needed, "location.lon": needed})
    name = values["name"].strip() or "New store"
    try:
        area = service_area_from_geojson(_parsed_area(values)) if values["service_area"].strip() else None
    except InvalidInput as error:
        return Markup(area_map_svg(name, location, None, networks_dir=networks_dir)), _readable(error)
    return Markup(area_map_svg(name, location, area, networks_dir=networks_dir)), None


@router.get("", response_class=HTMLResponse)
def stores(request: Request, user: OpsUser, services: Services, paging: PageQuery) -> HTMLResponse:
    page = PageView.of(queries.stores_page(services.context, limit=paging.limit, offset=paging.offset), paging)
    return render(request, "ops/stores.html", user, nav="stores", page=page)


@router.get("/new", response_class=HTMLResponse)
def new_store(request: Request, user: OpsUser) -> HTMLResponse:
    return _form_page(request, user, store=None, values={})


@router.post("/new", response_class=HTMLResponse, response_model=None)
def create(request: Request, user: OpsUser, services: Services, form: Form) -> HTMLResponse | RedirectResponse:
    values = _form_values(form)
    if form.get("action") == PREVIEW:
        return _form_page(request, user, store=None, values=values, preview=True)
    draft = _draft(values)
    if isinstance(draft, FormProblem):
        return _form_page(request, user, store=None, values=values, problem=draft)
    try:
        key = console_idempotency_key(values["idempotency_key"], "store")
        created = create_store(services.context, draft, actor_id=user.principal.user_id, idempotency_key=key)
    except CONSOLE_ERRORS as error:
        return _form_page(request, user, store=None, values=values, problem=_readable(error))
    store = created.value
    said = "was already created by this form" if created.replayed else "created"
    return redirect(request, f"{CONSOLE_PREFIX}/ops/stores/{store.id}/edit", flash=f"Store “{store.name}” {said}.")


@router.get("/{store_id}/edit", response_class=HTMLResponse, response_model=None)
def edit_form(request: Request, store_id: UUID, user: OpsUser, services: Services) -> HTMLResponse:
    try:
        store = queries.get_store(services.context, store_id=store_id)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/missing.html", user, nav="stores", problem=readable_problem(error))
    return _form_page(request, user, store=store, values=_values_of(store))


@router.post("/{store_id}/edit", response_class=HTMLResponse, response_model=None)
def edit(
    request: Request, store_id: UUID, user: OpsUser, services: Services, form: Form
) -> HTMLResponse | RedirectResponse:
    values = _form_values(form)
    try:
        store = queries.get_store(services.context, store_id=store_id)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/missing.html", user, nav="stores", problem=readable_problem(error))
    if form.get("action") == PREVIEW:
        return _form_page(request, user, store=store, values=values, preview=True)
    draft = _draft(values)
    if isinstance(draft, FormProblem):
        return _form_page(request, user, store=store, values=values, problem=draft)
    try:
        changes = StoreChanges(
            name=draft.name,
            location=draft.location,
            service_area=draft.service_area,
            fallback_cost_cents=draft.fallback_cost_cents,
            opening_hours=draft.opening_hours,
        )
        edited = edit_store(services.context, store_id=store_id, changes=changes, actor_id=user.principal.user_id)
    except CONSOLE_ERRORS as error:
        return _form_page(request, user, store=store, values=values, problem=_readable(error))
    return redirect(request, f"{CONSOLE_PREFIX}/ops/stores/{edited.id}/edit", flash=f"Store “{edited.name}” saved.")


@router.get("/{store_id}/live", response_class=HTMLResponse, response_model=None)
def live(request: Request, store_id: UUID, user: OpsUser, services: Services) -> HTMLResponse:
    try:
        view = store_live_view(services.context, store_id=store_id)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/missing.html", user, nav="stores", problem=readable_problem(error))
    return render(
        request,
        "ops/store_live.html",
        user,
        nav="stores",
        view=view,
        now=services.context.clock.now(),
        refresh_s=LIVE_REFRESH_S,
        map_svg=Markup(live_map_svg(view, networks_dir=services.settings.street_networks_dir)),
    )


@router.get("/{store_id}/live/panel", response_class=HTMLResponse, response_model=None)
def live_panel(request: Request, store_id: UUID, user: OpsUser, services: Services) -> HTMLResponse:
    """The part of the live page that htmx polls and swaps in."""
    view = store_live_view(services.context, store_id=store_id)
    return render(
        request,
        "ops/_live_panel.html",
        user,
        partial=True,
        view=view,
        now=services.context.clock.now(),
        map_svg=Markup(live_map_svg(view, networks_dir=services.settings.street_networks_dir)),
    )


@router.post("/{store_id}/batch", response_model=None)
async def run_batch(
    request: Request, store_id: UUID, user: OpsUser, services: Services, form: Form
) -> RedirectResponse:
    """One dispatch batch now (as `POST /ops/stores/{id}/batches`)."""
    del user, form  # checked: an ops user, a form from the console
    url = f"{CONSOLE_PREFIX}/ops/stores/{store_id}/live"
    try:
        report = await run_in_threadpool(batch.run_batch, services.context, store_id=store_id, solver=services.solver)
    except CONSOLE_ERRORS as error:
        return redirect(request, url, flash=readable_problem(error).message, kind="error")
    if report.skipped:
        return redirect(request, url, flash="A dispatcher is running this store's batch right now.", kind="info")
    return redirect(
        request,
        url,
        flash=f"Batch run: {counted(len(report.offers), 'offer')} made, {counted(report.pending_orders, 'order')} "
        f"waiting, {counted(report.eligible_trips, 'trip')} could take offers, "
        f"{len(report.fallback_orders)} sent to the courier fleet.",
    )


def _streets(request: Request) -> Path:
    services: AppServices = request.app.state.services
    return services.settings.street_networks_dir
