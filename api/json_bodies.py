"""Requests read strictly: a body sent as another media type is refused (415) rather than validated as if it
were a string, a member written twice in one object is refused (400) rather than left to the parser (which kept
the last, where a proxy or a log reader may keep the first), and a query parameter the operation does not take
is refused (422) rather than ignored.

Every router of the API builds its routes with `JsonBodyRoute` (`APIRouter(route_class=JsonBodyRoute)`), and
so does the app itself (`app.router.route_class`).
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from api.problems import MalformedBody, ProblemException

JSON_MEDIA_TYPE = "application/json"


class DuplicateMember(MalformedBody):
    """One object of a JSON body holds the same member twice."""

    def __init__(self, name: str) -> None:
        super().__init__(f"not valid JSON for this API: the member {name!r} appears more than once in one object")
        self.name = name


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise DuplicateMember(name)
            seen.add(name)
    return members


def loads_strictly(body: bytes) -> Any:
    """The JSON document, refusing an object that holds a member twice (`DuplicateMember`)."""
    return json.loads(body, object_pairs_hook=_unique_members)


class _StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_strictly(await self.body())
        return self._json


def is_json_media_type(content_type: str) -> bool:
    """`application/json` or a `+json` subtype, whatever its parameters (a charset)."""
    if content_type == JSON_MEDIA_TYPE or content_type.startswith(JSON_MEDIA_TYPE + ";"):
        return True  # nearly every request: without parsing the header (location updates are the hottest route)
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


class JsonBodyRoute(APIRoute):
    """A route whose JSON body is read strictly and whose query takes only the parameters it documents (see the
    module). A route with a form body is left to read it as a form; one left out of the OpenAPI document (the
    console's pages, for people following links, which may carry tracking parameters) takes any query.

    The query is checked here rather than by an app-wide dependency: FastAPI resolves every dependency of every
    request anew, several microseconds each, and here a request without a query costs one test."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        checks_query = self.include_in_schema
        if self.body_field is None or isinstance(self.body_field.field_info, params.Form):
            if not checks_query:
                return handler

            async def query_checked_handler(request: Request) -> Response:
                if request.scope["query_string"]:
                    self._refuse_unknown_query_parameters(request)
                return await handler(request)

            return query_checked_handler

        async def strict_handler(request: Request) -> Response:
            strict = _StrictJsonRequest(request.scope, request.receive)
            content_type = request.headers.get("content-type")
            if not (content_type and is_json_media_type(content_type)) and await strict.body():
                sent = f"not {content_type[:60]}" if content_type else "with its Content-Type header"
                raise ProblemException(415, f"send the body as {JSON_MEDIA_TYPE}, {sent}")
            if checks_query and request.scope["query_string"]:
                self._refuse_unknown_query_parameters(request)
            return await handler(strict)

        return strict_handler

    def _refuse_unknown_query_parameters(self, request: Request) -> None:
        """A misspelt filter (`?stauts=open`) would otherwise be ignored and return everything: refuse it, 422."""
        unknown = sorted(set(request.query_params) - self._allowed_query_names())
        if unknown:
            raise RequestValidationError(
                [
                    {"type": "extra_forbidden", "loc": ("query", name), "msg": "is not a parameter of this operation"}
                    for name in unknown[:20]
                ]
            )

    def _allowed_query_names(self) -> frozenset[str]:
        names: frozenset[str] | None = getattr(self, "_query_names", None)
        if names is None:
            names = self._query_names = _query_names(self.dependant)
        return names


def _query_names(dependant: Dependant) -> frozenset[str]:
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return frozenset(names)
