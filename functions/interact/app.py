"""Event collector: POST /interact.  Runs under uvicorn locally and Mangum on Lambda."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from mangum import Mangum

from functions.contract import COMMON_ERRORS, Failure, Health, Interacted
from functions.http_common import (
    create_base_app,
    health_response,
    server_timing,
    timing_allow_origin,
)
from functions.observability import Observability
from recsys.adapters import health
from recsys.adapters.serving_cache import AsyncServingCache
from recsys.clients import Clients
from recsys.domain.events import InteractionRequest
from recsys.services import collector
from recsys.settings import Settings, get_settings

observability = Observability("recsys-interact")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    clients = Clients(settings)
    cache = AsyncServingCache(settings, user_state_ttl_s=settings.user_state_ttl_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # A long-lived server (uvicorn) publishes on its own loop, without a
        # thread hop.  Mangum runs with lifespan off: a Lambda keeps the
        # publisher's private loop, which outlives each invocation's loop.
        clients.publisher.adopt_running_loop()
        yield
        await clients.publisher.aclose()
        await cache.aclose()

    app = create_base_app(
        "recsys interact", settings, allow_methods=["POST", "GET"], lifespan=lifespan
    )
    app.state.clients = clients
    allowed_timing_origins = timing_allow_origin(settings)

    # Redis (asyncio client) and the publish are both awaited on the server's
    # loop, each under its own deadline: no worker-thread hop per request, and
    # a slow dependency never blocks the loop.
    @app.post(
        "/interact",
        response_model=Interacted,
        responses={
            413: {"model": Failure, "description": "body too large"},
            415: {"model": Failure, "description": "body is not JSON"},
            **COMMON_ERRORS,
        },
    )
    async def interact(
        request: InteractionRequest,
        idempotency_key: Annotated[
            str | None,
            Header(
                description="Any unique string per logical request (8-128 characters). "
                "A retry with the same key returns the same event ids and adds no event."
            ),
        ] = None,
    ) -> JSONResponse:
        started = time.perf_counter()
        events = await collector.prepare_async(
            request, cache=cache, settings=settings, idempotency_key=idempotency_key
        )
        validated = time.perf_counter()
        await clients.publisher.publish_async(events)  # BrokerUnavailable -> 503
        confirmed = time.perf_counter()
        seen_marked = await collector.mark_seen_async(events, cache=cache, settings=settings)
        observability.count("EventsIngested", len(events))
        return JSONResponse(
            {
                "status": "ok",
                "user_id": request.user_id,
                "event_ids": [e.event_id for e in events],
                "timestamp": events[0].timestamp,
                "seen_marked": seen_marked,
            },
            headers={
                # Where this request's time went: the catalogue check (Redis),
                # the broker's confirm, the seen-set write (Redis).
                "Server-Timing": server_timing(
                    validate=validated - started,
                    publish=confirmed - validated,
                    seen=time.perf_counter() - confirmed,
                ),
                "Timing-Allow-Origin": allowed_timing_origins,
            },
        )

    @app.get("/healthcheck", response_model=Health, responses={503: {"model": Health}})
    async def healthcheck() -> JSONResponse:
        # Async, with each probe under its own deadline: it answers even while
        # every worker thread waits on a hung dependency.
        checks = await health.check_all(
            {
                "redis": health.in_thread(clients.cache.ping),
                "rabbitmq": clients.publisher.ping_async,
            },
            timeout_s=settings.dependency_timeout_s,
        )
        healthy, body = health.report(checks)
        return health_response(healthy, body)

    return app


app = create_app()
handler = observability.instrument(Mangum(app, lifespan="off"))
# What import built (the app, its schemas, the clients) lives as long as the
# process: keep it out of garbage collections, which then scan only what
# requests make (less CPU per request, shorter pauses).
gc.freeze()
