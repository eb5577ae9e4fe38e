"""One typed settings object, read from the environment (prefix ``RECSYS_``).

Every function and job builds its clients from this object; tests override
fields by constructing ``Settings(...)`` directly or by setting env vars.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from recsys.domain.events import MAX_ID_LENGTH


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RECSYS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- services -------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    queue_name: str = "user_interactions"
    # Every Redis key this service owns starts with this prefix; /cleanup and
    # the tests delete by prefix, never the whole database.
    key_prefix: str = "recsys:"
    # Seconds a request may wait on a dependency before it answers 503.
    dependency_timeout_s: float = Field(1.5, gt=0, le=30)

    # --- storage ----------------------------------------------------------
    # A local folder (default) or s3://bucket/prefix.
    event_log_uri: str = "data/events"
    # Models, reports and optuna state: a local folder or s3://bucket/prefix.
    artifact_uri: str = "data/artifacts"
    # Raw data set files (MovieLens-100K) live here.
    data_dir: str = "data"
    # For LocalStack: http://127.0.0.1:4566.  Unset on AWS.
    s3_endpoint_url: str | None = None
    aws_region: str = "us-east-1"

    # --- API ------------------------------------------------------------
    admin_token: SecretStr | None = None
    cors_origins: Annotated[list[str], NoDecode] = [
        "http://localhost:8000",
        "http://127.0.0.1:8000",
    ]
    # Public base URLs of the two HTTP functions: written into the page's config.js.
    interact_url: str = "http://127.0.0.1:5000"
    recs_url: str = "http://127.0.0.1:5001"
    max_batch: int = Field(100, ge=1, le=10_000)
    max_id_length: int = Field(64, ge=1, le=MAX_ID_LENGTH)
    # Bodies above these answer 413 before they are parsed.  100 events with
    # 64-character ids take about 16 KB; admin catalogue uploads are larger.
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    max_admin_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    # A 422 lists at most this many problems (and says how many more there were).
    max_problems: int = Field(20, ge=1, le=1000)
    # How long an Idempotency-Key is remembered (retries after that make new events).
    idempotency_ttl_s: int = Field(24 * 3600, ge=60)
    # Per-user keys (seen set, recent likes) expire after this much inactivity;
    # the event log keeps the history (see README, "Retention").
    user_state_ttl_s: int = Field(90 * 24 * 3600, ge=60)
    # GET /recs waits at most this long on Redis before it serves the degraded
    # list from the process; after a failure it skips Redis for recs_retry_after_s.
    recs_redis_timeout_s: float = Field(0.3, gt=0, le=5)
    recs_retry_after_s: float = Field(2.0, ge=0, le=60)

    # --- recommendations ----------------------------------------------------
    n_recs: int = Field(12, ge=1, le=200)
    max_recs: int = Field(100, ge=1, le=1000)
    exploration_rate: float = Field(0.1, ge=0.0, le=1.0)
    # How many of the user's most recent likes seed real-time neighbours, and
    # the weight of each like relative to the next more recent one.
    realtime_seed_likes: int = Field(10, ge=0, le=50)
    realtime_decay: float = Field(0.85, gt=0.0, le=1.0)
    # Share of the personalised tier's places that go to those neighbours (the
    # rest to the model's personal list): the latest clicks are the freshest
    # evidence of taste; the personal list is as old as the last training run.
    realtime_share: float = Field(2 / 3, ge=0.0, le=1.0)
    recent_likes_kept: int = Field(50, ge=1, le=1000)

    # --- jobs -----------------------------------------------------------------
    drain_batch_size: int = Field(500, ge=1, le=10_000)
    popular_top_n: int = Field(200, ge=1, le=10_000)
    # Half-life (seconds) of an event's weight in the "popular now" score.
    popularity_half_life_s: float = Field(7 * 24 * 3600, gt=0)
    # An item enters the popular list only once this many distinct users like it:
    # one visitor (or one visitor's burst) cannot put a film in front of everyone.
    popularity_min_users: int = Field(3, ge=1)
    # Weight of the long-run prior (all-time net likes of distinct users) next to
    # the decayed recent trend: 0.1 means ten old likes count as one like today.
    popularity_prior_weight: float = Field(0.1, ge=0)
    # Compact the event log once it has this many parts more than date partitions.
    compact_after_parts: int = Field(64, ge=2)
    # How long a compaction's lease lasts; another job never merges meanwhile.
    compaction_lease_s: float = Field(900.0, gt=0)
    # Train again only once the log grew by this many events or this share of
    # the events the current model saw, whichever comes first.
    train_min_new_events: int = Field(50, ge=1)
    train_min_new_share: float = Field(0.01, ge=0)
    personal_top_n: int = Field(100, ge=1, le=1000)
    neighbours_top_m: int = Field(20, ge=1, le=200)
    # The search budget: whichever comes first.  Small because the search
    # starts from a known-good, cheap prior (or the last run's best): the whole
    # ML-100K job fits a minute on 2 cores (docs/training.md, "The search").
    train_trials: int = Field(10, ge=0)
    train_timeout_s: float = Field(25.0, ge=0)
    seed: int = 42

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # Accept "a,b" from the environment as well as a JSON list.
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                import json

                return json.loads(value)
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for a long-lived process (one per Lambda container)."""
    return Settings()
