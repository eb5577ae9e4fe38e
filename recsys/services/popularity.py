"""The popularity job: drain the queue into the event log, then rank popular items.

Score ("popular now") of an item, over the *distinct users* whose latest event
on it is a like (+1) or a dislike (-1); any other action (``remove``) is no
vote, and a user counts once per item however often they click:

    score = trend + prior_weight * (likes - dislikes)
    trend = sum of sign * 2 ** (-(ref - t) / half_life)

- ``trend`` is the recent net vote, decayed from ``ref``, the time of the
  log's latest event (not the wall clock): an idle service keeps its list, and
  history older than a half-life (MovieLens is dated 1997-98) still has a trend
  of its own time until new events arrive.
- the prior, all-time net votes, keeps a handful of new events from outranking
  a history: with the default 0.1, a film 300 people liked starts at 30, a
  film one visitor just liked at 1.
- an item needs ``min_users`` distinct users who like it, and more likes
  than dislikes, before it can be popular at all, so one visitor, or one
  visitor's burst, puts nothing in the list everybody sees.

Ties go to the larger all-time net count, then to the item id.

The job keeps running aggregates in Redis (``ServingCache.apply_votes``) and folds
each drained batch into them, so a run costs what it drains plus one read of
the per-item totals, whatever the size of the history.  ``rebuild`` recomputes
them from the log: on demand, or when Redis lost them.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

from recsys.adapters.broker import Broker
from recsys.adapters.eventlog import EventLog, partition_of
from recsys.adapters.serving_cache import PopularityState, ServingCache
from recsys.domain.events import RATINGS, Event, latest_actions, natural_key
from recsys.settings import Settings

log = logging.getLogger(__name__)

COMPACTION_LEASE = "compaction"
# Events per apply_votes call when a rebuild applies late parts.
REBUILD_CHUNK = 1000
# Users per chunk when a rebuild writes the votes hashes (Python strings for these only).
REBUILD_USERS = 2000
# (user, item, timestamp, event_id, action): what the aggregates are made of.
VOTE_COLUMNS = ("user_id", "item_id", "timestamp", "event_id", "action")


@dataclass(frozen=True)
class ItemVotes:
    """One item's votes: the decayed net trend and all-time distinct likes/dislikes."""

    trend: float
    likes: int
    dislikes: int

    @property
    def net(self) -> int:
        return self.likes - self.dislikes


def vote_sign(action: str) -> int:
    """+1 for a like, -1 for a dislike, 0 (no vote) for anything else, e.g. ``remove``."""
    return {"like": 1, "dislike": -1}.get(str(action), 0)


def tally(events: Iterable[Event], *, half_life_s: float) -> dict[str, ItemVotes]:
    """Every item's votes, computed from scratch (the reference for the aggregates)."""
    events = list(events)
    if not events:
        return {}
    ref = max(e.timestamp for e in events)
    trend: dict[str, float] = defaultdict(float)
    likes: dict[str, int] = defaultdict(int)
    dislikes: dict[str, int] = defaultdict(int)
    for event in latest_actions(events).values():
        sign = vote_sign(event.action)
        if sign == 0:
            continue
        trend[event.item_id] += sign * 2.0 ** (-(ref - event.timestamp) / half_life_s)
        if sign > 0:
            likes[event.item_id] += 1
        else:
            dislikes[event.item_id] += 1
    return {
        item: ItemVotes(trend[item], likes.get(item, 0), dislikes.get(item, 0)) for item in trend
    }


def votes_from_state(state: PopularityState, *, half_life_s: float) -> dict[str, ItemVotes]:
    """The stored aggregates, with the trend decayed to the latest event."""
    if state.anchor is None or state.ref is None:
        return {}
    # Scores are stored relative to the anchor; bring them to ref.
    scale = 2.0 ** (-(state.ref - state.anchor) / half_life_s)
    items = set(state.likes) | set(state.dislikes) | set(state.trend)
    return {
        item: ItemVotes(
            state.trend.get(item, 0.0) * scale,
            state.likes.get(item, 0),
            state.dislikes.get(item, 0),
        )
        for item in items
    }


def score(votes: ItemVotes, *, prior_weight: float) -> float:
    return votes.trend + prior_weight * votes.net


def rank_popular(
    votes: Mapping[str, ItemVotes], *, top_n: int, min_users: int, prior_weight: float
) -> list[tuple[str, float]]:
    """(item_id, score), best first.

    Only items with ``min_users`` distinct fans, more likes than dislikes and
    a positive score are popular.
    """
    scored = {
        item: score(v, prior_weight=prior_weight)
        for item, v in votes.items()
        if v.likes >= min_users and v.net > 0
    }
    # Tiny float residue of cancelled votes is not a score.
    eligible = [item for item, s in scored.items() if s > 1e-9]
    eligible.sort(key=lambda item: (-scored[item], -votes[item].net, natural_key(item)))
    return [(item, scored[item]) for item in eligible[:top_n]]


def popular_items(
    events: Iterable[Event],
    *,
    half_life_s: float,
    top_n: int,
    min_users: int = 3,
    prior_weight: float = 0.1,
) -> list[tuple[str, float]]:
    """The popular list computed from events alone (tests, and as the reference)."""
    return rank_popular(
        tally(events, half_life_s=half_life_s),
        top_n=top_n,
        min_users=min_users,
        prior_weight=prior_weight,
    )


def vote_rows(events: Iterable[Event]) -> list[tuple[str, str, float, str, str]]:
    return [(e.user_id, e.item_id, e.timestamp, e.event_id, str(e.action)) for e in events]


@dataclass(frozen=True)
class PopularityReport:
    drained: int
    events_in_log: int
    users: int
    items: int
    popular: list[str]
    compacted_parts: int
    seconds: float
    skipped: bool = False
    rebuilt: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "drained": self.drained,
            "skipped": self.skipped,
            "rebuilt": self.rebuilt,
            "events_in_log": self.events_in_log,
            "users": self.users,
            "items": self.items,
            "top_popular": self.popular[:10],
            "compacted_parts": self.compacted_parts,
            "seconds": round(self.seconds, 3),
        }


def rebuild(event_log: EventLog, cache: ServingCache, settings: Settings) -> int:
    """Recompute the aggregates from the whole log; returns the events folded in.

    Columnar throughout: the log is read as one deduplicated, time-ordered
    Arrow table, users and items become integer codes, and each pair's latest
    event and the per-item sums are numpy operations.  Python strings exist
    only for the chunk of users being written to Redis (``REBUILD_USERS``).

    The new aggregates are written as a generation no job uses yet; then it
    becomes current, and the parts that appeared since the listing (batches
    other jobs applied to the old generation meanwhile) are applied to it.
    Applying an event twice is harmless.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    listed = set(event_log.part_keys())
    table = event_log.read_table(columns=list(VOTE_COLUMNS))
    half_life = settings.popularity_half_life_s
    n_events = table.num_rows
    anchor = float(table.column("timestamp")[-1].as_py()) if n_events else time.time()
    users = table.column("user_id").combine_chunks().dictionary_encode()
    items = table.column("item_id").combine_chunks().dictionary_encode()
    user_codes = users.indices.to_numpy().astype(np.int64)
    item_codes = items.indices.to_numpy().astype(np.int64)
    # Rows are in (timestamp, event_id) order: a pair's last row is its latest
    # event.  np.unique on the reversed pair codes finds each pair's last row,
    # sorted by pair code, i.e. grouped by user.
    pair_codes = user_codes * max(len(items.dictionary), 1) + item_codes
    _, first_from_end = np.unique(pair_codes[::-1], return_index=True)
    latest_rows = n_events - 1 - first_from_end
    latest = table.take(pa.array(latest_rows))
    latest_users = user_codes[latest_rows]
    latest_items = item_codes[latest_rows]
    action = latest.column("action")
    sign = pc.equal(action, "like").to_numpy(zero_copy_only=False).astype(np.int8) - pc.equal(
        action, "dislike"
    ).to_numpy(zero_copy_only=False).astype(np.int8)
    timestamps = latest.column("timestamp").to_numpy()
    n_items = len(items.dictionary)
    weights = sign * np.exp2((timestamps - anchor) / half_life)
    trend_sums = np.bincount(latest_items, weights=weights, minlength=n_items)
    voted = np.bincount(latest_items, weights=sign != 0, minlength=n_items) > 0
    like_counts = np.bincount(latest_items[sign > 0], minlength=n_items)
    dislike_counts = np.bincount(latest_items[sign < 0], minlength=n_items)
    item_ids = items.dictionary.to_pylist()
    trend = {item_ids[j]: float(trend_sums[j]) for j in np.flatnonzero(voted)}
    likes = {item_ids[j]: int(like_counts[j]) for j in np.flatnonzero(like_counts)}
    dislikes = {item_ids[j]: int(dislike_counts[j]) for j in np.flatnonzero(dislike_counts)}
    # The value each votes hash holds per item: "timestamp<TAB>event_id<TAB>action".
    values = pc.binary_join_element_wise(
        pc.cast(latest.column("timestamp"), pa.string()),
        latest.column("event_id"),
        action,
        "\t",
    )
    user_ids = users.dictionary
    starts = np.flatnonzero(np.diff(latest_users, prepend=-1))

    def vote_hashes() -> Iterator[tuple[str, dict[str, str]]]:
        bounds = [*starts.tolist(), len(latest_rows)]
        for first in range(0, len(starts), REBUILD_USERS):
            last = min(first + REBUILD_USERS, len(starts))
            lo, hi = bounds[first], bounds[last]
            chunk_items = latest.column("item_id").slice(lo, hi - lo).to_pylist()
            chunk_values = values.slice(lo, hi - lo).to_pylist()
            for u in range(first, last):
                a, b = bounds[u] - lo, bounds[u + 1] - lo
                user_id = user_ids[int(latest_users[bounds[u]])].as_py()
                yield user_id, dict(zip(chunk_items[a:b], chunk_values[a:b], strict=True))

    gen = cache.load_popularity(
        votes=vote_hashes(),
        trend=trend,
        likes=likes,
        dislikes=dislikes,
        anchor=anchor,
        events=n_events,
        users=len(starts),
    )
    cache.switch_popularity(gen)
    late = [key for key in event_log.part_keys() if key not in listed]
    for key in late:
        try:
            part = event_log.read_part_table(key, list(VOTE_COLUMNS))
        except KeyError:
            continue  # compacted meanwhile: its events are in a part listed after it
        for batch in part.to_batches(REBUILD_CHUNK):
            rows = zip(*(batch.column(c).to_pylist() for c in VOTE_COLUMNS), strict=True)
            cache.apply_votes(list(rows), half_life)
    log.info(
        "rebuilt the popularity aggregates from %d events (+%d late parts)", n_events, len(late)
    )
    return n_events


def compact_if_due(
    event_log: EventLog,
    cache: ServingCache,
    settings: Settings,
    partitions: Collection[str] | None = None,
) -> int:
    """Compact the log under a lease, so two jobs never both merge; returns parts removed.

    Due when ``partitions`` (the date partitions just written to; None: the
    whole log) hold ``compact_after_parts`` parts beyond one each.  The
    compaction itself merges every partition with more than one part.
    """
    if partitions is not None and not partitions:
        return 0
    if event_log.surplus_parts(partitions) < settings.compact_after_parts:
        return 0
    token = cache.acquire_lease(COMPACTION_LEASE, settings.compaction_lease_s)
    if token is None:
        log.info("another job is compacting the event log; skipping compaction")
        return 0
    try:
        return event_log.compact(still_leased=lambda: cache.holds_lease(COMPACTION_LEASE, token))
    finally:
        cache.release_lease(COMPACTION_LEASE, token)


def run(
    *,
    broker: Broker,
    event_log: EventLog,
    cache: ServingCache,
    settings: Settings,
    max_drain_seconds: float = 50.0,
    full_recompute: bool = False,
    idle_s: float = 0.5,
) -> PopularityReport:
    """Drain the queue (until idle for ``idle_s``), fold the news in, publish the list."""
    started = time.monotonic()
    half_life = settings.popularity_half_life_s
    written_partitions: set[str] = set()

    def persist(batch: list[Event]) -> None:
        # Order matters: the log first, then Redis, and only then (in
        # Broker.drain) the ack.  A crash anywhere leaves the batch on the
        # queue; a redelivered batch is written again and deduplicated on
        # read, and applying it to the aggregates again changes nothing.
        keys = event_log.append(batch)
        written_partitions.update(p for p in map(partition_of, keys) if p is not None)
        # Only a pair whose latest action in the batch is a vote is marked seen;
        # a removed one is taken out, so the repair never brings back a rating
        # the user took back.
        latest = latest_actions(batch)
        cache.mark_seen(
            [pair for pair, event in latest.items() if event.action in RATINGS],
            removed=[pair for pair, event in latest.items() if event.action not in RATINGS],
        )
        cache.apply_votes(vote_rows(batch), half_life)
        # Users back after their keys expired get their history back.
        cache.restore_returning_users(
            {event.user_id for event in batch}, keep_likes=settings.recent_likes_kept
        )

    # Events logged but missing from the aggregates (Redis lost them, or
    # the log predates them) call for a rebuild; a fresh install does not.
    lost_state = not cache.has_popularity_state() and bool(event_log.part_keys())
    drained = broker.drain(
        persist, batch_size=settings.drain_batch_size, max_seconds=max_drain_seconds, idle_s=idle_s
    )
    rebuilt = full_recompute or lost_state
    # A steady run checks only the partitions it wrote to (new events carry
    # today's date), so it never lists the whole log; a rebuild reads all of
    # it anyway and checks everything, legacy JSON-lines parts included.
    compacted = compact_if_due(event_log, cache, settings, None if rebuilt else written_partitions)
    if rebuilt:
        rebuild(event_log, cache, settings)
    state = cache.popularity_state()
    if drained == 0 and not rebuilt and state.version == state.published_version:
        # With the trend measured from the latest event, time alone changes
        # no score: without news the published list is still right.
        log.info("no new events: the popular list is unchanged, nothing published")
        return _report(state, drained, [], compacted, started, skipped=True)

    ranked = rank_popular(
        votes_from_state(state, half_life_s=half_life),
        top_n=settings.popular_top_n,
        min_users=settings.popularity_min_users,
        prior_weight=settings.popularity_prior_weight,
    )
    popular = [item for item, _ in ranked]
    cache.set_popular(popular)
    cache.mark_popular_published(state.version)
    cache.set_stats(
        events_in_log=state.events,
        users=state.users,
        items=_voted_items(state),
        likes=sum(state.likes.values()),
        dislikes=sum(state.dislikes.values()),
        popularity_ran_at=time.time(),
    )
    report = _report(state, drained, popular, compacted, started, rebuilt=rebuilt)
    log.info(
        "drained %d events; %d in the log; popular list of %d items (%.1f s)",
        drained,
        state.events,
        len(popular),
        report.seconds,
    )
    return report


def _voted_items(state: PopularityState) -> int:
    return len(
        {i for i, n in state.likes.items() if n} | {i for i, n in state.dislikes.items() if n}
    )


def _report(
    state: PopularityState,
    drained: int,
    popular: list[str],
    compacted: int,
    started: float,
    *,
    skipped: bool = False,
    rebuilt: bool = False,
) -> PopularityReport:
    return PopularityReport(
        drained=drained,
        events_in_log=state.events,
        users=state.users,
        items=_voted_items(state),
        popular=popular,
        compacted_parts=compacted,
        seconds=time.monotonic() - started,
        skipped=skipped,
        rebuilt=rebuilt,
    )
