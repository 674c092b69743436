"""Accounts: a shopper registers; everyone signs in (OAuth2 password flow) and can see who they are."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.dependencies import Context, CurrentPrincipal, Services
from api.fields import OptionalIdempotencyKey
from api.forms import url_encoded_fields
from api.idempotent import created_once, created_or_replayed
from api.json_bodies import JsonBodyRoute
from api.problems import ProblemException, problem_responses
from api.schemas import RegisterIn, TokenOut, UserOut
from api.security import issue_token
from crowdship.errors import InvalidInput
from dispatch.services import accounts

router = APIRouter(route_class=JsonBodyRoute, prefix="/auth", tags=["auth"])


@router.post("/register", **created_once(UserOut, "the first request's answer, replayed", 409, 422, 429))
async def register(
    body: RegisterIn, request: Request, services: Services, idempotency_key: OptionalIdempotencyKey = None
) -> JSONResponse:
    """A shopper creates an account; operations verify their identity and set their trust tier later. Counted
    with sign-ins against the client address's limit. Common or trivial passwords are refused (422). An
    address that has an account already is answered alike (201) and nothing changes: only that account's own
    password signs in, so that nobody learns here whose address has one. Send an `Idempotency-Key` so that a
    retry after a lost answer gets the first answer (200, replayed); the key with another request is 409."""
    await services.login_throttle.register(address=_client_address(request))
    registered = await run_in_threadpool(
        accounts.register_shopper_once,
        services.context,
        services.passwords,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        home=body.home.to_geo() if body.home else None,
        idempotency_key=idempotency_key,
    )
    return created_or_replayed(UserOut.model_validate(registered.value), registered.replayed)


def _client_address(request: Request) -> str:
    """The client's address: the peer's, or what a trusted proxy's X-Forwarded-For says (uvicorn puts it here
    for the addresses of `CROWDSHIP_TRUSTED_PROXIES`)."""
    return request.client.host if request.client else "unknown"


_TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": {"type": "string", "description": "The account's e-mail address"},
                        "password": {"type": "string", "format": "password"},
                        "scope": {"type": "string"},
                    },
                }
            }
        },
    }
}


@router.post("/token", response_model=TokenOut, responses=problem_responses(401, 422, 429), openapi_extra=_TOKEN_FORM)
async def token(request: Request, services: Services) -> TokenOut:
    """OAuth2 password flow: e-mail (as `username`) and password, form-encoded, for a short-lived bearer token.
    Attempts are limited per client address; an account is locked for a while for an address after a few failures
    from it, and for every address after many from all (429 with Retry-After)."""
    # Parsed here rather than with FastAPI's Form(): that needs python-multipart, which is not a dependency.
    form = url_encoded_fields(await request.body())
    fields = {name: values[-1] for name, values in form.items()}
    missing = [name for name in ("username", "password") if not fields.get(name)]
    if missing:
        raise InvalidInput(missing[0], "is required (form-encoded OAuth2 password flow)")
    if fields.get("grant_type", "password") != "password":
        raise InvalidInput("grant_type", "must be 'password'")
    throttle, address = services.login_throttle, _client_address(request)
    async with throttle.judging(email=fields["username"], address=address):
        user = await run_in_threadpool(
            accounts.authenticate,
            services.context,
            services.passwords,
            email=fields["username"],
            password=fields["password"],
        )
    if user is None:
        raise ProblemException(401, "wrong e-mail or password", headers={"WWW-Authenticate": "Bearer"})
    await throttle.succeeded(email=fields["username"], address=address)
    ttl = timedelta(seconds=services.settings.access_token_ttl_s)
    access = issue_token(user, secret=services.signing_key, ttl=ttl, now=services.context.clock.now())
    return TokenOut(access_token=access, expires_in=int(ttl.total_seconds()))


@router.get("/me", response_model=UserOut, responses=problem_responses(401, 404))
def me(principal: CurrentPrincipal, context: Context) -> UserOut:
    return UserOut.model_validate(accounts.get_user(context, principal.user_id))
