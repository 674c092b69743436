"""Request bodies read as JSON, strictly: a body sent as another media type is refused (415) rather than
validated as if it were a string, and a member written twice in one object is refused (400) rather than left
to the parser (which kept the last, where a proxy or a log reader may keep the first).

Every router of the API builds its routes with `JsonBodyRoute` (`APIRouter(route_class=JsonBodyRoute)`).
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import params
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
    """A route whose JSON body is read strictly (see the module). Routes without a body, or with a form, are
    left as they are."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None or isinstance(self.body_field.field_info, params.Form):
            return handler

        async def strict_handler(request: Request) -> Response:
            strict = _StrictJsonRequest(request.scope, request.receive)
            content_type = request.headers.get("content-type")
            if not (content_type and is_json_media_type(content_type)) and await strict.body():
                sent = f"not {content_type[:60]}" if content_type else "with its Content-Type header"
                raise ProblemException(415, f"send the body as {JSON_MEDIA_TYPE}, {sent}")
            return await handler(strict)

        return strict_handler
