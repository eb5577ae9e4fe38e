"""FastAPI glue shared by the two HTTP functions (interact, recs).

Kept out of the ``recsys`` core, which has no web-framework imports.

Input limits are enforced here, before any work is done for a request:

- admin paths check the token before a byte of the body is read;
- a body larger than the cap answers 413 (``Content-Length`` is checked up
  front, a chunked body is counted as it arrives and cut at the cap);
- a body that is not JSON answers 415;
- JSON with NaN, Infinity or a number too large for a float answers 422;
- a 422 lists at most ``settings.max_problems`` problems, inputs shortened;
- a 503 names the dependency in plain words; the technical reason goes to the log.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.contract import ServiceIndex
from recsys.domain.errors import DependencyUnavailable, InvalidRequest
from recsys.settings import Settings

log = logging.getLogger("recsys.http")

# What a user may read in a 503: which dependency failed, in plain words.
DEPENDENCY_NAMES = {
    "redis": "the data store (Redis)",
    "rabbitmq": "the event queue (RabbitMQ)",
    "storage": "the object storage",
}


def dependency_message(dependency: str) -> str:
    name = DEPENDENCY_NAMES.get(dependency, dependency)
    return f"{name} is unavailable right now; please try again in a few seconds"


class AdminRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is too large")
    return value


def strict_json_loads(raw: bytes | str) -> Any:
    """json.loads that refuses NaN, Infinity and numbers that overflow a float.

    Raises ``json.JSONDecodeError`` (FastAPI turns it into a 422) for all of them.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not UTF-8", "", exc.start) from exc
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # also int too long for int(), bad UTF-8
        raise json.JSONDecodeError(str(exc), text[:200], 0) from exc


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_json_loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """Routes whose JSON bodies are parsed by ``strict_json_loads``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestLimits:
    """Pure ASGI middleware: auth, size and content type, before the body is read."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        admin_paths: Mapping[str, int] | None = None,
        authorise: Callable[[Mapping[str, str]], None] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # path -> its own body cap (admin uploads are larger than events)
        self.admin_paths = dict(admin_paths or {})
        self.authorise = authorise

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cap = self.max_body_bytes
        path = scope["path"]
        if path in self.admin_paths:
            cap = self.admin_paths[path]
            if self.authorise is not None:
                try:
                    self.authorise(headers)
                except AdminRefused as refused:
                    await _answer(send, refused.status, {"detail": refused.reason})
                    return
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _answer(send, 400, {"detail": "Content-Length must be a number"})
                return
            if int(declared) > cap:
                await _answer(send, 413, _too_large(cap))
                return
        has_body = (declared is not None and int(declared) > 0) or ("transfer-encoding" in headers)
        if has_body and not _is_json(headers.get("content-type", "")):
            await _answer(
                send, 415, {"detail": "send the body as JSON (Content-Type: application/json)"}
            )
            return
        # Read the whole (capped) body now, then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _answer(send, 413, _too_large(cap))
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_large(cap: int) -> dict[str, str]:
    return {"detail": f"request body too large: at most {cap} bytes"}


async def _answer(send: Send, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _short(value: Any, limit: int = 100) -> Any:
    """A problem's input, made JSON-safe and short (never echo a huge body back)."""
    if value is None or isinstance(value, bool | int | str):
        return value if not isinstance(value, str) or len(value) <= limit else value[:limit] + "…"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def capped_problems(problems: list[Any], limit: int) -> dict[str, Any]:
    shown = []
    for problem in problems[:limit]:
        entry = {k: v for k, v in dict(problem).items() if k in ("loc", "msg", "type")}
        entry["loc"] = [_short(part) for part in entry.get("loc", [])]
        if "input" in problem:
            entry["input"] = _short(problem["input"])
        if isinstance(problem.get("ctx"), dict):
            entry["ctx"] = {k: _short(v) for k, v in problem["ctx"].items()}
        shown.append(entry)
    content: dict[str, Any] = {"detail": shown}
    if len(problems) > limit:
        content["more_problems"] = len(problems) - limit
    return content


def create_base_app(
    title: str,
    settings: Settings,
    *,
    allow_methods: list[str],
    admin_paths: tuple[str, ...] = (),
    lifespan: Any = None,
) -> FastAPI:
    # Swagger UI and ReDoc assets come from the fastapi-offline package, not a
    # CDN: /docs works offline and inside a VPC without internet access.
    app = FastAPIOffline(title=title, version="0.1.0", lifespan=lifespan)
    app.router.route_class = StrictJSONRoute

    @app.get("/", response_model=ServiceIndex, summary="Where this API's documentation is")
    def index() -> ServiceIndex:
        return ServiceIndex(service=title, docs="/docs", redoc="/redoc", openapi="/openapi.json")

    def authorise(headers: Mapping[str, str]) -> None:
        ok, status, reason = admin_check(settings, headers)
        if not ok:
            raise AdminRefused(status, reason)

    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        admin_paths={path: settings.max_admin_body_bytes for path in admin_paths},
        authorise=authorise,
    )
    # Added last, so outermost: refusals above still carry CORS headers.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=allow_methods,
        allow_headers=["Content-Type", "Authorization", "Idempotency-Key"],
        max_age=600,
    )

    @app.exception_handler(RequestValidationError)
    async def validation_failed(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            status_code=422, content=capped_problems(list(exc.errors()), settings.max_problems)
        )

    @app.exception_handler(InvalidRequest)
    async def invalid_request(_: Request, exc: InvalidRequest) -> JSONResponse:
        return JSONResponse(
            status_code=422, content=capped_problems(exc.problems, settings.max_problems)
        )

    @app.exception_handler(DependencyUnavailable)
    async def dependency_unavailable(request: Request, exc: DependencyUnavailable) -> JSONResponse:
        log.warning("503 on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            status_code=503,
            content={"detail": dependency_message(exc.dependency), "dependency": exc.dependency},
            headers={"Retry-After": "5"},
        )

    return app


def admin_check(settings: Settings, headers: Mapping[str, str]) -> tuple[bool, int, str]:
    """(ok, status, reason) for an admin request: ``Authorization: Bearer <token>``."""
    if settings.admin_token is None or not settings.admin_token.get_secret_value():
        return False, 403, "admin endpoints are disabled: set RECSYS_ADMIN_TOKEN to enable them"
    header = headers.get("authorization", "")
    supplied = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not supplied:
        return False, 401, "admin token required (Authorization: Bearer <token>)"
    if not hmac.compare_digest(supplied.encode(), settings.admin_token.get_secret_value().encode()):
        return False, 403, "admin token rejected"
    return True, 200, ""


# Declares the Bearer scheme in /openapi.json (Swagger's "Authorize" button).
# The check itself runs in RequestLimits before the body is read; this
# dependency runs it again for the route, so an admin route cannot be added
# without it.
admin_bearer = HTTPBearer(auto_error=False, description="RECSYS_ADMIN_TOKEN")


def admin_required(settings: Settings) -> Callable[..., None]:
    """The one admin guard: ``dependencies=[Depends(admin_required(settings))]``."""

    def require_admin(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)],
    ) -> None:
        headers = {"authorization": f"Bearer {credentials.credentials}"} if credentials else {}
        ok, status, reason = admin_check(settings, headers)
        if not ok:
            raise HTTPException(status_code=status, detail=reason)

    return require_admin


def server_timing(**durations_s: float) -> str:
    """A ``Server-Timing`` header value: each step's duration, in milliseconds.

    Browsers show it in the network panel and in Resource Timing
    (``serverTiming``), so a slow click can be told apart: the network and
    the connection, or one of our dependencies.
    """
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in durations_s.items())


def timing_allow_origin(settings: Settings) -> str:
    """Who may read a response's timing details: the origins CORS already allows.

    Without it a browser hides a cross-origin request's connection phases and
    ``serverTiming`` from the page.
    """
    return ", ".join(settings.cors_origins)


def health_response(healthy: bool, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(status_code=200 if healthy else 503, content=body)
