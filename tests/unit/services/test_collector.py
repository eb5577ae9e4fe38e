"""Idempotent event ids: a retry with the same key rebuilds the same events."""

from __future__ import annotations

import pytest

from recsys.domain.errors import InvalidRequest
from recsys.domain.events import InteractionRequest, idempotent_event_id, request_fingerprint
from recsys.services.collector import check_idempotency_key, to_events


def request(user: str = "u1", items: tuple[str, ...] = ("50", "181")) -> InteractionRequest:
    return InteractionRequest(
        user_id=user, item_ids=list(items), actions=["like", "dislike"][: len(items)]
    )


def test_same_user_key_and_index_give_the_same_event_id():
    assert idempotent_event_id("u1", "key-0001", 0) == idempotent_event_id("u1", "key-0001", 0)
    ids = {
        idempotent_event_id(user, key, index)
        for user in ("u1", "u2")
        for key in ("key-0001", "key-0002")
        for index in range(3)
    }
    assert len(ids) == 12  # any difference gives another id


def test_events_of_a_keyed_request_are_rebuilt_identically():
    first = to_events(request(), idempotency_key="key-0001", timestamp=1_700_000_000.0)
    retry = to_events(request(), idempotency_key="key-0001", timestamp=1_700_000_000.0)
    assert first == retry
    assert [e.item_id for e in first] == ["50", "181"]


def test_events_without_a_key_get_fresh_ids_and_one_timestamp():
    first = to_events(request())
    second = to_events(request())
    assert {e.event_id for e in first}.isdisjoint(e.event_id for e in second)
    assert first[0].timestamp == first[1].timestamp


def test_the_fingerprint_tells_a_retry_from_other_events():
    assert request_fingerprint(["50"], ["like"]) == request_fingerprint(["50"], ["like"])
    assert request_fingerprint(["50"], ["like"]) != request_fingerprint(["50"], ["dislike"])
    assert request_fingerprint(["50", "1"], ["like"] * 2) != request_fingerprint(["501"], ["like"])


@pytest.mark.parametrize("key", ["short", "x" * 129, "has space!", "ünïcode-key"])
def test_malformed_idempotency_keys_are_refused(key):
    with pytest.raises(InvalidRequest):
        check_idempotency_key(key)


def test_a_uuid_is_a_good_idempotency_key():
    check_idempotency_key("0f8fad5b-d9cb-469f-a165-70867728950e")
