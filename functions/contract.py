"""The HTTP contract of the two APIs: every answer's shape, declared once.

Each route names its model as ``response_model``, so ``/openapi.json`` is the
contract, FastAPI filters and checks every answer against it, schemathesis
checks the live answers against the schema (tests/integration/functions/
test_fuzz.py), and the page reads only fields declared here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from recsys.domain.events import ID_PATTERN, MAX_ID_LENGTH

# Ids in paths: the hard cap here; the character rule (recsys.domain.events.ID_PATTERN)
# and Settings.max_id_length are checked by recsys.domain.validation.check_id, which
# names the rule in its 422 message.
_ID_RULE = f"letters, digits and _ . : @ - (pattern {ID_PATTERN.pattern})"
UserIdPath = Annotated[
    str, Path(min_length=1, max_length=MAX_ID_LENGTH, description=f"user id: {_ID_RULE}")
]
ItemIdPath = Annotated[
    str, Path(min_length=1, max_length=MAX_ID_LENGTH, description=f"item id: {_ID_RULE}")
]
ItemIdsQuery = Annotated[
    str,
    Query(
        max_length=20_000,
        description="comma-separated item ids",
        examples=["50,181"],
    ),
]


class Problem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationFailure(BaseModel):
    """Every 422: the problems (at most RECSYS_MAX_PROBLEMS) and how many were left out."""

    detail: list[Problem]
    more_problems: int | None = None


class Failure(BaseModel):
    """401, 403, 404, 413, 415 and 503 answers; ``dependency`` names what failed (503)."""

    detail: str
    dependency: str | None = None


class ServiceIndex(BaseModel):
    service: str
    docs: str
    redoc: str
    openapi: str


class DependencyHealth(BaseModel):
    model_config = ConfigDict(extra="allow")  # each probe may add details (size, ...)

    ok: bool
    latency_ms: float | None = None
    error: str | None = None


class ModelVersion(BaseModel):
    version: str | None = None
    trained_at: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    dependencies: dict[str, DependencyHealth]
    degraded: bool | None = None
    model: ModelVersion | None = None


# --- interact -----------------------------------------------------------------------
class Interacted(BaseModel):
    status: Literal["ok"]
    user_id: str
    event_ids: list[str]
    timestamp: float
    seen_marked: bool


# --- recs ---------------------------------------------------------------------------
class Recommendation(BaseModel):
    item_id: str
    source: Literal["personal", "realtime", "popular", "random", "explore", "similar"]
    because: str | None = Field(None, description="the liked film this one is close to")


class Recommendations(BaseModel):
    user_id: str
    item_ids: list[str]
    items: list[Recommendation]
    sources: dict[str, int]
    degraded: bool = False


class SimilarItem(BaseModel):
    item_id: str
    source: Literal["similar"]


class SimilarItems(BaseModel):
    item_id: str
    item_ids: list[str]
    items: list[SimilarItem]


class ItemMetadata(BaseModel):
    title: str
    year: int | None = None
    genres: list[str] = []
    poster_url: str | None = None


class Items(BaseModel):
    items: dict[str, ItemMetadata]


class SearchHit(BaseModel):
    item_id: str
    title: str
    year: int | None = None
    genres: list[str] = []


class SearchResults(BaseModel):
    query: str
    item_ids: list[str]
    items: list[SearchHit]


class Metrics(BaseModel):
    """Held-out metrics of one model on the training job's protocol."""

    hr_at_10: float
    ndcg_at_10: float
    recall_at_20: float | None = None
    coverage_at_10: float | None = None
    n_users: int | None = None


class ModelInfo(BaseModel):
    version: str | None = None
    trained_at: str | None = None
    published_at: str | None = None
    algorithm: str | None = None
    params: dict[str, Any] = {}
    metrics: Metrics | None = None
    baselines: dict[str, Metrics] = {}
    n_users: int | None = None
    n_likes: int | None = None
    n_items: int | None = None
    artifacts: str | None = None


class ModelAnswer(BaseModel):
    model: ModelInfo


class Counters(BaseModel):
    """What the jobs last wrote (times are epoch seconds or ISO 8601, as written)."""

    events_in_log: int | None = None
    users: int | None = None
    items: int | None = None
    likes: int | None = None
    dislikes: int | None = None
    popularity_ran_at: float | None = None
    train_last_run_at: str | None = None
    train_last_outcome: str | None = None
    train_last_seconds: float | None = None
    train_running_since: str | None = Field(None, description="set while a training run is on")


class Stats(BaseModel):
    stats: Counters
    catalogue_size: int
    top_popular: list[str]
    top_popular_items: dict[str, ItemMetadata]


class ItemsAdded(BaseModel):
    status: Literal["ok"]
    added: int
    received: int


class CleanedUp(BaseModel):
    status: Literal["ok"]
    deleted_keys: int
    purged_messages: int


# Answers every route may give besides its own; listed in /openapi.json.
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationFailure, "description": "the request breaks a rule"},
    503: {"model": Failure, "description": "a dependency is unavailable; retry later"},
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Failure, "description": "no admin token"},
    403: {"model": Failure, "description": "admin token rejected, or admin disabled"},
    413: {"model": Failure, "description": "body too large"},
    415: {"model": Failure, "description": "body is not JSON"},
}
