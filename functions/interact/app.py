"""Event collector: POST /interact.  Runs under uvicorn locally and Mangum on Lambda."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from mangum import Mangum

from functions.http_common import create_base_app, health_response
from functions.observability import Observability
from recsys import collector, health
from recsys.clients import Clients
from recsys.events import InteractionRequest
from recsys.settings import Settings, get_settings

observability = Observability("recsys-interact")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    clients = Clients(settings)
    app = create_base_app("recsys interact", settings, allow_methods=["POST", "GET"])
    app.state.clients = clients

    # A plain ``def``: it runs in the worker thread pool, so a slow Redis call
    # never blocks the event loop; the publish waits on its own deadline.
    @app.post("/interact")
    def interact(
        request: InteractionRequest,
        idempotency_key: Annotated[
            str | None,
            Header(
                description="Any unique string per logical request (8-128 characters). "
                "A retry with the same key returns the same event ids and adds no event."
            ),
        ] = None,
    ) -> JSONResponse:
        result = collector.collect(
            request,
            publisher=clients.publisher,
            store=clients.store,
            settings=settings,
            idempotency_key=idempotency_key,
        )
        observability.count("EventsIngested", len(result.events))
        return JSONResponse(
            {
                "status": "ok",
                "user_id": request.user_id,
                "event_ids": [e.event_id for e in result.events],
                "timestamp": result.events[0].timestamp,
                "seen_marked": result.seen_marked,
            }
        )

    @app.get("/healthcheck")
    async def healthcheck() -> JSONResponse:
        # Async, with each probe under its own deadline: it answers even while
        # every worker thread waits on a hung dependency.
        checks = await health.check_all(
            {
                "redis": health.in_thread(clients.store.ping),
                "rabbitmq": clients.publisher.ping_async,
            },
            timeout_s=settings.dependency_timeout_s,
        )
        healthy, body = health.report(checks)
        return health_response(healthy, body)

    return app


app = create_app()
handler = observability.instrument(Mangum(app, lifespan="off"))
