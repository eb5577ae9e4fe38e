"""Bootstrap through the real path, on a small MovieLens-shaped data set."""

from __future__ import annotations

import json

import pytest

from recsys.services import popularity
from recsys.services.bootstrap import bootstrap

pytestmark = pytest.mark.integration


@pytest.fixture
def small_movielens(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    rows = ["user_id\titem_id\trating\ttimestamp"]
    rows += [
        f"{u}\t{i}\t{r}\t{880000000 + u * 10 + i}"
        for u, i, r in [(1, 1, 5), (1, 2, 1), (2, 1, 4), (2, 3, 3), (3, 2, 5), (3, 3, 2)]
    ]
    (folder / "ratings.tsv").write_text("\n".join(rows) + "\n")
    items = {
        str(i): {"title": f"Movie {i}", "year": 1990 + i, "genres": ["Drama"]} for i in (1, 2, 3)
    }
    (folder / "items.json").write_text(json.dumps(items))
    return tmp_path


def test_history_goes_through_the_queue_into_the_log_once(settings, small_movielens):
    from recsys.clients import Clients

    local = settings.model_copy(update={"data_dir": str(small_movielens)})
    clients = Clients(local)
    try:
        published = bootstrap(broker=clients.broker, cache=clients.cache, settings=local, chunk=2)
        assert published == 5  # the rating of 3 is neither a like nor a dislike
        assert clients.cache._client.smembers(clients.cache.seen_key("ml-1")) == {"1", "2"}
        assert bootstrap(broker=clients.broker, cache=clients.cache, settings=local) == 0
        # Forced again: the same event ids, so the log still holds each rating once.
        assert (
            bootstrap(broker=clients.broker, cache=clients.cache, settings=local, force=True) == 5
        )
        report = popularity.run(
            broker=clients.broker, event_log=clients.event_log, cache=clients.cache, settings=local
        )
        assert report.drained == 10
        assert report.events_in_log == 5
        assert clients.cache.popular() == ["1"]  # item 2: one like, one dislike
    finally:
        clients.cache.delete_all()
        clients.broker.delete_queue()
        clients.close()
