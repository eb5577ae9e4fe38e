"""FastAPI glue shared by the two HTTP functions (interact, recs).

Kept out of the ``recsys`` core, which has no web-framework imports.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from recsys.errors import DependencyUnavailable, InvalidRequest
from recsys.settings import Settings

log = logging.getLogger("recsys.http")


class ServiceIndex(BaseModel):
    """What GET / on each API answers: where its documentation is."""

    service: str
    docs: str
    redoc: str
    openapi: str


def create_base_app(title: str, settings: Settings, *, allow_methods: list[str]) -> FastAPI:
    # Swagger UI and ReDoc assets come from the fastapi-offline package, not a
    # CDN: /docs works offline and inside a VPC without internet access.
    app = FastAPIOffline(title=title, version="0.1.0")

    @app.get("/", response_model=ServiceIndex, summary="Where this API's documentation is")
    def index() -> ServiceIndex:
        return ServiceIndex(service=title, docs="/docs", redoc="/redoc", openapi="/openapi.json")

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=allow_methods,
        allow_headers=["Content-Type", "Authorization", "X-Admin-Token", "Idempotency-Key"],
        max_age=600,
    )

    @app.exception_handler(InvalidRequest)
    async def invalid_request(_: Request, exc: InvalidRequest) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": exc.problems})

    @app.exception_handler(DependencyUnavailable)
    async def dependency_unavailable(_: Request, exc: DependencyUnavailable) -> JSONResponse:
        log.warning("503: %s", exc)
        return JSONResponse(
            status_code=503,
            content={"detail": str(exc), "dependency": exc.dependency},
            headers={"Retry-After": "5"},
        )

    return app


def admin_authorised(settings: Settings, request: Request) -> tuple[bool, int, str]:
    """(ok, status, reason) for an admin request: Bearer token or X-Admin-Token."""
    if settings.admin_token is None or not settings.admin_token.get_secret_value():
        return False, 403, "admin endpoints are disabled: set RECSYS_ADMIN_TOKEN to enable them"
    header = request.headers.get("authorization", "")
    supplied = header[7:] if header.lower().startswith("bearer ") else ""
    supplied = supplied or request.headers.get("x-admin-token", "")
    if not supplied:
        return False, 401, "admin token required (Authorization: Bearer <token>)"
    if not hmac.compare_digest(supplied.encode(), settings.admin_token.get_secret_value().encode()):
        return False, 403, "admin token rejected"
    return True, 200, ""


def health_response(healthy: bool, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(status_code=200 if healthy else 503, content=body)
