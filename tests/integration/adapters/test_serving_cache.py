"""ServingCache methods not covered through the functions and jobs."""

from __future__ import annotations

from recsys.clients import Clients


def test_memory_usage_counts_each_kind_of_key(clients: Clients) -> None:
    store = clients.store
    store.set_popular(["1", "2", "3"])
    store.set_personal({"u1": ["1", "2"], "u2": ["3"]})
    usage = store.memory_usage("popular", "personal", "neighbours")
    assert usage["popular"][0] == 1 and usage["popular"][1] > 0
    assert usage["personal"][0] == 2 and usage["personal"][1] > usage["popular"][1]
    assert usage["neighbours"] == (0, 0)
