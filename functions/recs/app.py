"""Recommendations: GET /recs/{user_id}, item metadata, model info, admin endpoints."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Query
from fastapi.responses import JSONResponse
from mangum import Mangum
from pydantic import BaseModel, Field

from functions.contract import (
    ADMIN_ERRORS,
    COMMON_ERRORS,
    CleanedUp,
    Failure,
    Health,
    ItemIdPath,
    ItemIdsQuery,
    Items,
    ItemsAdded,
    ModelAnswer,
    Recommendations,
    SearchResults,
    SimilarItems,
    Stats,
    UserIdPath,
)
from functions.http_common import admin_required, create_base_app, health_response
from functions.observability import Observability
from recsys.adapters import health
from recsys.adapters.serving_cache import AsyncServingCache, ServingCache
from recsys.clients import Clients
from recsys.domain.errors import InvalidRequest
from recsys.domain.events import ID_PATTERN
from recsys.domain.validation import Problem, check_id, require_id
from recsys.services import recommender, search
from recsys.services.catalogue import normalise_item
from recsys.services.degraded import ResilientRecs
from recsys.settings import Settings, get_settings

observability = Observability("recsys-recs")


class NewItem(BaseModel):
    item_id: str = Field(min_length=1, max_length=256)
    title: str | None = Field(None, max_length=500)
    year: int | None = Field(None, ge=1800, le=2100)
    genres: list[str] = Field(default_factory=list, max_length=20)
    poster_url: str | None = Field(None, max_length=2000, pattern=r"^https?://")


class AddItemsRequest(BaseModel):
    """Either bare ids (the original shape) or entries with metadata."""

    item_ids: list[str] = Field(default_factory=list, max_length=10_000)
    items: list[NewItem] = Field(default_factory=list, max_length=10_000)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    clients = Clients(settings)
    # /recs reads Redis with a short deadline and falls back to a list kept here.
    read_cache = ServingCache.from_settings(settings, timeout_s=settings.recs_redis_timeout_s)
    # The same reads for the async /recs: awaited on the server's loop, no thread hop.
    async_read_cache = AsyncServingCache(settings, timeout_s=settings.recs_redis_timeout_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await async_read_cache.aclose()

    app = create_base_app(
        "recsys recs",
        settings,
        allow_methods=["GET", "POST"],
        admin_paths=("/add_items", "/cleanup"),  # token checked before the body is read
        lifespan=lifespan,
    )
    app.state.clients = clients
    resilient = ResilientRecs(read_cache, settings, async_cache=async_read_cache)
    app.state.resilient_recs = resilient

    admin = [Depends(admin_required(settings))]

    # exclude_none: "because" appears only on items that have one (the original shape).
    @app.get(
        "/recs/{user_id}",
        response_model=Recommendations,
        response_model_exclude_none=True,
        responses=COMMON_ERRORS,
    )
    async def recs(
        user_id: UserIdPath,
        n: Annotated[int | None, Query(ge=1, le=1000)] = None,
    ) -> dict[str, Any]:
        require_id(user_id, settings.max_id_length, loc=("path", "user_id"))
        count = min(n or settings.n_recs, settings.max_recs)
        answer = await resilient.recommend_async(user_id, count)
        return {
            "user_id": user_id,
            "item_ids": answer.item_ids,
            "items": answer.items,
            "sources": answer.sources,
            "degraded": answer.degraded,
        }

    @app.get(
        "/items/{item_id}/similar",
        response_model=SimilarItems,
        responses={404: {"model": Failure, "description": "unknown item"}, **COMMON_ERRORS},
    )
    def similar(
        item_id: ItemIdPath,
        n: Annotated[int | None, Query(ge=1, le=100)] = None,
    ) -> Any:
        """Films that resemble this one ("More like this")."""
        require_id(item_id, settings.max_id_length, loc=("path", "item_id"))
        count = min(n or settings.n_recs, settings.max_recs)
        found = recommender.similar(item_id, count, cache=clients.cache, settings=settings)
        if found is None:
            return JSONResponse(status_code=404, content={"detail": f"unknown item {item_id!r}"})
        return {
            "item_id": item_id,
            "item_ids": found,
            "items": [{"item_id": i, "source": "similar"} for i in found],
        }

    @app.get("/items", response_model=Items, responses=COMMON_ERRORS)
    def items(ids: ItemIdsQuery) -> dict[str, Any]:
        """Catalogue metadata for the cards: ?ids=1,2,3."""
        item_ids = [i for i in (part.strip() for part in ids.split(",")) if i]
        if len(item_ids) > settings.max_recs:
            raise InvalidRequest.at(
                "query", "ids", msg=f"at most {settings.max_recs} ids per request"
            )
        if any(not ID_PATTERN.match(i) for i in item_ids):
            raise InvalidRequest.at(
                "query", "ids", msg="ids must be a comma-separated list of item ids"
            )
        return {"items": clients.cache.item_metadata(item_ids)}

    @app.get("/search", response_model=SearchResults, responses=COMMON_ERRORS)
    def search_titles(
        q: Annotated[str, Query(max_length=1000)],
        n: Annotated[int, Query(ge=1, le=50)] = 12,
    ) -> dict[str, Any]:
        """Films by title: word prefixes, accents folded, case-insensitive."""
        query = q.strip()
        if not query or len(query) > search.MAX_QUERY_LENGTH:
            reason = (
                "must not be empty"
                if not query
                else f"must be at most {search.MAX_QUERY_LENGTH} characters"
            )
            raise InvalidRequest.at("query", "q", msg=f"q {reason}")
        hits = search.search(clients.cache, query, n)
        return {
            "query": query,
            "item_ids": [hit.item_id for hit in hits],
            "items": [hit.as_dict() for hit in hits],
        }

    @app.get("/model", response_model=ModelAnswer, responses=COMMON_ERRORS)
    def model() -> dict[str, Any]:
        return {"model": clients.cache.model_info()}

    @app.get("/stats", response_model=Stats, responses=COMMON_ERRORS)
    def stats() -> dict[str, Any]:
        cache = clients.cache
        stats = cache.stats()
        popular = cache.popular(10)
        return {
            "stats": stats,
            "catalogue_size": cache.catalogue_size(),
            "top_popular": popular,
            "top_popular_items": cache.item_metadata(popular),
        }

    @app.post(
        "/add_items",
        response_model=ItemsAdded,
        dependencies=admin,
        responses={**ADMIN_ERRORS, **COMMON_ERRORS},
    )
    def add_items(body: Annotated[AddItemsRequest, Body()]) -> dict[str, Any]:
        entries = [item.model_dump() for item in body.items]
        entries += [{"item_id": item_id} for item_id in body.item_ids]
        problems = [
            Problem(("items", i), f"item_id {reason}").as_dict()
            for i, entry in enumerate(entries)
            if (reason := check_id(entry["item_id"], settings.max_id_length))
        ]
        if problems:
            raise InvalidRequest(problems)
        if not entries:
            raise InvalidRequest.at("body", msg="give item_ids or items")
        added = clients.cache.add_items(dict(normalise_item(e) for e in entries))
        return {"status": "ok", "added": added, "received": len(entries)}

    @app.post(
        "/cleanup",
        response_model=CleanedUp,
        dependencies=admin,
        responses={**ADMIN_ERRORS, **COMMON_ERRORS},
    )
    def cleanup() -> dict[str, Any]:
        """Delete this service's Redis keys and purge its queue; nothing else."""
        deleted = clients.cache.delete_all()
        purged = clients.broker.purge()
        return {"status": "ok", "deleted_keys": deleted, "purged_messages": purged}

    def catalogue_probe() -> dict[str, int]:
        size = read_cache.catalogue_size()
        if not size:
            raise RuntimeError("the catalogue is empty: run `recsys load-catalogue`")
        return {"size": size}

    @app.get("/healthcheck", response_model=Health, responses={503: {"model": Health}})
    async def healthcheck() -> JSONResponse:
        # RabbitMQ is left out on purpose: recs only needs it for /cleanup,
        # which answers 503 by itself when the broker is down.
        checks = await health.check_all(
            {
                "redis": health.in_thread(read_cache.ping),
                "catalogue": health.in_thread(catalogue_probe),
            },
            timeout_s=settings.dependency_timeout_s,
        )
        healthy, body = health.report(checks)
        if healthy:
            info = await asyncio.to_thread(read_cache.model_info)
            body["model"] = {k: info[k] for k in ("version", "trained_at") if k in info}
            return health_response(True, body)
        if not body["dependencies"]["redis"]["ok"]:
            # /recs still answers (degraded list), so this instance stays in service.
            body["degraded"] = True
            return health_response(True, body)
        return health_response(False, body)

    return app


app = create_app()
handler = observability.instrument(Mangum(app, lifespan="off"))
# What import built (the app, its schemas, the clients) lives as long as the
# process: keep it out of garbage collections, which then scan only what
# requests make (less CPU per request, shorter pauses).
gc.freeze()
