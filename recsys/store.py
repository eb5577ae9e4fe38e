"""Redis layout of the service, in one place.

All keys start with ``settings.key_prefix``.  Lists are written whole under a
temporary key and RENAMEd into place, so readers never see half a list.

| key                      | type | what                                              |
|--------------------------|------|---------------------------------------------------|
| catalogue                | hash | item_id -> JSON {title, year, genres, ...}        |
| catalogue:ids            | set  | item ids (validation, random picks)               |
| seen:{user}              | set  | items the user liked or disliked                  |
| likes:{user}             | list | the user's liked items, most recent first         |
| popular                  | list | popular item ids, best first                      |
| personal:{user}          | list | model recommendations, best first                 |
| neighbours:{item}        | list | items most similar to item, best first            |
| model                    | hash | version, trained_at, params, metrics (JSON)       |
| stats                    | hash | counters written by the jobs                      |
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis

from recsys.settings import Settings


def redis_client(settings: Settings) -> redis.Redis:
    # Bounded timeouts: a dead Redis gives a fast error, never a hang.
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.dependency_timeout_s,
        socket_connect_timeout=settings.dependency_timeout_s,
        decode_responses=True,
        health_check_interval=30,
    )


class Store:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        # redis-py types replies as bytes | str; clients here always decode to str.
        self.r: Any = client
        self.prefix = prefix

    # --- key names ------------------------------------------------------------
    def k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @property
    def catalogue_key(self) -> str:
        return self.k("catalogue")

    @property
    def catalogue_ids_key(self) -> str:
        return self.k("catalogue", "ids")

    @property
    def popular_key(self) -> str:
        return self.k("popular")

    @property
    def model_key(self) -> str:
        return self.k("model")

    @property
    def stats_key(self) -> str:
        return self.k("stats")

    def seen_key(self, user_id: str) -> str:
        return self.k("seen", user_id)

    def likes_key(self, user_id: str) -> str:
        return self.k("likes", user_id)

    def personal_key(self, user_id: str) -> str:
        return self.k("personal", user_id)

    def neighbours_key(self, item_id: str) -> str:
        return self.k("neighbours", item_id)

    # --- catalogue ------------------------------------------------------------
    def add_items(self, items: Mapping[str, Mapping[str, Any]]) -> int:
        """Add or update catalogue entries; returns how many ids are new."""
        if not items:
            return 0
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(
            self.catalogue_key,
            mapping={item_id: json.dumps(meta, sort_keys=True) for item_id, meta in items.items()},
        )
        pipe.sadd(self.catalogue_ids_key, *items.keys())
        _, added = pipe.execute()
        return int(added)

    def known_items(self, item_ids: Sequence[str]) -> list[bool]:
        if not item_ids:
            return []
        return [bool(x) for x in self.r.smismember(self.catalogue_ids_key, list(item_ids))]

    def catalogue_size(self) -> int:
        return int(self.r.scard(self.catalogue_ids_key))

    def item_metadata(self, item_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not item_ids:
            return {}
        raw = self.r.hmget(self.catalogue_key, list(item_ids))
        return {i: json.loads(v) for i, v in zip(item_ids, raw, strict=True) if v}

    def all_item_ids(self) -> list[str]:
        return sorted(self.r.smembers(self.catalogue_ids_key), key=natural_key)

    # --- user state -----------------------------------------------------------
    def record_interactions(self, pairs: Iterable[tuple[str, str, str]], keep_likes: int) -> None:
        """Mark (user, item, action) as seen, and keep each user's recent likes.

        Idempotent: replaying the same events leaves the same state.
        """
        pipe = self.r.pipeline(transaction=False)
        touched: set[str] = set()
        for user_id, item_id, action in pairs:
            pipe.sadd(self.seen_key(user_id), item_id)
            likes = self.likes_key(user_id)
            pipe.lrem(likes, 0, item_id)
            if action == "like":
                pipe.lpush(likes, item_id)
            touched.add(likes)
        for likes in touched:
            pipe.ltrim(likes, 0, keep_likes - 1)
        pipe.execute()

    def mark_seen(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Add (user, item) pairs to the seen sets: the job's repair from the log."""
        by_user: dict[str, set[str]] = {}
        for user_id, item_id in pairs:
            by_user.setdefault(user_id, set()).add(item_id)
        pipe = self.r.pipeline(transaction=False)
        for user_id, item_ids in by_user.items():
            pipe.sadd(self.seen_key(user_id), *item_ids)
        pipe.execute()

    # --- published lists ------------------------------------------------------
    def _replace_list(self, pipe: Any, key: str, values: Sequence[str]) -> None:
        if values:
            tmp = f"{key}:tmp:{uuid.uuid4().hex}"
            pipe.rpush(tmp, *values)
            pipe.rename(tmp, key)
        else:
            pipe.delete(key)

    def set_popular(self, item_ids: Sequence[str]) -> None:
        pipe = self.r.pipeline(transaction=True)
        self._replace_list(pipe, self.popular_key, item_ids)
        pipe.execute()

    def popular(self, n: int = -1) -> list[str]:
        return list(self.r.lrange(self.popular_key, 0, n - 1 if n > 0 else -1))

    def set_lists(self, key_fn: Any, lists: Mapping[str, Sequence[str]], chunk: int = 500) -> None:
        """Replace many lists (personal or neighbours), in pipelined chunks."""
        items = list(lists.items())
        for start in range(0, len(items), chunk):
            pipe = self.r.pipeline(transaction=False)
            for owner, values in items[start : start + chunk]:
                self._replace_list(pipe, key_fn(owner), values)
            pipe.execute()

    def set_personal(self, lists: Mapping[str, Sequence[str]]) -> None:
        self.set_lists(self.personal_key, lists)

    def set_neighbours(self, lists: Mapping[str, Sequence[str]]) -> None:
        self.set_lists(self.neighbours_key, lists)

    def set_model_info(self, info: Mapping[str, Any]) -> None:
        self.r.hset(
            self.model_key,
            mapping={k: v if isinstance(v, str) else json.dumps(v) for k, v in info.items()},
        )

    def model_info(self) -> dict[str, Any]:
        raw = self.r.hgetall(self.model_key)
        info: dict[str, Any] = {}
        for key, value in raw.items():
            try:
                info[key] = json.loads(value)
            except ValueError:
                info[key] = value
        return info

    def set_stats(self, **values: Any) -> None:
        self.r.hset(self.stats_key, mapping={k: str(v) for k, v in values.items()})

    def stats(self) -> dict[str, str]:
        return dict(self.r.hgetall(self.stats_key))

    # --- housekeeping ---------------------------------------------------------
    def memory_usage(self, *kinds: str) -> dict[str, tuple[int, int]]:
        """(keys, bytes) of each kind of key ("personal", "popular", ...), by MEMORY USAGE.

        A kind is the first part of the key name after the prefix, so
        "personal" counts every ``personal:{user}``.  For capacity planning
        (benchmarks/scale.py); SAMPLES 0 measures whole lists, not a sample.
        """
        usage: dict[str, tuple[int, int]] = {}
        for kind in kinds:
            keys = [self.k(kind)] if self.r.exists(self.k(kind)) else []
            keys += list(self.r.scan_iter(match=_glob_escape(self.k(kind, "")) + "*", count=1000))
            total = 0
            for start in range(0, len(keys), 1000):
                pipe = self.r.pipeline(transaction=False)
                for key in keys[start : start + 1000]:
                    pipe.memory_usage(key, samples=0)
                total += sum(int(size or 0) for size in pipe.execute())
            usage[kind] = (len(keys), total)
        return usage

    def delete_all(self) -> int:
        """Delete every key under this service's prefix (and nothing else)."""
        deleted = 0
        batch: list[str] = []
        for key in self.r.scan_iter(match=_glob_escape(self.prefix) + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(self.r.unlink(*batch))
                batch = []
        if batch:
            deleted += int(self.r.unlink(*batch))
        return deleted


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def natural_key(item_id: str) -> tuple[int, int | str]:
    return (0, int(item_id)) if item_id.isdigit() else (1, item_id)
