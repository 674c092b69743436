"""The FastAPI application: `create_app(settings)` wires storage, Redis and the routers together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.dependencies import AppServices
from api.problems import document_problems, install_problem_handlers
from api.routers import auth, finance, ops, policies, shopper, wallet
from crowdship.clock import Clock, SystemClock
from crowdship.db import open_pool
from crowdship.settings import Settings
from dispatch.adapters.live import AsyncLivePositions, LiveState
from dispatch.adapters.passwords import Argon2Passwords
from dispatch.adapters.postgres import PostgresDispatchUnitOfWork
from dispatch.services.batch import Solver, matcher_solver
from dispatch.services.context import DispatchConfig, DispatchContext
from dispatch.services.rewards_hooks import credit_delivery_hook, reward_quote_hook

DESCRIPTION = """
Crowd-delivery: in-store shoppers take pending online orders to customers on their way home.

* **auth**: shoppers register; everyone signs in with the OAuth2 password flow and gets a short-lived bearer token.
* **shopper**: the mobile app (check in, positions, offers, pickup, delivery with proof, incidents, history, events).
* **ops**: operations (order intake with `Idempotency-Key`, shopper verification, live store view, batches).
* **wallet**: a shopper's own money (store credit and cash payable in cents, rewards with their policy, ledger).
* **policies**: reward policy versions (ops and admins publish, finance reads).
* **finance**: payout batches (prepare and pay with `Idempotency-Key`, holds, four-eyes approval, CSV export),
  reconciliation, a shopper's ledger, the audit log.

Every error is an RFC 9457 problem (`application/problem+json`).
"""


def create_app(settings: Settings, *, clock: Clock | None = None, solver: Solver = matcher_solver) -> FastAPI:
    signing_key = settings.require_secret_key()  # no key, no service: refused here, before anything listens

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = open_pool(
            settings.require_database_url(),
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            name="crowdship-api",
        )
        sync_redis = redis.Redis.from_url(settings.require_redis_url(), decode_responses=True)
        async_redis = aioredis.Redis.from_url(settings.require_redis_url(), decode_responses=True)
        config = DispatchConfig.from_settings(settings)
        context = DispatchContext(
            unit_of_work=lambda: PostgresDispatchUnitOfWork(pool),
            clock=clock or SystemClock(),
            config=config,
            live=LiveState(sync_redis),
            reward_quote=reward_quote_hook(pool, config.batch),
            credit_delivery=credit_delivery_hook(),
        )
        app.state.async_redis = async_redis
        app.state.pool = pool
        app.state.services = AppServices(
            settings=settings,
            signing_key=signing_key,
            context=context,
            passwords=Argon2Passwords(),
            positions=AsyncLivePositions(async_redis),
            solver=solver,
        )
        try:
            yield
        finally:
            await async_redis.aclose()
            sync_redis.close()
            pool.close()

    app = FastAPI(
        title="Crowdship API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_problem_handlers(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(auth.router)
    app.include_router(shopper.router)
    app.include_router(ops.router)
    app.include_router(wallet.router)
    app.include_router(policies.router)
    app.include_router(finance.router)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
