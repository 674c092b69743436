"""The FastAPI application: `create_app(settings)` wires storage, Redis and the routers together."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response

from api.console import install_console, on_console_page, unavailable_page
from api.console.web import STATIC_URL
from api.deadline import LATE_HEADERS, RequestDeadline, late_problem
from api.dependencies import AppServices
from api.docs import SWAGGER_UI_URL, install_offline_docs
from api.events import LiveEventHub
from api.headers import SecurityHeaders
from api.health import ServersLook, install_health
from api.json_bodies import JsonBodyRoute
from api.outer_layers import BodyLimit, UnexpectedErrors
from api.problems import document_problems, install_problem_handlers
from api.routers import (
    admin,
    auth,
    finance,
    finance_corrections,
    ops,
    ops_incidents,
    ops_money,
    ops_stores,
    policies,
    profiles,
    shopper,
    wallet,
)
from api.security import ActiveAccounts
from api.throttle import LoginThrottle
from composition import live_context
from crowdship.cache import open_async_redis, open_redis
from crowdship.clock import Clock, SystemClock
from crowdship.db import open_pool
from crowdship.logging import configure_logging
from crowdship.settings import Settings
from dispatch.adapters.live import AsyncLivePositions, RedisLiveState
from dispatch.adapters.passwords import Argon2Passwords
from dispatch.services import accounts
from dispatch.services.batch import Solver, matcher_solver
from dispatch.services.matcher_loading import warm_up

DESCRIPTION = """
Crowd-delivery: in-store shoppers take pending online orders to customers on their way home.

* **auth**: shoppers register; everyone signs in with the OAuth2 password flow and gets a short-lived bearer token.
* **shopper**: the mobile app (check in, positions, offers, pickup, delivery with proof, incidents, history, events).
* **ops**: operations (order intake with `Idempotency-Key`, shopper verification, live store view, batches,
  referrals, store credit spent at the till with `Idempotency-Key`).
* **wallet**: a shopper's own money (store credit and cash payable in cents, rewards with their policy, ledger).
* **policies**: reward policy versions (ops and admins publish, finance reads).
* **admin**: deactivate and reactivate accounts (their tokens stop at once).
* **finance**: payout batches (prepare and pay with `Idempotency-Key`, holds, four-eyes approval, CSV export),
  reconciliation, a shopper's ledger, the audit log; corrections with `Idempotency-Key` (a disputed reward
  reversed, a delivery recorded without a reward credited).

Every error is an RFC 9457 problem (`application/problem+json`).
"""


def create_app(settings: Settings, *, clock: Clock | None = None, solver: Solver = matcher_solver) -> FastAPI:
    signing_key = settings.require_secret_key()  # no key, no service: refused here, before anything listens

    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Nothing here waits for PostgreSQL or Redis: the service starts while they are away, answers 503
        # (and /health says which is down), and recovers by itself when they come back.
        pool = open_pool(
            settings.require_database_url(),
            min_size=settings.pool_min_size,
            max_size=settings.db_pool_max_size,
            name="crowdship-api",
            timeout_s=settings.db_pool_timeout_s,
            connect_timeout_s=settings.db_connect_timeout_s,
            statement_timeout_s=settings.db_statement_timeout_s,
            # Every transaction here is a request's, and a request is answered 503 at its deadline: one silent that
            # long is a process frozen (SIGSTOP, a paused VM) or work nobody waits for any more, and its row locks
            # would keep the dispatcher's rounds and other requests waiting until it resumed. No shorter fixed
            # limit: a worker thread starved on a loaded machine, or a reconciliation between two batches of its
            # stream, must not lose a transaction whose request is still being waited for.
            idle_in_transaction_s=settings.request_deadline_s,
            wait=False,
        )
        warm_up(solver)
        sync_redis = open_redis(settings)
        async_redis = open_async_redis(settings)
        context = live_context(
            settings,
            pool,
            clock=clock or SystemClock(),
            live=RedisLiveState(sync_redis),
        )
        active_accounts = ActiveAccounts(
            partial(accounts.earliest_token_accepted, context), outage_allowance_s=settings.access_token_ttl_s
        )
        # Subscriptions hold their connection: they get a client of their own, off the hot path's pool.
        events = LiveEventHub(
            open_async_redis(settings, max_connections=4),
            per_user=settings.event_streams_per_user,
            per_process=settings.event_streams_per_process,
            on_account_changed=active_accounts.forget,
        )
        events.start()
        app.state.async_redis = async_redis
        app.state.pool = pool
        app.state.servers_look = ServersLook(pool, async_redis)
        app.state.services = AppServices(
            settings=settings,
            signing_key=signing_key,
            context=context,
            passwords=Argon2Passwords(),
            positions=AsyncLivePositions(async_redis),
            events=events,
            accounts=active_accounts,
            login_throttle=LoginThrottle.from_settings(async_redis, settings),
            solver=solver,
        )
        try:
            yield
        finally:
            await events.stop()
            await async_redis.aclose()
            sync_redis.close()
            pool.close()

    app = FastAPI(
        title="Crowdship API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by install_offline_docs, with Swagger UI's files from this process
        redoc_url=None,  # ReDoc's script would come from a CDN
        # No OpenTelemetry here: otherwise FastAPI asks the tracer provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.router.route_class = JsonBodyRoute  # the app's own routes (/health) read requests as the routers' do
    install_problem_handlers(app)
    _install_middleware(app, settings)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # The shopper routes first: location updates are the hottest path, and routes are matched in order.
    app.include_router(shopper.router)
    app.include_router(profiles.router)
    app.include_router(auth.router)
    app.include_router(ops.router)
    app.include_router(ops_stores.router)
    app.include_router(ops_incidents.router)
    app.include_router(ops_money.router)
    app.include_router(wallet.router)
    app.include_router(policies.router)
    app.include_router(finance.router)
    app.include_router(finance_corrections.router)
    app.include_router(admin.router)
    install_offline_docs(app)
    install_console(app)

    install_health(app)
    return app


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    """Innermost first: the body limit, the last resort for unexpected errors, the request deadline, which
    bounds all the rest, and the headers every answer carries, a late one too."""
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(RequestDeadline, deadline_s=settings.request_deadline_s, late_response=_late_answer)
    app.add_middleware(SecurityHeaders, cacheable=(f"{STATIC_URL}/", f"{SWAGGER_UI_URL}/"))


def _late_answer(request: Request) -> Response:
    """A request past its deadline: a page on the console, a problem elsewhere."""
    if on_console_page(request):
        message = (
            "A server behind the console did not answer in time: what you asked may or may not have been done. "
            "Look again, then try again in a moment."
        )
        return unavailable_page(request, message, LATE_HEADERS)
    return late_problem(request)


GC_THRESHOLDS = (50_000, 20, 20)


def settle_garbage_collection() -> None:
    """For a process that serves the app (not for tests, which build many apps): what it holds once built
    (modules, the app, its routes) is frozen out of collection, and the young generation is collected every
    50 000 allocations instead of 700. Collections of a service's many small objects otherwise stall the
    event loop now and then: `crowdship bench api` on 2 cores measured the location updates' p99 at 144 ms
    before and 36 ms after, and throughput from 1 850 to 2 790 per second."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
