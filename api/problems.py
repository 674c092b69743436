"""RFC 9457 problem details for every error the API returns, and the handlers that produce them.

Domain errors map by their `kind` (invalid 422, not_found 404, conflict 409, forbidden 403); request
validation errors become 422 with an `errors` list naming each bad field; anything unexpected becomes a
generic 500 whose cause is logged, never sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import errors as pg_errors
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from crowdship.db import CommitOutcomeUnknown
from crowdship.errors import DomainError, InvalidInput, InvalidInputs, without_pydantic_prefix
from crowdship.logging import Sampled, get_logger
from crowdship.outages import BACKING_SERVICE_ERRORS
from dispatch.errors import DeliveryRefused

log = get_logger(__name__)

UNAVAILABLE_RETRY_S = 5
"""What a 503 for a server away asks the client to wait before retrying."""

PROBLEM_MEDIA_TYPE = "application/problem+json"
STATUS_BY_KIND = {"invalid": 422, "not_found": 404, "conflict": 409, "forbidden": 403}
TITLES = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


PROBLEM_BASE = "/problems/"
TYPE_SLUGS = {
    400: "malformed-request",
    401: "not-authenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "content-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}
"""One scheme for every problem: `/problems/<slug>`. Errors of the HTTP layer get the slug of their status;
domain errors the slug of their class (`IllegalTransition` -> `/problems/illegal-transition`), and the domain's
generic ones share the HTTP layer's (`InvalidInput` and a request that fails validation are both
`/problems/invalid-input`)."""


def type_for_status(status: int) -> str:
    return PROBLEM_BASE + TYPE_SLUGS.get(status, "error")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `dropoff.lat`", examples=["dropoff"])
    message: str = Field(examples=["outside the service area of Crowdship Supercentre Northeast"])


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(
        description="URI reference identifying the problem type, `/problems/<slug>`",
        examples=["/problems/illegal-transition"],
    )
    title: str = Field(description="Short summary of the problem type", examples=["Conflict"])
    status: int = Field(ge=400, le=599, description="The HTTP status code", examples=[409])
    detail: str | None = Field(default=None, examples=["offer 6c1f... expired at 2026-11-22T13:00:00+00:00"])
    instance: str | None = Field(default=None, description="The request path", examples=["/shopper/offers/6c1f/accept"])
    errors: list[FieldError] | None = Field(default=None, description="Each bad field (422 only)")
    attempts_left: int | None = Field(default=None, description="Delivery attempts left (refused deliveries only)")


class ProblemException(Exception):
    """An HTTP-level problem raised by the API itself (authentication, rate limits)."""

    def __init__(
        self, status: int, detail: str, *, type_: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_ or type_for_status(status)
        self.headers = dict(headers or {})


def problem_response(
    request: Request,
    status: int,
    detail: str | None,
    *,
    type_: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = Problem(
        type=type_ or type_for_status(status),
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=list(errors) if errors is not None else None,
        **extensions,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _slug(error: DomainError) -> str:
    return PROBLEM_BASE + re.sub(r"(?<!^)(?=[A-Z])", "-", type(error).__name__).lower()


def _field_path(location: Sequence[Any]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status = STATUS_BY_KIND[error.kind]
    if isinstance(error, DeliveryRefused):
        return problem_response(
            request,
            status,
            error.message,
            type_=_slug(error),
            errors=[FieldError(field=error.field, message=error.message)],
            attempts_left=error.attempts_left,
        )
    if isinstance(error, InvalidInputs):  # several fields at once: one entry each, as for a validation error
        return problem_response(
            request,
            status,
            error.message,
            type_=PROBLEM_BASE + "invalid-input",
            errors=[
                FieldError(field=each.field, message=each.message.removeprefix(f"{each.field}: "))
                for each in error.errors
            ],
        )
    if isinstance(error, InvalidInput):
        return problem_response(
            request,
            status,
            error.message,
            type_=_slug(error),
            errors=[FieldError(field=error.field, message=error.message.removeprefix(f"{error.field}: "))],
        )
    return problem_response(request, status, error.message, type_=_slug(error))


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    unparsable = [item for item in error.errors() if item.get("type") == "json_invalid"]
    if unparsable:
        # The location of a JSON syntax error is a character position, not a field.
        position = unparsable[0].get("loc", ("body", "?"))[-1]
        reason = unparsable[0].get("ctx", {}).get("error", "JSON decode error")
        message = f"not valid JSON: {reason} (at character {position})"
        return problem_response(request, 400, message, errors=[FieldError(field="body", message=message)])
    errors = [
        FieldError(
            field=_field_path(item.get("loc", ())), message=without_pydantic_prefix(str(item.get("msg", "invalid")))
        )
        for item in error.errors()
    ]
    detail = "; ".join(f"{item.field}: {item.message}" for item in errors[:5])
    return problem_response(request, 422, detail, errors=errors)


class BodyTooLarge(Exception):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the request body is larger than {max_bytes} bytes")


class MalformedBody(ValueError):
    """A body that the API will not read though it may parse as JSON (`api.json_bodies`): a 400 naming the body."""


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    cause = error.__cause__  # the framework wraps what broke the body's reading
    if isinstance(cause, BodyTooLarge):
        return problem_response(request, 413, str(cause), headers={"Connection": "close"})
    if isinstance(cause, MalformedBody | RecursionError):
        message = str(cause) if isinstance(cause, MalformedBody) else "not valid JSON for this API: nested too deeply"
        return problem_response(request, 400, message, errors=[FieldError(field="body", message=message)])
    if error.status_code == 405:
        return problem_response(request, 405, str(error.detail), headers={"Allow": _allowed_methods(request)})
    return problem_response(request, error.status_code, str(error.detail), headers=error.headers)


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route answers on this path, each tried as the router would route it: the framework
    names only the first route's, so that `PUT /shopper/trips` said `Allow: POST` though `GET` works too."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in HTTP_METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    )


async def _api_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemException)
    return problem_response(request, error.status, error.detail, type_=error.type, headers=error.headers)


async def _contention(request: Request, error: Exception) -> JSONResponse:
    """The database gave up on a lock (a deadlock it broke, a lock timeout): nothing was kept; retry."""
    log.warning("database contention", path=request.url.path, error=type(error).__name__)
    return problem_response(
        request, 503, "the request collided with another one and was not applied; retry", headers={"Retry-After": "1"}
    )


OUTAGE_LOG_EVERY_S = 5.0
UNAVAILABLE_DETAIL = "a backing service is unavailable; nothing was applied, retry shortly"
COMMIT_LOST_DETAIL = (
    "the database connection was lost while the change was being committed: it may have been applied; retry "
    "shortly with the same Idempotency-Key where one is taken (a change already applied answers its first result)"
)


async def _backing_service_down(request: Request, error: Exception) -> JSONResponse:
    """PostgreSQL or Redis could not be reached: nothing was applied, and the client should simply retry; unless
    the connection was lost as PostgreSQL committed, when the change may have been applied and only a retry with
    the same key is safe. Logged once every few seconds per kind of error, with how many refusals the line
    stands for."""
    held_back = request.app.state.outages_logged.take(type(error).__name__)
    if held_back is not None:
        log.error(
            "backing service unavailable",
            path=request.url.path,
            error=type(error).__name__,
            also_refused_since_last=held_back,
        )
    return problem_response(
        request,
        503,
        COMMIT_LOST_DETAIL if isinstance(error, CommitOutcomeUnknown) else UNAVAILABLE_DETAIL,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_S)},
    )


async def _unstorable_value(request: Request, error: Exception) -> JSONResponse:
    """PostgreSQL refused a value (out of range, malformed): the input's fault, and nothing was kept. The
    schemas' own limits should have caught it first; this is the last line behind them."""
    log.warning("value refused by the database", path=request.url.path, error=type(error).__name__)
    return problem_response(request, 422, "a value is out of the range that can be stored; nothing was applied")


def install_problem_handlers(app: FastAPI) -> None:
    app.state.outages_logged = Sampled(every_s=OUTAGE_LOG_EVERY_S)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ProblemException, _api_problem)
    app.add_exception_handler(pg_errors.DeadlockDetected, _contention)
    app.add_exception_handler(pg_errors.LockNotAvailable, _contention)
    app.add_exception_handler(pg_errors.SerializationFailure, _contention)
    # The specific database errors above are OperationalErrors too; handlers are picked by the most specific class.
    for unavailable in BACKING_SERVICE_ERRORS:
        app.add_exception_handler(unavailable, _backing_service_down)
    app.add_exception_handler(pg_errors.DataError, _unstorable_value)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problems an endpoint can return (see `problem_openapi`)."""
    return {
        status: {
            "description": TITLES.get(status, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Makes every error response of the OpenAPI document a problem: FastAPI's default 422 (plain JSON,
    `HTTPValidationError`) becomes `application/problem+json` with `Problem`, and each operation documents
    the generic 500 (and 422 when it takes input)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (FieldError, Problem):
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        definition.pop("$defs", None)
        components[model.__name__] = definition
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if operation.get("parameters") or operation.get("requestBody"):
                responses.setdefault("422", {"description": TITLES[422]})
            if operation.get("requestBody"):
                responses.setdefault("400", {"description": "The body is not valid JSON, or repeats a member"})
                if "application/json" in operation["requestBody"].get("content", {}):
                    responses.setdefault("415", {"description": "The body is not sent as application/json"})
            responses.setdefault("500", {"description": TITLES[500]})
            responses.setdefault(
                "503", {"description": "Collided with a concurrent request, or a backing service is down; retry"}
            )
            for status, response in responses.items():
                if str(status)[0] in "45":
                    response["content"] = problem
                    response.setdefault("description", TITLES.get(int(status), "Error"))
    return schema
