"""RFC 9457 problem details for every error the API returns, and the handlers that produce them.

Domain errors map by their `kind` (invalid 422, not_found 404, conflict 409, forbidden 403); request
validation errors become 422 with an `errors` list naming each bad field; anything unexpected becomes a
generic 500 whose cause is logged, never sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from crowdship.errors import DomainError, InvalidInput
from crowdship.logging import get_logger
from dispatch.errors import DeliveryRefused

log = get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
STATUS_BY_KIND = {"invalid": 422, "not_found": 404, "conflict": 409, "forbidden": 403}
TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `dropoff.lat`", examples=["dropoff"])
    message: str = Field(examples=["outside the service area of Crowdship Supercentre Northeast"])


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(default="about:blank", description="URI reference identifying the problem type")
    title: str = Field(description="Short summary of the problem type", examples=["Conflict"])
    status: int = Field(ge=400, le=599, description="The HTTP status code", examples=[409])
    detail: str | None = Field(default=None, examples=["offer 6c1f... expired at 2026-11-22T13:00:00+00:00"])
    instance: str | None = Field(default=None, description="The request path", examples=["/shopper/offers/6c1f/accept"])
    errors: list[FieldError] | None = Field(default=None, description="Each bad field (422 only)")
    attempts_left: int | None = Field(default=None, description="Delivery attempts left (refused deliveries only)")


class ProblemException(Exception):
    """An HTTP-level problem raised by the API itself (authentication, rate limits)."""

    def __init__(
        self, status: int, detail: str, *, type_: str = "about:blank", headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.headers = dict(headers or {})


def problem_response(
    request: Request,
    status: int,
    detail: str | None,
    *,
    type_: str = "about:blank",
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = Problem(
        type=type_,
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
    return "/problems/" + re.sub(r"(?<!^)(?=[A-Z])", "-", type(error).__name__).lower()


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
    if isinstance(error, InvalidInput):
        return problem_response(
            request,
            status,
            error.message,
            type_=_slug(error),
            errors=[FieldError(field=error.field, message=error.message)],
        )
    return problem_response(request, status, error.message, type_=_slug(error))


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        FieldError(field=_field_path(item.get("loc", ())), message=str(item.get("msg", "invalid")))
        for item in error.errors()
    ]
    detail = "; ".join(f"{item.field}: {item.message}" for item in errors[:5])
    return problem_response(request, 422, detail, errors=errors)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return problem_response(request, error.status_code, str(error.detail), headers=error.headers)


async def _api_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemException)
    return problem_response(request, error.status, error.detail, type_=error.type, headers=error.headers)


async def _contention(request: Request, error: Exception) -> JSONResponse:
    """The database gave up on a lock (a deadlock it broke, a lock timeout): nothing was kept; retry."""
    log.warning("database contention", path=request.url.path, error=type(error).__name__)
    return problem_response(
        request, 503, "the request collided with another one and was not applied; retry", headers={"Retry-After": "1"}
    )


async def _backing_service_down(request: Request, error: Exception) -> JSONResponse:
    """PostgreSQL or Redis could not be reached: nothing was applied, and the client should simply retry."""
    log.error("backing service unavailable", path=request.url.path, error=type(error).__name__)
    return problem_response(
        request,
        503,
        "a backing service is unavailable; nothing was applied, retry shortly",
        headers={"Retry-After": "5"},
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.error("unhandled error", path=request.url.path, method=request.method, exc_info=error)
    return problem_response(request, 500, "an unexpected error occurred; it has been logged")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ProblemException, _api_problem)
    app.add_exception_handler(pg_errors.DeadlockDetected, _contention)
    app.add_exception_handler(pg_errors.LockNotAvailable, _contention)
    app.add_exception_handler(pg_errors.SerializationFailure, _contention)
    # The specific database errors above are OperationalErrors too; handlers are picked by the most specific class.
    for unavailable in (psycopg.OperationalError, PoolTimeout, redis.ConnectionError, redis.TimeoutError):
        app.add_exception_handler(unavailable, _backing_service_down)
    app.add_exception_handler(Exception, _unexpected)


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
                responses.setdefault("400", {"description": "The body could not be parsed"})
            responses.setdefault("500", {"description": TITLES[500]})
            responses.setdefault(
                "503", {"description": "Collided with a concurrent request, or a backing service is down; retry"}
            )
            for status, response in responses.items():
                if str(status)[0] in "45":
                    response["content"] = problem
                    response.setdefault("description", TITLES.get(int(status), "Error"))
    return schema
