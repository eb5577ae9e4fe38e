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
from dataclasses import dataclass
from typing import Protocol

from recsys.adapters.serving_cache import CacheUnavailable, ServingCache
from recsys.domain.errors import InvalidRequest
from recsys.domain.events import (
    IDEMPOTENCY_KEY_PATTERN,
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
    request: InteractionRequest, *, store: ServingCache, settings: Settings
) -> InteractionRequest:
    """The request with each item id as the catalogue knows it (a duplicate film's
    other id becomes its canonical id), or InvalidRequest."""
    problems = check_shape(
        request, max_batch=settings.max_batch, max_id_length=settings.max_id_length
    )
    if problems:
        raise InvalidRequest([p.as_dict() for p in problems])
    canonical = store.canonical_items(request.item_ids)  # CacheUnavailable: a 503
    problems = check_known(request.item_ids, [c is not None for c in canonical])
    if problems:
        raise InvalidRequest([p.as_dict() for p in problems])
    return request.model_copy(update={"item_ids": [c for c in canonical if c is not None]})


def check_idempotency_key(key: str) -> None:
    if not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise InvalidRequest(
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "type": "value_error",
                    "msg": "Idempotency-Key must be 8 to 128 letters, digits or _ . : @ -",
                }
            ]
        )


def to_events(
    request: InteractionRequest,
    *,
    source: str = "api",
    idempotency_key: str | None = None,
    timestamp: float | None = None,
) -> list[Event]:
    """One event per (item, action); ids derived from the key when there is one."""
    stamp = time.time() if timestamp is None else timestamp
    pairs = zip(request.item_ids, request.actions, strict=True)
    if idempotency_key is None:
        return [
            Event.new(request.user_id, item_id, action, timestamp=stamp, source=source)
            for item_id, action in pairs
        ]
    return [
        Event.with_id(
            idempotent_event_id(request.user_id, idempotency_key, index),
            request.user_id,
            item_id,
            action,
            timestamp=stamp,
            source=source,
        )
        for index, (item_id, action) in enumerate(pairs)
    ]


def claim_idempotency_key(
    request: InteractionRequest, key: str, *, store: ServingCache, settings: Settings
) -> float:
    """The timestamp of the events of this key: the first request's, on a retry."""
    fingerprint = request_fingerprint(request.item_ids, [a.value for a in request.actions])
    stored, timestamp = store.remember_idempotency_key(
        request.user_id, key, fingerprint, time.time(), settings.idempotency_ttl_s
    )
    if stored != fingerprint:
        raise InvalidRequest(
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "type": "value_error",
                    "msg": "this Idempotency-Key was already used for other events; "
                    "use a new key for a new request",
                }
            ]
        )
    return timestamp


def mark_seen(events: list[Event], *, store: ServingCache, settings: Settings) -> bool:
    """Update the users' state after the broker confirmed; False if Redis failed.

    A failure here is not an error for the client: the events are safe on the
    queue and the popularity job repairs the seen sets from the log.
    """
    try:
        store.record_interactions(
            ((e.user_id, e.item_id, e.action.value) for e in events),
            keep_likes=settings.recent_likes_kept,
        )
    except CacheUnavailable:
        log.warning(
            "events %s published but not marked seen; the job will repair it",
            [e.event_id for e in events],
            exc_info=True,
        )
        return False
    return True


def record(
    events: list[Event], *, publisher: EventPublisher, store: ServingCache, settings: Settings
) -> Collected:
    """Publish (confirmed), then update the user's state in Redis."""
    publisher.publish(events)  # raises BrokerUnavailable: nothing was acknowledged
    return Collected(events, seen_marked=mark_seen(events, store=store, settings=settings))


def prepare(
    request: InteractionRequest,
    *,
    store: ServingCache,
    settings: Settings,
    idempotency_key: str | None = None,
) -> list[Event]:
    """Validate the request and build its events (the same ones again on a keyed retry)."""
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
    request = validate(request, store=store, settings=settings)
    timestamp = None
    if idempotency_key is not None:
        timestamp = claim_idempotency_key(request, idempotency_key, store=store, settings=settings)
    return to_events(request, idempotency_key=idempotency_key, timestamp=timestamp)


def collect(
    request: InteractionRequest,
    *,
    publisher: EventPublisher,
    store: ServingCache,
    settings: Settings,
    idempotency_key: str | None = None,
) -> Collected:
    events = prepare(request, store=store, settings=settings, idempotency_key=idempotency_key)
    return record(events, publisher=publisher, store=store, settings=settings)
