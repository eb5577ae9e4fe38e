"""Bootstrap the event history from MovieLens-100K through the real event path.

Ratings >= 4 become likes, <= 2 dislikes, 3s are skipped.  Each event is
published to RabbitMQ and marked seen in Redis exactly as POST /interact does;
the popularity job then drains them into the event log.  Event ids are derived
from (user, item, time), so running the bootstrap twice publishes the same ids
and the log's deduplication makes the second run a no-op for every count.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from recsys.adapters import movielens
from recsys.adapters.broker import Broker
from recsys.adapters.serving_cache import ServingCache
from recsys.domain.events import Action, Event, event_order
from recsys.services.collector import record
from recsys.settings import Settings

log = logging.getLogger(__name__)

BOOTSTRAP_NAMESPACE = uuid.UUID("6f1c2a36-3d5e-4c59-9a43-0d8f1b7a2e11")
USER_PREFIX = "ml-"
DONE_FLAG = "bootstrap:ml-100k"


def events_from_ratings(ratings: Iterable[movielens.Rating]) -> list[Event]:
    events = []
    for rating in ratings:
        action = rating.action
        if action is None:
            continue
        event_id = uuid.uuid5(
            BOOTSTRAP_NAMESPACE, f"ml-100k:{rating.user_id}:{rating.item_id}:{rating.timestamp}"
        ).hex
        events.append(
            Event(
                event_id=event_id,
                user_id=USER_PREFIX + rating.user_id,
                item_id=rating.item_id,
                action=Action(action),
                timestamp=float(rating.timestamp),
                source="bootstrap",
            )
        )
    events.sort(key=event_order)
    return events


def bootstrap(
    *,
    broker: Broker,
    cache: ServingCache,
    settings: Settings,
    force: bool = False,
    chunk: int = 1000,
    publishers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Publish MovieLens history; returns how many events were published (0 if done before).

    Each publish waits for the broker's confirm, so one connection manages
    only a few hundred events per second; ``publishers`` connections in
    parallel let RabbitMQ group their disk writes (about 5x faster here).
    """
    if not force and cache.flag(DONE_FLAG) is not None:
        log.info("MovieLens history already bootstrapped; use --force to publish again")
        return 0
    movielens.fetch(settings.data_dir)
    events = events_from_ratings(movielens.read_ratings(settings.data_dir))
    chunks = [events[start : start + chunk] for start in range(0, len(events), chunk)]
    local = threading.local()
    opened: list[Broker] = []
    lock = threading.Lock()
    done = 0

    def publish(batch: list[Event]) -> None:
        nonlocal done
        if not hasattr(local, "broker"):
            local.broker = Broker(broker.url, broker.queue, broker.timeout_s)
            with lock:
                opened.append(local.broker)
        record(batch, publisher=local.broker, cache=cache, settings=settings)
        with lock:
            done += len(batch)
            if progress:
                progress(done, len(events))

    try:
        with ThreadPoolExecutor(max_workers=publishers, thread_name_prefix="bootstrap") as pool:
            list(pool.map(publish, chunks))
    finally:
        for worker_broker in opened:
            worker_broker.close()
    cache.set_flag(DONE_FLAG, len(events))
    return len(events)
