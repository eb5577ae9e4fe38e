"""The popularity job: drain the queue into the event log, then rank popular items.

Score ("popular now"): each user's *latest* action on an item counts +1 for a
like and -1 for a dislike, weighted by 2 ** (-age / half_life), so that what
people like this week outranks what they liked years ago.  Ties (for example
history so old that every weight is 0) are broken by the all-time net count
(likes - dislikes), then by item id.  Items whose score and net count are both
<= 0 are not "popular" at all.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass

import redis

from recsys.broker import Broker
from recsys.errors import DependencyUnavailable
from recsys.eventlog import EventLog
from recsys.events import RATINGS, Action, Event, latest_actions, rated_latest
from recsys.settings import Settings
from recsys.store import Store, natural_key

log = logging.getLogger(__name__)


def popular_items(
    events: list[Event], *, now: float, half_life_s: float, top_n: int
) -> list[tuple[str, float, int]]:
    """(item_id, decayed score, net count), best first."""
    trend: dict[str, float] = defaultdict(float)
    net: dict[str, int] = defaultdict(int)
    # A pair whose latest action is "remove" is no vote at all.
    for event in rated_latest(events).values():
        sign = 1 if event.action is Action.LIKE else -1
        age = max(0.0, now - event.timestamp)
        trend[event.item_id] += sign * 2.0 ** (-age / half_life_s)
        net[event.item_id] += sign
    ranked = sorted(trend, key=lambda item: (-trend[item], -net[item], natural_key(item)))
    return [
        (item, trend[item], net[item])
        for item in ranked
        if trend[item] > 0 or (trend[item] == 0 and net[item] > 0)
    ][:top_n]


@dataclass(frozen=True)
class PopularityReport:
    drained: int
    events_in_log: int
    users: int
    items: int
    popular: list[str]
    compacted_parts: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {
            "drained": self.drained,
            "events_in_log": self.events_in_log,
            "users": self.users,
            "items": self.items,
            "top_popular": self.popular[:10],
            "compacted_parts": self.compacted_parts,
            "seconds": round(self.seconds, 3),
        }


def run(
    *,
    broker: Broker,
    event_log: EventLog,
    store: Store,
    settings: Settings,
    max_drain_seconds: float = 50.0,
    now: float | None = None,
) -> PopularityReport:
    started = time.monotonic()

    def persist(batch: list[Event]) -> None:
        # Order matters: the log first, then Redis, and only then (in
        # Broker.drain) the ack.  A crash anywhere leaves the batch on the
        # queue; a redelivered batch is written again and deduplicated on read.
        event_log.append(batch)
        # Only a pair whose latest action in the batch is a vote is marked seen;
        # a removed one is taken out, so the repair never brings back a rating
        # the user took back.
        latest = latest_actions(batch)
        store.mark_seen(
            [pair for pair, event in latest.items() if event.action in RATINGS],
            removed=[pair for pair, event in latest.items() if event.action not in RATINGS],
        )

    try:
        drained = broker.drain(
            persist, batch_size=settings.drain_batch_size, max_seconds=max_drain_seconds
        )
    except redis.RedisError as exc:
        raise DependencyUnavailable("redis", str(exc)) from exc

    compacted = 0
    if len(event_log.part_keys()) >= settings.compact_after_parts:
        compacted = event_log.compact()

    events = event_log.read()
    ranked = popular_items(
        events,
        now=time.time() if now is None else now,
        half_life_s=settings.popularity_half_life_s,
        top_n=settings.popular_top_n,
    )
    popular = [item for item, _, _ in ranked]
    users = {e.user_id for e in events}
    items = {e.item_id for e in events}
    try:
        store.set_popular(popular)
        store.set_stats(
            events_in_log=len(events),
            users=len(users),
            items=len(items),
            likes=sum(1 for e in events if e.action is Action.LIKE),
            dislikes=sum(1 for e in events if e.action is Action.DISLIKE),
            popularity_ran_at=time.time(),
        )
    except redis.RedisError as exc:
        raise DependencyUnavailable("redis", str(exc)) from exc
    report = PopularityReport(
        drained=drained,
        events_in_log=len(events),
        users=len(users),
        items=len(items),
        popular=popular,
        compacted_parts=compacted,
        seconds=time.monotonic() - started,
    )
    log.info(
        "drained %d events; %d in the log; popular list of %d items (%.1f s)",
        drained,
        len(events),
        len(popular),
        report.seconds,
    )
    return report
