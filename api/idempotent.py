"""The one shape of a POST that creates something once per `Idempotency-Key`: 201 for the first request, 200
with `Idempotent-Replayed: true` and the same body for a retry under its key (another request under the key is
409, from `crowdship.idempotency`). Orders, payout batches, reward corrections and store credit at the till."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.problems import problem_responses

REPLAYED_HEADER = "Idempotent-Replayed"


def created_once(model: type[BaseModel], retry: str, *problems: int) -> dict[str, Any]:
    """The route's arguments: answered with `model` both times; `retry` says what a retry's answer holds."""
    return {
        "status_code": 201,
        "response_model": model,
        "responses": {200: {"model": model, "description": f"A retry: {retry}"}, **problem_responses(*problems)},
    }


def created_or_replayed(body: BaseModel, replayed: bool, *, keyed: bool = True) -> JSONResponse:
    """201 for the first request; 200 with `Idempotent-Replayed: true` for a retry under its key. A retry
    known without a key (`keyed=False`: a check-in identical to the open trip) is 200 without the header."""
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=200 if replayed else 201,
        headers={REPLAYED_HEADER: "true"} if replayed and keyed else None,
    )
