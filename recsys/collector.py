"""Core of POST /interact: validate, stamp, publish with confirms, mark seen."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from recsys.broker import Broker
from recsys.errors import DependencyUnavailable, InvalidRequest
from recsys.events import Event, InteractionRequest
from recsys.settings import Settings
from recsys.store import Store
from recsys.validation import check_known, check_shape

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Collected:
    events: list[Event]
    # False when Redis failed after the broker confirmed: the events are safe
    # on the queue and the popularity job repairs the seen sets from the log.
    seen_marked: bool


def validate(
    request: InteractionRequest, *, store: Store, settings: Settings
) -> InteractionRequest:
    """The request with each item id as the catalogue knows it (a duplicate film's
    other id becomes its canonical id), or InvalidRequest."""
    problems = check_shape(
        request, max_batch=settings.max_batch, max_id_length=settings.max_id_length
    )
    if problems:
        raise InvalidRequest([p.as_dict() for p in problems])
    try:
        canonical = store.canonical_items(request.item_ids)
    except redis.RedisError as exc:
        raise DependencyUnavailable("redis", f"cannot check the catalogue: {exc}") from exc
    problems = check_known(request.item_ids, [c is not None for c in canonical])
    if problems:
        raise InvalidRequest([p.as_dict() for p in problems])
    return request.model_copy(update={"item_ids": [c for c in canonical if c is not None]})


def to_events(request: InteractionRequest, *, source: str = "api") -> list[Event]:
    return [
        Event.new(request.user_id, item_id, action, source=source)
        for item_id, action in zip(request.item_ids, request.actions, strict=True)
    ]


def record(events: list[Event], *, broker: Broker, store: Store, settings: Settings) -> Collected:
    """Publish (confirmed), then update the user's state in Redis."""
    broker.publish(events)  # raises BrokerUnavailable: nothing was acknowledged to the client
    try:
        store.record_interactions(
            ((e.user_id, e.item_id, e.action.value) for e in events),
            keep_likes=settings.recent_likes_kept,
        )
    except redis.RedisError:
        log.warning(
            "events %s published but not marked seen; the job will repair it",
            [e.event_id for e in events],
            exc_info=True,
        )
        return Collected(events, seen_marked=False)
    return Collected(events, seen_marked=True)


def collect(
    request: InteractionRequest, *, broker: Broker, store: Store, settings: Settings
) -> Collected:
    request = validate(request, store=store, settings=settings)
    return record(to_events(request), broker=broker, store=store, settings=settings)
