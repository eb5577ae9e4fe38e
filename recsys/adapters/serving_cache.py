"""The serving cache: Redis, and the only code of the service that talks to it.

``ServingCache`` offers intention-level reads and writes (the user's view for
/recs, the popularity aggregates, published lists ...); its client is private
to this module, and every redis-py error leaves it as ``CacheUnavailable`` (a
503, or the caller's documented fallback).  tests/unit/test_boundaries.py
checks that nothing else imports redis-py or reaches the client.

All keys start with ``settings.key_prefix``.  Lists are written whole under a
temporary key and RENAMEd into place, so readers never see half a list.

| key                      | type | what                                              |
|--------------------------|------|---------------------------------------------------|
| catalogue                | hash | item_id -> JSON {title, year, genres, ...}        |
| catalogue:ids            | set  | item ids (validation, random picks)               |
| search:words             | zset | "word|item_id", score 0: title search by prefix   |
| catalogue:aliases        | hash | duplicate item id -> canonical id of the same film |
| seen:{user}              | set  | items the user liked or disliked (TTL, see below) |
| likes:{user}             | list | the user's liked items, most recent first (TTL)   |
| idem:{user}:{key}        | str  | JSON {fingerprint, timestamp} of an Idempotency-Key (TTL) |
| popular                  | list | popular item ids, best first                      |
| popular:prior            | list | most-liked films of the loaded history (cold start) |
| personal:{user}          | list | model recommendations, best first                 |
| neighbours:{item}        | list | items most similar to item, best first            |
| model                    | hash | version, trained_at, params, metrics (JSON)       |
| stats                    | hash | counters written by the jobs                      |
| pop:gen                  | str  | generation of the popularity aggregates below     |
| pop:{gen}:votes:{user}   | hash | item -> "timestamp<TAB>event_id<TAB>action", the  |
|                          |      | user's latest event on the item, then <TAB> and   |
|                          |      | the ids of its older events (exact event counts)  |
| pop:{gen}:trend          | hash | item -> decayed net votes, scaled to meta.anchor  |
| pop:{gen}:likes|dislikes | hash | item -> distinct users whose latest vote it is    |
| pop:{gen}:meta           | hash | anchor, ref (latest event time), events, users,   |
|                          |      | version, published_version                        |
| lease:{name}             | str  | a job's lease token (SET NX PX)                   |
| train:watermark          | hash | events the published model saw                   |

Per-user keys expire after ``user_state_ttl_s`` without activity (each write
refreshes the TTL), so anonymous visitors do not grow Redis without bound.
The event log stays the source of truth for them, and the popularity job
gives a returning user's history back from their votes hash
(``restore_returning_users``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import hiredis
import redis
import redis.asyncio

from recsys.domain.errors import DependencyUnavailable
from recsys.domain.events import RATINGS, Action, natural_key
from recsys.domain.text import index_words
from recsys.settings import Settings

StoreClass = TypeVar("StoreClass", bound=type)
T = TypeVar("T")


class CacheUnavailable(DependencyUnavailable):
    """Redis failed or timed out.  Raised by every ServingCache method, so callers handle
    one error (a 503, or their documented fallback) instead of redis-py's many.
    """

    def __init__(self, reason: str) -> None:
        super().__init__("redis", reason)


class _RedisErrorsAsCacheUnavailable:
    """``with`` this, a RedisError leaves as CacheUnavailable (both caches use it).

    A class rather than ``contextlib.contextmanager``: it wraps every call on the
    request path, and needs no generator per call.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        # DataError is a value redis-py cannot send: a bug here, not an outage.
        if isinstance(exc, redis.RedisError) and not isinstance(exc, redis.DataError):
            raise CacheUnavailable(f"{type(exc).__name__}: {exc}") from exc


_REDIS_ERRORS_AS_CACHE_UNAVAILABLE = _RedisErrorsAsCacheUnavailable()


def _translating_redis_errors(cls: StoreClass) -> StoreClass:
    """Wrap each public method so a RedisError leaves the ServingCache as CacheUnavailable."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _REDIS_ERRORS_AS_CACHE_UNAVAILABLE:
                return method(*args, **kwargs)

        return wrapper

    for name, attr in list(vars(cls).items()):
        if callable(attr) and not name.startswith("_") and not isinstance(attr, staticmethod):
            setattr(cls, name, wrap(attr))
    return cls


@dataclass(frozen=True)
class UserView:
    seen: set[str]
    recent_likes: list[str]  # most recent first
    personal: list[str]
    popular: list[str]


@dataclass(frozen=True)
class TopUp:
    popular: list[str]
    random_pool: list[str]


# Applies a batch of events to the popularity aggregates, atomically.
# Per (user, item) the latest event (by timestamp, then event_id) wins, so
# applying an event twice, or two jobs applying batches in any order, ends in
# the same state.  KEYS: gen, trend, likes, dislikes, meta, then one votes
# hash per distinct user of the batch.  ARGV: gen, half-life (s), then per
# event: index of its votes key in KEYS, item, timestamp, event_id, action.
# Returns the number of events that changed a vote, or -1 when the
# generation moved on (a rebuild started): the caller re-reads it and retries.
# A returning user's state from their votes hash (restore_returning_users).
# KEYS: seen, likes, votes of one user; ARGV: likes kept, TTL ("" for none).
# Each votes value is "timestamp<TAB>event_id<TAB>action", then older ids.
# Returns 1 if the user was restored, 0 if their seen set was complete.
_RESTORE_USER_LUA = """
local seen, likes, votes = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HLEN', votes) <= redis.call('SCARD', seen) then return 0 end
local flat = redis.call('HGETALL', votes)
local rated, liked = {}, {}
for i = 1, #flat, 2 do
  local ts, action = string.match(flat[i + 1], '^([^\t]*)\t[^\t]*\t([^\t]*)')
  if action == 'like' or action == 'dislike' then rated[#rated + 1] = flat[i] end
  if action == 'like' then liked[#liked + 1] = {tonumber(ts), flat[i]} end
end
for i = 1, #rated, 1000 do
  redis.call('SADD', seen, unpack(rated, i, math.min(i + 999, #rated)))
end
-- Newest like first (ties: the larger id first).  Appended at the tail, so
-- the likes made since the return stay first and a like pushed meanwhile by
-- /interact is not overwritten.
table.sort(liked, function(a, b)
  if a[1] ~= b[1] then return a[1] > b[1] end
  return a[2] > b[2]
end)
local kept = {}
for _, item in ipairs(redis.call('LRANGE', likes, 0, -1)) do kept[item] = true end
local room = tonumber(ARGV[1]) - redis.call('LLEN', likes)
local older = {}
for _, like in ipairs(liked) do
  if #older >= room then break end
  if not kept[like[2]] then older[#older + 1] = like[2] end
end
if #older > 0 then redis.call('RPUSH', likes, unpack(older)) end
if ARGV[2] ~= '' then
  redis.call('EXPIRE', seen, ARGV[2])
  redis.call('EXPIRE', likes, ARGV[2])
end
return 1
"""

_APPLY_VOTES_LUA = """
local current = redis.call('GET', KEYS[1]) or '0'
if current ~= ARGV[1] then return -1 end
local trend, likes, dislikes, meta = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local half_life = tonumber(ARGV[2])
local n = (#ARGV - 2) / 5
local function sign(action)
  if action == 'like' then return 1 elseif action == 'dislike' then return -1 end
  return 0
end
local function count(action, delta, item)
  if action == 'like' then redis.call('HINCRBY', likes, item, delta)
  elseif action == 'dislike' then redis.call('HINCRBY', dislikes, item, delta) end
end
-- Scores are kept as sum(sign * 2^((t - anchor) / half_life)); decay is
-- multiplicative, so moving the anchor is one rescale of every item.
local batch_max, batch_max_s = nil, nil
for j = 0, n - 1 do
  local ts = tonumber(ARGV[3 + j * 5 + 2])
  if batch_max == nil or ts > batch_max then batch_max, batch_max_s = ts, ARGV[3 + j * 5 + 2] end
end
local anchor = tonumber(redis.call('HGET', meta, 'anchor'))
if anchor == nil then
  anchor = batch_max
  redis.call('HSET', meta, 'anchor', batch_max_s)
elseif (batch_max - anchor) / half_life > 256 then
  local factor = 2 ^ (-(batch_max - anchor) / half_life)
  local all = redis.call('HGETALL', trend)
  for i = 1, #all, 2 do
    redis.call('HSET', trend, all[i], string.format('%.17g', tonumber(all[i + 1]) * factor))
  end
  anchor = batch_max
  redis.call('HSET', meta, 'anchor', batch_max_s)
end
local ref = tonumber(redis.call('HGET', meta, 'ref'))
if ref == nil or batch_max > ref then redis.call('HSET', meta, 'ref', batch_max_s) end
local changed, new_events = 0, 0
for j = 0, n - 1 do
  local b = 3 + j * 5
  local votes = KEYS[tonumber(ARGV[b])]
  local item, ts_s, eid, action = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local ts = tonumber(ts_s)
  local old = redis.call('HGET', votes, item)
  local apply = true
  local others = ''
  if old then
    -- "ts<TAB>event_id<TAB>action[<TAB>other,event,ids]": the pair's latest event,
    -- and the ids of its older ones, so a redelivered event is never counted twice.
    local ots_s, oeid, oaction, older = string.match(old, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$')
    local ots = tonumber(ots_s)
    others = older
    local seen = oeid == eid or string.find(',' .. others .. ',', ',' .. eid .. ',', 1, true)
    if seen then
      apply = false
    else
      new_events = new_events + 1
      if ots > ts or (ots == ts and oeid > eid) then
        apply = false
        local more = others == '' and eid or (others .. ',' .. eid)
        redis.call('HSET', votes, item, ots_s .. '\t' .. oeid .. '\t' .. oaction .. '\t' .. more)
      else
        others = others == '' and oeid or (others .. ',' .. oeid)
      end
    end
    if apply then
      local s = sign(oaction)
      if s ~= 0 then
        local w = s * 2 ^ ((ots - anchor) / half_life)
        redis.call('HINCRBYFLOAT', trend, item, string.format('%.17g', -w))
      end
      count(oaction, -1, item)
    end
  else
    new_events = new_events + 1
    if redis.call('EXISTS', votes) == 0 then redis.call('HINCRBY', meta, 'users', 1) end
  end
  if apply then
    local history = others ~= '' and ('\t' .. others) or ''
    redis.call('HSET', votes, item, ts_s .. '\t' .. eid .. '\t' .. action .. history)
    local s = sign(action)
    if s ~= 0 then
      local w = s * 2 ^ ((ts - anchor) / half_life)
      redis.call('HINCRBYFLOAT', trend, item, string.format('%.17g', w))
    end
    count(action, 1, item)
    changed = changed + 1
  end
end
redis.call('HINCRBY', meta, 'events', new_events)
if changed > 0 then redis.call('HINCRBY', meta, 'version', 1) end
return changed
"""

# Deletes a key only if it still holds the caller's token: a job never
# releases a lease that expired and was taken by another job.
_RELEASE_LEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class PopularityState:
    """The popularity aggregates as stored: trend scores are relative to ``anchor``."""

    trend: dict[str, float]
    likes: dict[str, int]
    dislikes: dict[str, int]
    anchor: float | None
    ref: float | None
    events: int
    users: int
    version: int
    published_version: int

    @property
    def exists(self) -> bool:
        return self.anchor is not None


def _redis_client(settings: Settings, *, timeout_s: float | None = None) -> redis.Redis:
    # Bounded timeouts: a dead or hung Redis gives a fast error, never a hang.
    timeout = settings.dependency_timeout_s if timeout_s is None else timeout_s
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        health_check_interval=30,
    )


class CacheKeys:
    """The key names under one prefix: shared by the blocking and the asyncio caches."""

    def __init__(self, prefix: str, *, user_state_ttl_s: int | None = None) -> None:
        self.prefix = prefix
        # None: per-user keys never expire (tests and tools that build a cache by hand).
        self.user_state_ttl_s = user_state_ttl_s

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
    def search_key(self) -> str:
        return self.k("search", "words")

    @property
    def aliases_key(self) -> str:
        return self.k("catalogue", "aliases")

    @property
    def popular_key(self) -> str:
        return self.k("popular")

    @property
    def popular_prior_key(self) -> str:
        return self.k("popular", "prior")

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

    def idempotency_key(self, user_id: str, key: str) -> str:
        return self.k("idem", user_id, key)

    def votes_key(self, gen: str, user_id: str) -> str:
        """The user's latest event per film in popularity generation ``gen``."""
        return self.k("pop", gen, "votes", user_id)

    # --- commands and replies shared by both caches (the pipeline API is the same) ---
    def _queue_canonical(self, pipe: Any, item_ids: Sequence[str]) -> None:
        pipe.smismember(self.catalogue_ids_key, list(item_ids))
        pipe.hmget(self.aliases_key, list(item_ids))

    @staticmethod
    def _canonical(item_ids: Sequence[str], replies: Sequence[Any]) -> list[str | None]:
        known, canonical = replies
        return [
            item_id if ok else alias
            for item_id, ok, alias in zip(item_ids, known, canonical, strict=True)
        ]

    def _queue_interactions(
        self, pipe: Any, pairs: Iterable[tuple[str, str, str]], keep_likes: int
    ) -> None:
        # Applying the events one by one (LREM, SADD or SREM, LPUSH each) ends
        # in the state that each item's last action gives: rated or not, and
        # the liked items in the order of their last like.  So per user: one
        # LREM per item, then one SADD, SREM and LPUSH for the whole batch
        # (LPUSH of several values pushes them in order).
        last_action: dict[str, dict[str, str]] = {}
        for user_id, item_id, action in pairs:
            items = last_action.setdefault(user_id, {})
            items.pop(item_id, None)  # re-inserted: dict order is the order of last actions
            items[item_id] = action
        for user_id, items in last_action.items():
            likes = self.likes_key(user_id)
            for item_id in items:
                pipe.lrem(likes, 0, item_id)
            rated = [i for i, a in items.items() if a in RATINGS]
            unrated = [i for i, a in items.items() if a not in RATINGS]
            liked = [i for i, a in items.items() if a == Action.LIKE]
            if rated:
                pipe.sadd(self.seen_key(user_id), *rated)
            if unrated:
                pipe.srem(self.seen_key(user_id), *unrated)
            if liked:
                pipe.lpush(likes, *liked)
                pipe.ltrim(likes, 0, keep_likes - 1)
        self._refresh_ttl(pipe, last_action)

    def _refresh_ttl(self, pipe: Any, users: Iterable[str]) -> None:
        if self.user_state_ttl_s is None:
            return
        for user_id in users:
            # EXPIRE on a missing key is a no-op (an empty likes list does not exist).
            pipe.expire(self.seen_key(user_id), self.user_state_ttl_s)
            pipe.expire(self.likes_key(user_id), self.user_state_ttl_s)

    @staticmethod
    def _idempotency_value(fingerprint: str, timestamp: float) -> str:
        return json.dumps({"fingerprint": fingerprint, "timestamp": timestamp})

    @staticmethod
    def _remembered(previous: str | None, fingerprint: str, timestamp: float) -> tuple[str, float]:
        if previous is None:
            return fingerprint, timestamp
        stored = json.loads(previous)
        return str(stored["fingerprint"]), float(stored["timestamp"])

    def _queue_user_view(
        self, pipe: Any, user_id: str, *, recent_likes: int, personal: int, popular: int
    ) -> None:
        pipe.smembers(self.seen_key(user_id))
        # LRANGE 0 -1 would read the whole list, so ask for at least one and slice.
        pipe.lrange(self.likes_key(user_id), 0, max(recent_likes, 1) - 1)
        pipe.lrange(self.personal_key(user_id), 0, personal - 1)
        pipe.lrange(self.popular_key, 0, popular - 1)
        pipe.lrange(self.popular_prior_key, 0, popular - 1)

    @staticmethod
    def _user_view(replies: Sequence[Any], recent_likes: int) -> UserView:
        seen, likes, personal_ids, popular_ids, prior_ids = replies
        return UserView(
            seen=set(seen),
            recent_likes=list(likes)[:recent_likes],
            personal=list(personal_ids),
            # Before the popularity job's first run, the loaded history's list.
            popular=list(popular_ids) or list(prior_ids),
        )

    def _queue_candidates(
        self, pipe: Any, seeds: Sequence[str], *, per_seed: int, random_draw: int
    ) -> None:
        pipe.srandmember(self.catalogue_ids_key, max(random_draw, 0))
        for item_id in seeds:
            pipe.lrange(self.neighbours_key(item_id), 0, per_seed - 1)

    @staticmethod
    def _candidates(replies: Sequence[Any]) -> tuple[list[str], list[list[str]]]:
        random_pool, *neighbour_lists = replies
        return list(random_pool or []), [list(ids) for ids in neighbour_lists]

    def _queue_top_up(
        self, pipe: Any, *, popular_from: int, popular: int, random_draw: int
    ) -> None:
        pipe.lrange(self.popular_key, popular_from, popular_from + popular - 1)
        pipe.lrange(self.popular_prior_key, popular_from, popular_from + popular - 1)
        pipe.srandmember(self.catalogue_ids_key, random_draw)

    @staticmethod
    def _top_up(replies: Sequence[Any]) -> TopUp:
        popular_ids, prior_ids, random_pool = replies
        return TopUp(popular=list(popular_ids) or list(prior_ids), random_pool=list(random_pool))


@_translating_redis_errors
class ServingCache(CacheKeys):
    def __init__(
        self, client: redis.Redis, prefix: str, *, user_state_ttl_s: int | None = None
    ) -> None:
        super().__init__(prefix, user_state_ttl_s=user_state_ttl_s)
        # redis-py types replies as bytes | str; clients here always decode to str.
        self._client: Any = client

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout_s: float | None = None) -> ServingCache:
        """The cache the settings describe; ``timeout_s`` bounds each call (default:
        ``dependency_timeout_s``), as ``AsyncServingCache(settings, timeout_s=...)``."""
        return cls(
            _redis_client(settings, timeout_s=timeout_s),
            settings.key_prefix,
            user_state_ttl_s=settings.user_state_ttl_s,
        )

    # --- connection ------------------------------------------------------------
    def ping(self) -> bool:
        return bool(self._client.ping())

    def close(self) -> None:
        self._client.close()

    # --- one-off markers (e.g. "MovieLens history bootstrapped") ------------------
    def flag(self, name: str) -> str | None:
        value = self._client.get(self.k(name))
        return None if value is None else str(value)

    def set_flag(self, name: str, value: str | int) -> None:
        self._client.set(self.k(name), value)

    # --- catalogue ------------------------------------------------------------
    def add_items(self, items: Mapping[str, Mapping[str, Any]]) -> int:
        """Add or update catalogue entries; returns how many ids are new."""
        if not items:
            return 0
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(
            self.catalogue_key,
            mapping={item_id: json.dumps(meta, sort_keys=True) for item_id, meta in items.items()},
        )
        pipe.sadd(self.catalogue_ids_key, *items.keys())
        members = _search_members(items)
        if members:
            pipe.zadd(self.search_key, members)
        added = pipe.execute()[1]
        return int(added)

    def search_candidates(
        self, prefixes: Sequence[str], limit: int
    ) -> tuple[list[set[str]], list[str]]:
        """For each prefix, the ids of items with a title word that starts with it;
        and the popular list, to rank them.  One round trip (two the first time
        on a catalogue loaded before the search index existed)."""
        pipe = self._client.pipeline(transaction=False)
        pipe.zcard(self.search_key)
        pipe.lrange(self.popular_key, 0, -1)
        for prefix in prefixes:
            # Members are "word|item_id"; b"\xff" sorts after every UTF-8 byte.
            pipe.zrangebylex(
                self.search_key, "[" + prefix, b"(" + prefix.encode() + b"\xff", 0, limit
            )
        size, popular, *matches = pipe.execute()
        if not size and self.rebuild_search_index():
            return self.search_candidates(prefixes, limit)
        return [{m.rpartition("|")[2] for m in found} for found in matches], list(popular)

    def rebuild_search_index(self) -> int:
        """Index every catalogue title; returns how many index entries it wrote."""
        items = {i: json.loads(v) for i, v in self._client.hgetall(self.catalogue_key).items()}
        members = _search_members(items)
        if members:
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(self.search_key)
            pipe.zadd(self.search_key, members)
            pipe.execute()
        return len(members)

    def known_items(self, item_ids: Sequence[str]) -> list[bool]:
        if not item_ids:
            return []
        return [bool(x) for x in self._client.smismember(self.catalogue_ids_key, list(item_ids))]

    def set_aliases(self, aliases: Mapping[str, str]) -> None:
        """Record duplicate ids of a film (alias -> canonical id)."""
        if aliases:
            self._client.hset(self.aliases_key, mapping=dict(aliases))

    def canonical_items(self, item_ids: Sequence[str]) -> list[str | None]:
        """Each id as the catalogue knows it: itself, its film's canonical id, or None."""
        if not item_ids:
            return []
        pipe = self._client.pipeline(transaction=False)
        self._queue_canonical(pipe, item_ids)
        return self._canonical(item_ids, pipe.execute())

    def has_item(self, item_id: str) -> bool:
        return bool(self._client.sismember(self.catalogue_ids_key, item_id))

    def catalogue_size(self) -> int:
        return int(self._client.scard(self.catalogue_ids_key))

    def item_metadata(self, item_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not item_ids:
            return {}
        raw = self._client.hmget(self.catalogue_key, list(item_ids))
        return {i: json.loads(v) for i, v in zip(item_ids, raw, strict=True) if v}

    def all_item_ids(self) -> list[str]:
        return sorted(self._client.smembers(self.catalogue_ids_key), key=natural_key)

    # --- user state -----------------------------------------------------------
    def record_interactions(self, pairs: Iterable[tuple[str, str, str]], keep_likes: int) -> None:
        """Apply (user, item, action) in order: like/dislike mark the item seen
        (a like also goes to the front of the recent likes); any other action
        (``remove``) takes the item out of both, so it may be recommended again.

        Idempotent: replaying the same events leaves the same state.
        """
        pipe = self._client.pipeline(transaction=False)
        self._queue_interactions(pipe, pairs, keep_likes)
        pipe.execute()

    def user_state_ttls(self, user_id: str) -> dict[str, int]:
        """Seconds left on each per-user key (-1: no expiry, -2: no such key)."""
        pipe = self._client.pipeline(transaction=False)
        pipe.ttl(self.seen_key(user_id))
        pipe.ttl(self.likes_key(user_id))
        seen, likes = pipe.execute()
        return {"seen": int(seen), "likes": int(likes)}

    def remember_idempotency_key(
        self, user_id: str, key: str, fingerprint: str, timestamp: float, ttl_s: int
    ) -> tuple[str, float]:
        """Store (fingerprint, timestamp) for a new key; return what the key holds.

        The first request with a key wins; a retry gets the first one's
        fingerprint and timestamp back, so it rebuilds identical events.
        """
        # SET NX GET (Redis >= 7): one round trip, the old value if there was one.
        previous = self._client.set(
            self.idempotency_key(user_id, key),
            self._idempotency_value(fingerprint, timestamp),
            nx=True,
            ex=ttl_s,
            get=True,
        )
        return self._remembered(previous, fingerprint, timestamp)

    def seen_items(self, user_id: str) -> set[str]:
        return set(self._client.smembers(self.seen_key(user_id)))

    def mark_seen(
        self, pairs: Iterable[tuple[str, str]], removed: Iterable[tuple[str, str]] = ()
    ) -> None:
        """The job's repair from the log: add rated (user, item) pairs to the
        seen sets, and take removed ones out of the seen sets and recent likes."""
        by_user: dict[str, set[str]] = {}
        for user_id, item_id in pairs:
            by_user.setdefault(user_id, set()).add(item_id)
        pipe = self._client.pipeline(transaction=False)
        for user_id, item_ids in by_user.items():
            pipe.sadd(self.seen_key(user_id), *item_ids)
        for user_id, item_id in removed:
            pipe.srem(self.seen_key(user_id), item_id)
            pipe.lrem(self.likes_key(user_id), 0, item_id)
        self._refresh_ttl(pipe, by_user)
        pipe.execute()

    def restore_returning_users(self, user_ids: Iterable[str], keep_likes: int) -> int:
        """Give back the rated films and recent likes of users whose keys expired.

        A user who returns after ``user_state_ttl_s`` starts with an empty seen
        set.  The popularity aggregates keep each user's latest event per film
        without a TTL (``pop:{gen}:votes:{user}``), so the job, which calls this
        for the users of every batch it folds in, adds their rated films back to
        the seen set and appends their older likes, newest first, after the
        likes they made since they returned.  A user whose seen set holds as
        many films as their aggregates is left alone at the cost of an SCARD
        and an HLEN (a user who took ratings back is read again each time;
        restoring is idempotent).  The work runs inside Redis, one script call
        per user in one pipeline: nothing of a long history crosses the wire,
        and other clients are served between two users.  Returns how many
        users were restored.
        """
        users = list(dict.fromkeys(user_ids))
        if not users:
            return 0
        gen = self._popularity_gen()
        ttl = "" if self.user_state_ttl_s is None else str(self.user_state_ttl_s)
        pipe = self._client.pipeline(transaction=False)
        for user_id in users:
            keys = [self.seen_key(user_id), self.likes_key(user_id), self.votes_key(gen, user_id)]
            self._restore_user_script(keys=keys, args=[keep_likes, ttl], client=pipe)
        return sum(int(restored) for restored in pipe.execute())

    @cached_property
    def _restore_user_script(self) -> Any:
        return self._client.register_script(_RESTORE_USER_LUA)

    # --- published lists ------------------------------------------------------
    def _replace_list(self, pipe: Any, key: str, values: Sequence[str]) -> None:
        if values:
            tmp = f"{key}:tmp:{uuid.uuid4().hex}"
            pipe.rpush(tmp, *values)
            pipe.rename(tmp, key)
        else:
            pipe.delete(key)

    def set_popular(self, item_ids: Sequence[str]) -> None:
        pipe = self._client.pipeline(transaction=True)
        self._replace_list(pipe, self.popular_key, item_ids)
        pipe.execute()

    def popular(self, n: int = -1) -> list[str]:
        return list(self._client.lrange(self.popular_key, 0, n - 1 if n > 0 else -1))

    def set_popular_prior(self, item_ids: Sequence[str]) -> None:
        pipe = self._client.pipeline(transaction=True)
        self._replace_list(pipe, self.popular_prior_key, item_ids)
        pipe.execute()

    def popular_prior(self, n: int = -1) -> list[str]:
        return list(self._client.lrange(self.popular_prior_key, 0, n - 1 if n > 0 else -1))

    def neighbours(self, item_id: str, n: int) -> list[str]:
        return list(self._client.lrange(self.neighbours_key(item_id), 0, n - 1))

    # --- the reads of GET /recs: one pipeline each ------------------------------
    def read_user_view(
        self, user_id: str, *, recent_likes: int, personal: int, popular: int
    ) -> UserView:
        """Round trip 1: what the user rated, their recent likes, personal and popular heads."""
        pipe = self._client.pipeline(transaction=False)
        self._queue_user_view(
            pipe, user_id, recent_likes=recent_likes, personal=personal, popular=popular
        )
        return self._user_view(pipe.execute(), recent_likes)

    def read_candidates(
        self, seeds: Sequence[str], *, per_seed: int, random_draw: int
    ) -> tuple[list[str], list[list[str]]]:
        """Round trip 2: a random sample of the catalogue and the seeds' neighbour heads."""
        pipe = self._client.pipeline(transaction=False)
        self._queue_candidates(pipe, seeds, per_seed=per_seed, random_draw=random_draw)
        return self._candidates(pipe.execute())

    def read_top_up(self, *, popular_from: int, popular: int, random_draw: int) -> TopUp:
        """The rare third round trip, when filtering left too few candidates."""
        pipe = self._client.pipeline(transaction=False)
        self._queue_top_up(
            pipe, popular_from=popular_from, popular=popular, random_draw=random_draw
        )
        return self._top_up(pipe.execute())

    def set_lists(self, key_fn: Any, lists: Mapping[str, Sequence[str]], chunk: int = 500) -> None:
        """Replace many lists (personal or neighbours), in pipelined chunks."""
        items = list(lists.items())
        for start in range(0, len(items), chunk):
            pipe = self._client.pipeline(transaction=False)
            for owner, values in items[start : start + chunk]:
                self._replace_list(pipe, key_fn(owner), values)
            pipe.execute()

    def set_personal(self, lists: Mapping[str, Sequence[str]]) -> None:
        self.set_lists(self.personal_key, lists)

    def set_neighbours(self, lists: Mapping[str, Sequence[str]]) -> None:
        self.set_lists(self.neighbours_key, lists)

    def set_model_info(self, info: Mapping[str, Any]) -> None:
        self._client.hset(
            self.model_key,
            mapping={k: v if isinstance(v, str) else json.dumps(v) for k, v in info.items()},
        )

    def model_info(self) -> dict[str, Any]:
        raw = self._client.hgetall(self.model_key)
        info: dict[str, Any] = {}
        for key, value in raw.items():
            try:
                info[key] = json.loads(value)
            except ValueError:
                info[key] = value
        return info

    def set_stats(self, **values: Any) -> None:
        self._client.hset(self.stats_key, mapping={k: str(v) for k, v in values.items()})

    def stats(self) -> dict[str, str]:
        return dict(self._client.hgetall(self.stats_key))

    # --- popularity aggregates ------------------------------------------------
    @property
    def popularity_gen_key(self) -> str:
        return self.k("pop", "gen")

    def _popularity_keys(self, gen: str) -> tuple[str, str, str, str]:
        return (
            self.k("pop", gen, "trend"),
            self.k("pop", gen, "likes"),
            self.k("pop", gen, "dislikes"),
            self.k("pop", gen, "meta"),
        )

    def _popularity_gen(self) -> str:
        return str(self._client.get(self.popularity_gen_key) or "0")

    def apply_votes(
        self, events: Sequence[tuple[str, str, float, str, str]], half_life_s: float
    ) -> int:
        """Fold (user, item, timestamp, event_id, action) events into the aggregates.

        Idempotent and order-free (the latest event per user and item wins);
        returns how many events changed a vote.
        """
        if not events:
            return 0
        for _ in range(5):
            gen = self._popularity_gen()
            user_index: dict[str, int] = {}
            argv: list[str] = [gen, repr(float(half_life_s))]
            for user_id, item_id, timestamp, event_id, action in events:
                # KEYS[1..5] are the generation and the aggregates; users follow.
                index = user_index.setdefault(user_id, len(user_index) + 6)
                argv += [str(index), item_id, repr(float(timestamp)), event_id, action]
            keys = [
                self.popularity_gen_key,
                *self._popularity_keys(gen),
                *(self.votes_key(gen, user) for user in user_index),
            ]
            changed = int(self._apply_votes_script(keys=keys, args=argv))
            if changed >= 0:
                return changed
        raise RuntimeError("the popularity aggregates were rebuilt 5 times during one batch")

    @cached_property
    def _apply_votes_script(self) -> Any:
        return self._client.register_script(_APPLY_VOTES_LUA)

    def popularity_state(self) -> PopularityState:
        """Every item's aggregates and the bookkeeping, read in one transaction."""
        trend_key, likes_key, dislikes_key, meta_key = self._popularity_keys(self._popularity_gen())
        pipe = self._client.pipeline(transaction=True)
        pipe.hgetall(trend_key)
        pipe.hgetall(likes_key)
        pipe.hgetall(dislikes_key)
        pipe.hgetall(meta_key)
        trend, likes, dislikes, meta = pipe.execute()

        def number(name: str) -> float | None:
            return float(meta[name]) if name in meta else None

        return PopularityState(
            trend={item: float(v) for item, v in trend.items()},
            likes={item: int(v) for item, v in likes.items()},
            dislikes={item: int(v) for item, v in dislikes.items()},
            anchor=number("anchor"),
            ref=number("ref"),
            events=int(meta.get("events", 0)),
            users=int(meta.get("users", 0)),
            version=int(meta.get("version", 0)),
            published_version=int(meta.get("published_version", -1)),
        )

    def has_popularity_state(self) -> bool:
        meta_key = self._popularity_keys(self._popularity_gen())[3]
        return bool(self._client.hexists(meta_key, "anchor"))

    def mark_popular_published(self, version: int) -> None:
        meta_key = self._popularity_keys(self._popularity_gen())[3]
        self._client.hset(meta_key, "published_version", version)

    def load_popularity(
        self,
        *,
        votes: Iterable[tuple[str, Mapping[str, str]]],
        trend: Mapping[str, float],
        likes: Mapping[str, int],
        dislikes: Mapping[str, int],
        anchor: float,
        events: int,
        users: int,
    ) -> str:
        """Write a complete set of aggregates as a new generation nobody uses yet.

        ``votes``: (user, {item: "timestamp<TAB>event_id<TAB>action"}) of each
        pair's latest event, consumed as it is written (a rebuild streams it).
        Returns the generation; ``switch_popularity`` makes it current.
        """
        gen = str(self._client.incr(self.k("pop", "gen", "seq")))
        trend_key, likes_key, dislikes_key, meta_key = self._popularity_keys(gen)
        pipe = self._client.pipeline(transaction=False)
        for n, (user_id, items) in enumerate(votes, start=1):
            pipe.hset(self.votes_key(gen, user_id), mapping=items)
            if n % 2000 == 0:
                pipe.execute()
        for key, values in ((trend_key, trend), (likes_key, likes), (dislikes_key, dislikes)):
            if values:
                pipe.hset(key, mapping={k: repr(v) for k, v in values.items()})
        pipe.hset(
            meta_key,
            mapping={
                "anchor": repr(float(anchor)),
                "ref": repr(float(anchor)),
                "events": events,
                "users": users,
                "version": 1,
            },
        )
        pipe.execute()
        return gen

    def switch_popularity(self, gen: str) -> None:
        """Make a loaded generation current and delete the one it replaces."""
        old = self._popularity_gen()
        self._client.set(self.popularity_gen_key, gen)
        if old != gen:
            self._delete_matching(self.k("pop", old) + ":*")

    # --- leases ---------------------------------------------------------------
    def acquire_lease(self, name: str, ttl_s: float) -> str | None:
        """A token if this caller now holds the lease, None if another one does."""
        token = uuid.uuid4().hex
        if self._client.set(self.k("lease", name), token, nx=True, px=int(ttl_s * 1000)):
            return token
        return None

    def holds_lease(self, name: str, token: str) -> bool:
        return bool(self._client.get(self.k("lease", name)) == token)

    def release_lease(self, name: str, token: str) -> None:
        self._client.eval(_RELEASE_LEASE_LUA, 1, self.k("lease", name), token)

    # --- training watermark ---------------------------------------------------
    @property
    def train_watermark_key(self) -> str:
        return self.k("train", "watermark")

    def train_watermark(self) -> dict[str, str]:
        """What the last training run saw: events, last_event_id, last_timestamp (or {})."""
        return dict(self._client.hgetall(self.train_watermark_key))

    def set_train_watermark(
        self, *, events: int, last_event_id: str, last_timestamp: float
    ) -> None:
        self._client.hset(
            self.train_watermark_key,
            mapping={
                "events": events,
                "last_event_id": last_event_id,
                "last_timestamp": repr(last_timestamp),
                "recorded_at": repr(time.time()),
            },
        )

    # --- housekeeping ---------------------------------------------------------
    def memory_usage(self, *kinds: str) -> dict[str, tuple[int, int]]:
        """(keys, bytes) of each kind of key ("personal", "popular", ...), by MEMORY USAGE.

        A kind is the first part of the key name after the prefix, so
        "personal" counts every ``personal:{user}``.  For capacity planning
        (benchmarks/scale.py); SAMPLES 0 measures whole lists, not a sample.
        """
        usage: dict[str, tuple[int, int]] = {}
        for kind in kinds:
            keys = [self.k(kind)] if self._client.exists(self.k(kind)) else []
            keys += list(
                self._client.scan_iter(match=_glob_escape(self.k(kind, "")) + "*", count=1000)
            )
            total = 0
            for start in range(0, len(keys), 1000):
                pipe = self._client.pipeline(transaction=False)
                for key in keys[start : start + 1000]:
                    pipe.memory_usage(key, samples=0)
                total += sum(int(size or 0) for size in pipe.execute())
            usage[kind] = (len(keys), total)
        return usage

    def delete_all(self) -> int:
        """Delete every key under this service's prefix (and nothing else)."""
        return self._delete_matching(self.prefix + "*")

    def _delete_matching(self, pattern: str) -> int:
        """Delete keys matching a glob whose literal part is escaped here (``*`` at the end)."""
        deleted = 0
        batch: list[str] = []
        for key in self._client.scan_iter(match=_glob_escape(pattern[:-1]) + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(self._client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(self._client.unlink(*batch))
        return deleted


def _translating_redis_errors_async(cls: StoreClass) -> StoreClass:
    """The same translation for the coroutine methods of AsyncServingCache, and
    their deadline: one ``asyncio.timeout`` around each whole call."""

    def wrap(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def wrapper(self: AsyncServingCache, *args: Any, **kwargs: Any) -> Any:
            with _REDIS_ERRORS_AS_CACHE_UNAVAILABLE:
                try:
                    async with asyncio.timeout(self.timeout_s):
                        return await method(self, *args, **kwargs)
                except TimeoutError as exc:  # the deadline above
                    raise CacheUnavailable(f"no answer within {self.timeout_s} s") from exc

        return wrapper

    for name, attr in list(vars(cls).items()):
        if inspect.iscoroutinefunction(attr) and not name.startswith("_"):
            setattr(cls, name, wrap(attr))
    return cls


class _Commands(list[tuple[Any, ...]]):
    """Records the commands the shared builders queue (the subset of redis-py's
    pipeline API they use), for AsyncServingCache to send as one batch."""

    def smembers(self, key: str) -> None:
        self.append(("SMEMBERS", key))

    def lrange(self, key: str, start: int, end: int) -> None:
        self.append(("LRANGE", key, start, end))

    def srandmember(self, key: str, number: int) -> None:
        self.append(("SRANDMEMBER", key, number))

    def smismember(self, key: str, values: Sequence[str]) -> None:
        self.append(("SMISMEMBER", key, *values))

    def hmget(self, key: str, fields: Sequence[str]) -> None:
        self.append(("HMGET", key, *fields))

    def lrem(self, key: str, count: int, value: str) -> None:
        self.append(("LREM", key, count, value))

    def sadd(self, key: str, *values: str) -> None:
        self.append(("SADD", key, *values))

    def srem(self, key: str, *values: str) -> None:
        self.append(("SREM", key, *values))

    def lpush(self, key: str, *values: str) -> None:
        self.append(("LPUSH", key, *values))

    def ltrim(self, key: str, start: int, end: int) -> None:
        self.append(("LTRIM", key, start, end))

    def expire(self, key: str, seconds: int) -> None:
        self.append(("EXPIRE", key, seconds))


@_translating_redis_errors_async
class AsyncServingCache(CacheKeys):
    """The reads and writes of the HTTP hot paths, on redis-py's asyncio connections.

    Async endpoints await Redis on the server's event loop instead of handing
    each call to a worker thread (two thread hops per request cost more CPU
    than the Redis round trip itself).  Same keys, commands and replies as
    ``ServingCache``, same ``CacheUnavailable`` on any Redis failure; one
    deadline bounds each whole call (see the decorator).

    Calls are pipelined automatically: every call made in one turn of the
    event loop (the concurrent requests of a busy server) goes out in one
    write on one connection, and the replies are handed back to each call in
    order.  Under load that is one write and one read for many requests
    instead of one each (the send and the wake-up cost more CPU than Redis'
    own work); a lone call waits one loop turn at most.  Connections are
    redis-py's asyncio connection (hiredis parser) without its pipeline and
    pool layers, which cost more than the round trip (retry wrapper,
    per-command callbacks, pool bookkeeping and metrics hooks).  A batch that
    fails or is cut by its deadline disconnects its connection, so no later
    call reads a stale reply; an idle connection that went bad (a Redis
    restart) gets one retry on a fresh one.  An error reply (a bug, such as a
    key of the wrong type) fails only the call that sent that command.

    An asyncio connection belongs to the loop that opened it.  A server runs
    one loop, but Mangum and test clients may call from a new loop each
    time, so the connections are dropped whenever the running loop changes.
    """

    MAX_IDLE = 128

    def __init__(
        self,
        settings: Settings,
        *,
        timeout_s: float | None = None,
        user_state_ttl_s: int | None = None,
    ) -> None:
        super().__init__(settings.key_prefix, user_state_ttl_s=user_state_ttl_s)
        self.timeout_s = settings.dependency_timeout_s if timeout_s is None else timeout_s
        # Only its parsed settings are used: it makes the connections.
        self._factory = redis.asyncio.ConnectionPool.from_url(
            settings.redis_url,
            # No socket_timeout (redis-py's default is 5 s, with a wait_for per
            # send and a timeout per reply): the call's deadline covers it.
            socket_timeout=None,
            socket_connect_timeout=self.timeout_s,
            decode_responses=True,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[Any] = []
        # Calls of the current loop turn, waiting to go out in one write.
        self._pending: list[tuple[Sequence[tuple[Any, ...]], asyncio.Future[list[Any]]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def _execute(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """The replies to the commands, in order, sent with this loop turn's other calls."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Connections and waiting calls belong to a previous loop.
            self._idle, self._pending, self._sending = [], [], set()
            self._loop = loop
        replies: asyncio.Future[list[Any]] = loop.create_future()
        self._pending.append((commands, replies))
        if len(self._pending) == 1:
            loop.call_soon(self._send_pending)
        return await replies

    def _send_pending(self) -> None:
        batch = [(commands, replies) for commands, replies in self._pending if not replies.done()]
        self._pending = []
        if batch:
            task = asyncio.ensure_future(self._send_batch(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send_batch(
        self, batch: list[tuple[Sequence[tuple[Any, ...]], asyncio.Future[list[Any]]]]
    ) -> None:
        commands = [command for own, _ in batch for command in own]
        try:
            # The batch's own deadline: its callers have theirs, but a hung
            # Redis must not keep this task and its connection for ever.
            async with asyncio.timeout(self.timeout_s):
                replies = await self._on_a_connection(commands)
        except (Exception, asyncio.CancelledError) as exc:
            failure = exc if isinstance(exc, redis.RedisError) else redis.ConnectionError(repr(exc))
            for _, waiting in batch:
                if not waiting.done():
                    waiting.set_exception(failure)
            if isinstance(exc, asyncio.CancelledError):
                raise  # aclose: its callers were told above
            return
        start = 0
        for own, waiting in batch:
            mine = replies[start : start + len(own)]
            start += len(own)
            if waiting.done():  # its caller's deadline passed
                continue
            error = next((r for r in mine if isinstance(r, redis.ResponseError)), None)
            if error is None:
                waiting.set_result(mine)
            else:
                waiting.set_exception(error)

    async def _on_a_connection(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Send the commands in one write on an idle (or new) connection; every reply."""
        reused = bool(self._idle)
        connection = self._idle.pop() if reused else self._factory.make_connection()
        try:
            replies = await self._round_trip(connection, commands)
        except redis.ConnectionError:
            if not reused:
                raise
            connection = self._factory.make_connection()
            replies = await self._round_trip(connection, commands)
        if len(self._idle) < self.MAX_IDLE:
            self._idle.append(connection)
        else:
            await connection.disconnect()
        return replies

    @staticmethod
    async def _round_trip(connection: Any, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        try:
            if not connection.is_connected:
                await connection.connect()
            # hiredis' C encoder: redis-py's Python one took 1.1 ms for the
            # ~100 commands of a 100-event mark-seen (hiredis: 0.1 ms).
            await connection.send_packed_command(
                [b"".join(map(hiredis.pack_command, commands))], check_health=False
            )
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await connection.read_response())
                except redis.ResponseError as error:  # read whole: the next reply follows
                    replies.append(error)
            return replies
        except BaseException:
            # Replies may be left unread: this connection is not reused.
            await connection.disconnect(nowait=True)
            raise

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for task in list(self._sending):
            task.cancel()
        if self._loop is asyncio.get_running_loop():
            for connection in idle:
                await connection.disconnect()
        self._loop = None

    async def ping(self) -> bool:
        (pong,) = await self._execute([("PING",)])
        return bool(pong)

    async def popular(self, n: int = -1) -> list[str]:
        (popular,) = await self._execute([("LRANGE", self.popular_key, 0, n - 1 if n > 0 else -1)])
        return list(popular)

    async def canonical_items(self, item_ids: Sequence[str]) -> list[str | None]:
        """Each id as the catalogue knows it: itself, its film's canonical id, or None."""
        if not item_ids:
            return []
        commands = _Commands()
        self._queue_canonical(commands, item_ids)
        return self._canonical(item_ids, await self._execute(commands))

    async def record_interactions(
        self, pairs: Iterable[tuple[str, str, str]], keep_likes: int
    ) -> None:
        """As ``ServingCache.record_interactions``: one round trip."""
        commands = _Commands()
        self._queue_interactions(commands, pairs, keep_likes)
        if commands:
            await self._execute(commands)

    async def remember_idempotency_key(
        self, user_id: str, key: str, fingerprint: str, timestamp: float, ttl_s: int
    ) -> tuple[str, float]:
        """As ``ServingCache.remember_idempotency_key``: SET NX GET, one round trip."""
        (previous,) = await self._execute(
            [
                (
                    "SET",
                    self.idempotency_key(user_id, key),
                    self._idempotency_value(fingerprint, timestamp),
                    "NX",
                    "GET",
                    "EX",
                    ttl_s,
                )
            ]
        )
        return self._remembered(previous, fingerprint, timestamp)

    async def read_user_view(
        self, user_id: str, *, recent_likes: int, personal: int, popular: int
    ) -> UserView:
        commands = _Commands()
        self._queue_user_view(
            commands, user_id, recent_likes=recent_likes, personal=personal, popular=popular
        )
        return self._user_view(await self._execute(commands), recent_likes)

    async def read_candidates(
        self, seeds: Sequence[str], *, per_seed: int, random_draw: int
    ) -> tuple[list[str], list[list[str]]]:
        commands = _Commands()
        self._queue_candidates(commands, seeds, per_seed=per_seed, random_draw=random_draw)
        return self._candidates(await self._execute(commands))

    async def read_top_up(self, *, popular_from: int, popular: int, random_draw: int) -> TopUp:
        commands = _Commands()
        self._queue_top_up(
            commands, popular_from=popular_from, popular=popular, random_draw=random_draw
        )
        return self._top_up(await self._execute(commands))


# A plan: core logic written once as a generator that yields the cache calls
# it needs, (method name, keyword arguments), and receives their results; it
# runs on either cache.  Used by recommender.recommend and collector.prepare.
CacheCall = tuple[str, dict[str, Any]]
Plan = Generator[CacheCall, Any, T]


def run_plan(cache: ServingCache, plan: Plan[T]) -> T:
    """Run a plan on the blocking cache."""
    try:
        name, kwargs = next(plan)
        while True:
            name, kwargs = plan.send(getattr(cache, name)(**kwargs))
    except StopIteration as done:
        result: T = done.value
        return result


async def run_plan_async(cache: AsyncServingCache, plan: Plan[T]) -> T:
    """Run a plan on the asyncio cache."""
    try:
        name, kwargs = next(plan)
        while True:
            name, kwargs = plan.send(await getattr(cache, name)(**kwargs))
    except StopIteration as done:
        result: T = done.value
        return result


def _search_members(items: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    return {
        f"{word}|{item_id}": 0.0 for item_id, meta in items.items() for word in index_words(meta)
    }


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
