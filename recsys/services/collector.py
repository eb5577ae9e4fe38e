"""Core of POST /interact: validate, stamp, publish with confirms, mark seen.

Delivery guarantees (README, "Guarantees"):

- into the queue, at least once: the API answers 200 only after the broker
  confirmed every event; a 503 or a timeout may still have let some events
  through, so a client retries;
- with an ``Idempotency-Key`` the retry rebuilds the very same events (same
  ``event_id`` and timestamp), so downstream readers, which deduplicate by
  ``event_id``, count each event exactly once.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from recsys.adapters.serving_cache import (
    AsyncServingCache,
    CacheUnavailable,
    Plan,
    ServingCache,
    run_plan,
    run_plan_async,
)
from recsys.domain.errors import InvalidRequest
from recsys.domain.events import (
    IDEMPOTENCY_KEY_PATTERN,
    Action,
    Event,
    InteractionRequest,
    idempotent_event_id,
    request_fingerprint,
)
from recsys.domain.validation import check_known, check_shape
from recsys.settings import Settings

log = logging.getLogger(__name__)


class EventPublisher(Protocol):
    def publish(self, events: list[Event]) -> None: ...


@dataclass(frozen=True)
class Collected:
    events: list[Event]
    # False when Redis failed after the broker confirmed: the events are safe
    # on the queue and the popularity job repairs the seen sets from the log.
    seen_marked: bool


def validate(
    request: InteractionRequest, *, cache: ServingCache, settings: Settings
) -> InteractionRequest:
    """The request with each item id as the catalogue knows it (a duplicate film's
    other id becomes its canonical id), or InvalidRequest."""
    return run_plan(cache, _validate_plan(request, settings))


def _validate_plan(request: InteractionRequest, settings: Settings) -> Plan[InteractionRequest]:
    problems = check_shape(
        request, max_batch=settings.max_batch, max_id_length=settings.max_id_length
    )
    if problems:
        raise InvalidRequest([p.as_dict() for p in problems])
    # CacheUnavailable: a 503
    canonical = yield ("canonical_items", {"item_ids": request.item_ids})
    problems = check_known(request.item_ids, [c is not None for c in canonical])
    if problems:
        raise InvalidRequest([p.as_dict() for p in problems])
    return request.model_copy(update={"item_ids": [c for c in canonical if c is not None]})


def check_idempotency_key(key: str) -> None:
    if not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise InvalidRequest.at(
            "header",
            "Idempotency-Key",
            msg="Idempotency-Key must be 8 to 128 letters, digits or _ . : @ -",
        )


def to_events(
    request: InteractionRequest,
    *,
    source: str = "api",
    idempotency_key: str | None = None,
    timestamp: float | None = None,
) -> list[Event]:
    """One event per (item, action); ids derived from the key when there is one."""
    stamp = float(time.time() if timestamp is None else timestamp)
    user_id = request.user_id
    if idempotency_key is None:
        event_ids = [uuid.uuid4().hex for _ in request.item_ids]
    else:
        event_ids = [
            idempotent_event_id(user_id, idempotency_key, index)
            for index in range(len(request.item_ids))
        ]
    # model_construct: every field is already a checked value of its type (the
    # validated request, a float, hex ids), and validating 100 events again was
    # a tenth of the CPU of a 100-event request.
    return [
        Event.model_construct(
            event_id=event_id,
            user_id=user_id,
            item_id=item_id,
            action=Action(action),
            timestamp=stamp,
            source=source,
        )
        for event_id, item_id, action in zip(
            event_ids, request.item_ids, request.actions, strict=True
        )
    ]


def claim_idempotency_key(
    request: InteractionRequest, key: str, *, cache: ServingCache, settings: Settings
) -> float:
    """The timestamp of the events of this key: the first request's, on a retry."""
    return run_plan(cache, _claim_plan(request, key, settings))


def _claim_plan(request: InteractionRequest, key: str, settings: Settings) -> Plan[float]:
    fingerprint = request_fingerprint(request.item_ids, [a.value for a in request.actions])
    stored, timestamp = yield (
        "remember_idempotency_key",
        {
            "user_id": request.user_id,
            "key": key,
            "fingerprint": fingerprint,
            "timestamp": time.time(),
            "ttl_s": settings.idempotency_ttl_s,
        },
    )
    if stored != fingerprint:
        raise InvalidRequest.at(
            "header",
            "Idempotency-Key",
            msg="this Idempotency-Key was already used for other events; "
            "use a new key for a new request",
        )
    timestamp_of_key: float = timestamp
    return timestamp_of_key


def mark_seen(events: list[Event], *, cache: ServingCache, settings: Settings) -> bool:
    """Update the users' state after the broker confirmed; False if Redis failed.

    A failure here is not an error for the client: the events are safe on the
    queue and the popularity job repairs the seen sets from the log.
    """
    try:
        cache.record_interactions(
            ((e.user_id, e.item_id, e.action.value) for e in events),
            keep_likes=settings.recent_likes_kept,
        )
    except CacheUnavailable:
        _log_not_marked(events)
        return False
    return True


async def mark_seen_async(
    events: list[Event], *, cache: AsyncServingCache, settings: Settings
) -> bool:
    """``mark_seen`` on the asyncio cache."""
    try:
        await cache.record_interactions(
            ((e.user_id, e.item_id, e.action.value) for e in events),
            keep_likes=settings.recent_likes_kept,
        )
    except CacheUnavailable:
        _log_not_marked(events)
        return False
    return True


def _log_not_marked(events: list[Event]) -> None:
    log.warning(
        "events %s published but not marked seen; the job will repair it",
        [e.event_id for e in events],
        exc_info=True,
    )


def record(
    events: list[Event], *, publisher: EventPublisher, cache: ServingCache, settings: Settings
) -> Collected:
    """Publish (confirmed), then update the user's state in Redis."""
    publisher.publish(events)  # raises BrokerUnavailable: nothing was acknowledged
    return Collected(events, seen_marked=mark_seen(events, cache=cache, settings=settings))


def prepare(
    request: InteractionRequest,
    *,
    cache: ServingCache,
    settings: Settings,
    idempotency_key: str | None = None,
) -> list[Event]:
    """Validate the request and build its events (the same ones again on a keyed retry)."""
    return run_plan(cache, _prepare_plan(request, settings, idempotency_key))


async def prepare_async(
    request: InteractionRequest,
    *,
    cache: AsyncServingCache,
    settings: Settings,
    idempotency_key: str | None = None,
) -> list[Event]:
    """``prepare`` on the asyncio cache: the same checks and events."""
    return await run_plan_async(cache, _prepare_plan(request, settings, idempotency_key))


def _prepare_plan(
    request: InteractionRequest, settings: Settings, idempotency_key: str | None
) -> Plan[list[Event]]:
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
    request = yield from _validate_plan(request, settings)
    timestamp = None
    if idempotency_key is not None:
        timestamp = yield from _claim_plan(request, idempotency_key, settings)
    return to_events(request, idempotency_key=idempotency_key, timestamp=timestamp)


def collect(
    request: InteractionRequest,
    *,
    publisher: EventPublisher,
    cache: ServingCache,
    settings: Settings,
    idempotency_key: str | None = None,
) -> Collected:
    events = prepare(request, cache=cache, settings=settings, idempotency_key=idempotency_key)
    return record(events, publisher=publisher, cache=cache, settings=settings)
