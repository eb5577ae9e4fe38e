"""Event collector: POST /interact.  Runs under uvicorn locally and Mangum on Lambda."""

from __future__ import annotations

from fastapi import FastAPI
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

    @app.post("/interact")
    def interact(request: InteractionRequest) -> JSONResponse:
        result = collector.collect(
            request, broker=clients.broker, store=clients.store, settings=settings
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
    def healthcheck() -> JSONResponse:
        healthy, body = health.report(
            [
                health.check("redis", clients.store.ping),
                health.check("rabbitmq", clients.broker.ping),
            ]
        )
        return health_response(healthy, body)

    return app


app = create_app()
handler = observability.instrument(Mangum(app, lifespan="off"))
