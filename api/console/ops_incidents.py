"""Operations console: incidents listed (filtered by status, kind and store), an incident's page where it is
resolved and its insurance claim recorded; a claim reviews the shopper's trust tier at once."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.filters import enum_options, listed_store, one_of, store_options
from api.console.paging import PageQuery, PageView
from api.console.problems import CONSOLE_ERRORS, FormProblem, merge_filters, readable_problem
from api.console.session import CONSOLE_PREFIX, Form, FormData, OpsUser
from api.console.web import people, redirect, render
from api.dependencies import AppServices, Services
from api.ops_records_schemas import ClaimIn, ResolutionIn
from crowdship.pages import Page
from crowdship.units import Cents, parse_dollars
from dispatch.incidents import Incident, IncidentKind, IncidentStatus
from dispatch.services import accounts, incidents, queries

router = APIRouter(prefix=CONSOLE_PREFIX + "/ops/incidents", include_in_schema=False)
INCIDENT_LABELS = {
    "resolution": "What was done about it",
    "claim_ref": "Insurer's claim reference",
    "amount": "Amount claimed",
}
FORM_NAMES = {"amount_cents": "amount"}
"""The claim's amount is asked in dollars; the API takes cents."""


@router.get("", response_class=HTMLResponse)
def list_page(
    request: Request,
    user: OpsUser,
    services: Services,
    paging: PageQuery,
    status: str = "open",
    kind: str = "",
    store_id: str = "",
) -> HTMLResponse:
    """Open incidents first by default; `status=` (empty) lists every one. Shoppers and orders by name and
    reference, read for the whole page at once. A filter with a value it does not know lists nothing and says
    which filter and what it takes."""
    stores = queries.list_stores(services.context)
    statuses, status_problem = one_of(status, IncidentStatus, "status", "status")
    kinds, kind_problem = one_of(kind, IncidentKind, "kind", "kind")
    store, store_problem = listed_store(store_id, stores)
    problem = merge_filters([status_problem, kind_problem, store_problem])
    found = (
        Page[Incident]((), 0)
        if problem
        else incidents.list_incidents(
            services.context, statuses=statuses, kinds=kinds, store_id=store, limit=paging.limit, offset=paging.offset
        )
    )
    return render(
        request,
        "ops/incidents.html",
        user,
        nav="incidents",
        page=PageView.of(found, paging),
        chosen_status=status,
        kind=kind,
        store_id=store_id,
        status_options=enum_options(IncidentStatus),
        kind_options=enum_options(IncidentKind),
        store_options=store_options(stores),
        problem=problem,
        shopper_names=queries.shopper_names(services.context, [incident.shopper_id for incident in found.items]),
        references=queries.order_references(services.context, [incident.order_id for incident in found.items]),
    )


def _incident_page(
    request: Request,
    incident_id: UUID,
    user: OpsUser,
    services: Services,
    problem: FormProblem | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    try:
        detail = incidents.get_incident(services.context, incident_id=incident_id)
        order = queries.get_order(services.context, order_id=detail.incident.order_id)
        shopper = accounts.get_shopper(services.context, detail.incident.shopper_id)
    except CONSOLE_ERRORS as error:
        return render(request, "ops/missing.html", user, nav="incidents", problem=readable_problem(error))
    return render(
        request,
        "ops/incident.html",
        user,
        nav="incidents",
        detail=detail,
        incident=detail.incident,
        people=people(request, [detail.incident.resolved_by]),
        order=order,
        shopper=shopper,
        problem=problem,
        values=values or {},
    )


def _refused(
    request: Request, incident_id: UUID, user: OpsUser, services: AppServices, error: Exception, form: FormData
) -> HTMLResponse:
    """The incident's page again, with the refusal beside the form that was sent and what was typed in it."""
    problem = readable_problem(error, INCIDENT_LABELS, FORM_NAMES)
    return _incident_page(request, incident_id, user, services, problem, {k: form.get(k) for k in form.values})


@router.get("/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: UUID, user: OpsUser, services: Services) -> HTMLResponse:
    return _incident_page(request, incident_id, user, services)


@router.post("/{incident_id}/resolve", response_class=HTMLResponse, response_model=None)
def resolve(
    request: Request, incident_id: UUID, user: OpsUser, services: Services, form: Form
) -> HTMLResponse | RedirectResponse:
    try:
        body = form.model(ResolutionIn)
        incidents.resolve_incident(
            services.context, incident_id=incident_id, resolution=body.resolution, actor_id=user.principal.user_id
        )
    except CONSOLE_ERRORS as error:
        return _refused(request, incident_id, user, services, error, form)
    return redirect(request, f"{CONSOLE_PREFIX}/ops/incidents/{incident_id}", flash="Incident resolved.")


def _claim(form: FormData) -> ClaimIn:
    """The claim form as the API's body: the amount typed in dollars ("45.99", "$45") as exact cents."""
    amount = form.get("amount")
    cents = parse_dollars(amount, "amount") if amount.strip() else None
    return ClaimIn.model_validate({"claim_ref": form.get("claim_ref"), "amount_cents": cents})


@router.post("/{incident_id}/claims", response_class=HTMLResponse, response_model=None)
def record_claim(
    request: Request, incident_id: UUID, user: OpsUser, services: Services, form: Form
) -> HTMLResponse | RedirectResponse:
    try:
        body = _claim(form)
        recorded = incidents.record_insurance_claim(
            services.context,
            incident_id=incident_id,
            claim_ref=body.claim_ref,
            amount_cents=Cents(body.amount_cents),
            actor_id=user.principal.user_id,
        )
    except CONSOLE_ERRORS as error:
        return _refused(request, incident_id, user, services, error, form)
    before, after = recorded.tier_before.name.title(), recorded.tier_after.name.title()
    review = (
        f"the shopper's trust tier went from {before} to {after}"
        if before != after
        else f"the shopper's trust tier stays {after}"
    )
    return redirect(
        request,
        f"{CONSOLE_PREFIX}/ops/incidents/{incident_id}",
        flash=f"Claim {recorded.claim.claim_ref} recorded; after the trust-tier review {review}.",
    )
