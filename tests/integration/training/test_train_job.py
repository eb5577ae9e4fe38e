"""The training job on the real Redis with a local event log and artifact folder.

The log is generated with an obvious pattern (users of three tastes, each
liking only items of their own group), small enough that a run with a tiny
trial budget takes a few seconds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from functions.train import app as train_app
from recsys.adapters.eventlog import EventLog
from recsys.adapters.storage import LocalStore
from recsys.clients import Clients
from recsys.domain.events import Action, Event
from recsys.settings import Settings, get_settings
from recsys.training.data import build_interactions
from recsys.training.publish import BEST_PARAMS_KEY, LATEST_KEY, model_prefix
from recsys.training.synthetic import taste_events, taste_of
from tests.integration.helpers import load_event
from tests.integration.training.conftest import GROUPS, ITEMS_PER_GROUP, N_GROUPS

pytestmark = pytest.mark.integration


def own_group(user_id: str) -> set[str]:
    return set(GROUPS[taste_of(user_id, N_GROUPS)])


def test_a_scheduled_run_publishes_lists_that_follow_the_pattern(
    train_settings: Settings, clients: Clients, taste_log: list[str]
) -> None:
    result = train_app.handler(load_event("eventbridge_schedule.json"), None)
    assert result["published"] is True, result["reason"]
    cache = clients.cache
    interactions = build_interactions(clients.event_log.read())

    for user in taste_log:
        personal = cache._client.lrange(cache.personal_key(user), 0, -1)
        assert len(personal) == train_settings.personal_top_n
        # Never an item the user liked or disliked.
        assert not set(personal) & interactions.rated[user]
        # The user's unseen own-group items come first.
        unseen_own = own_group(user) - interactions.rated[user]
        assert set(personal[: len(unseen_own)]) == unseen_own, user

    for group in GROUPS:
        for item in group[:3]:
            near = cache._client.lrange(cache.neighbours_key(item), 0, -1)
            # The films that resemble the item come first: the rest of its own
            # group, then (cosine permitting; these items have no genres) others.
            # Where the cosine threshold cuts depends on the model, not the order.
            assert len(group) - 1 <= len(near) <= train_settings.neighbours_top_m
            assert item not in near
            assert set(near[: len(group) - 1]) == set(group) - {item}

    info = cache.model_info()
    assert info["version"] == result["version"]
    assert set(info["params"]) >= {"sg", "window", "vector_size", "negative", "ns_exponent",
                                   "epochs", "sample", "min_count"}  # fmt: skip
    assert info["metrics"]["hr_at_10"] > info["baselines"]["popularity"]["hr_at_10"]
    assert info["trained_at"].endswith("Z")

    artifacts = LocalStore(train_settings.artifact_uri)
    prefix = model_prefix(result["version"])
    assert {
        prefix + "model.pkl",
        prefix + "report.json",
        prefix + "optimisation_history.png",
    } <= set(artifacts.list_keys(prefix))
    report = json.loads(artifacts.get(prefix + "report.json"))
    assert set(report["test"]) == {
        "popularity",
        "itemknn_cosine",
        "ease",
        "item2vec_gensim_defaults",
        "item2vec_tuned",
    }
    assert json.loads(artifacts.get(LATEST_KEY))["version"] == result["version"]
    assert "published" in cache.stats()["train_last_outcome"]


def test_the_next_run_starts_from_the_previous_best_parameters(
    train_settings: Settings, clients: Clients, taste_log: list[str]
) -> None:
    first = train_app.handler({}, None)
    artifacts = LocalStore(train_settings.artifact_uri)
    best = json.loads(artifacts.get(BEST_PARAMS_KEY))["params"]

    second = train_app.handler({"force": True}, None)
    assert second["published"] is True
    report = json.loads(artifacts.get(model_prefix(second["version"]) + "report.json"))
    first_trial = report["tuning"]["history"][0]["params"]
    for name in ("sg", "window", "vector_size", "negative", "epochs", "context_size"):
        assert first_trial[name] == best[name], name
    assert first["version"] is not None


def test_a_model_that_does_not_beat_popularity_is_not_published(
    train_settings: Settings,
    clients: Clients,
    taste_log: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published = train_app.handler({}, None)
    assert published["published"] is True
    cache = clients.cache
    lists_before = {u: cache._client.lrange(cache.personal_key(u), 0, -1) for u in taste_log}

    # Another history in which every user's last like is an item nobody liked
    # before: no model can rank it, so item2vec only ties popularity (HR@10 = 0).
    history = taste_events(n_users=90, n_groups=N_GROUPS, items_per_group=ITEMS_PER_GROUP, seed=12)
    newest = max(e.timestamp for e in history)
    users = sorted({e.user_id for e in history})
    surprise = [
        Event(
            event_id=f"surprise-{user}",
            user_id=user,
            item_id="999",
            action=Action.LIKE,
            timestamp=newest + 60 + i,
        )
        for i, user in enumerate(users)
    ]
    other_log_uri = str(tmp_path / "other-log")
    EventLog(LocalStore(other_log_uri)).append(history + surprise)
    cache.add_items({"999": {"title": "Nobody saw it coming"}})
    monkeypatch.setenv("RECSYS_EVENT_LOG_URI", other_log_uri)
    get_settings.cache_clear()

    kept = train_app.handler({"force": True}, None)
    assert kept["published"] is False
    assert "does not beat popularity" in kept["reason"]
    assert cache.model_info()["version"] == published["version"]
    assert {
        u: cache._client.lrange(cache.personal_key(u), 0, -1) for u in taste_log
    } == lists_before
    assert "kept the previous model" in cache.stats()["train_last_outcome"]


def test_too_little_history_ends_cleanly_and_says_why(
    train_settings: Settings, clients: Clients
) -> None:
    result = train_app.handler({}, None)
    assert result["published"] is False
    assert "not enough data" in result["reason"]


def test_a_second_run_on_an_unchanged_log_trains_nothing_and_publishes_nothing(
    train_settings: Settings, clients: Clients, taste_log: list[str]
) -> None:
    first = train_app.handler({}, None)
    assert first["published"] is True, first["reason"]
    cache = clients.cache
    artifacts = LocalStore(train_settings.artifact_uri)
    before = (cache.model_info(), cache.stats(), artifacts.list_keys())
    lists_before = {u: cache._client.lrange(cache.personal_key(u), 0, -1) for u in taste_log}

    started = time.monotonic()
    second = train_app.handler({}, None)
    elapsed = time.monotonic() - started
    print(f"second training run on an unchanged log: {elapsed:.2f} s, {second['reason']}")
    assert second["skipped"] is True and second["published"] is False
    assert second["reason"].startswith("no new events")
    assert elapsed < 10
    assert (cache.model_info(), cache.stats(), artifacts.list_keys()) == before
    assert {
        u: cache._client.lrange(cache.personal_key(u), 0, -1) for u in taste_log
    } == lists_before

    # Enough news (here the default 1% of what the model saw) and it trains again.
    seen = int(cache.train_watermark()["events"])
    news = [
        Event.new(f"newcomer-{i}", GROUPS[0][i % ITEMS_PER_GROUP], "like")
        for i in range(max(1, -(-seen // 100)))
    ]
    clients.event_log.append(news)
    third = train_app.handler({}, None)
    assert third["skipped"] is False
    assert int(cache.train_watermark()["events"]) == seen + len(news)
