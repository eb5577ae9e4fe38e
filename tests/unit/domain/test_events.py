import pytest
from pydantic import ValidationError

from recsys.domain.events import Action, Event, InteractionRequest, dedupe, latest_actions
from tests.support import event


def test_new_events_get_unique_ids_and_a_server_timestamp():
    a = Event.new("u", "1", "like")
    b = Event.new("u", "1", "like")
    assert a.event_id != b.event_id
    assert a.timestamp > 1.6e9


def test_json_round_trip():
    original = Event.new("u", "1", "dislike", source="bootstrap")
    assert Event.from_json(original.to_json()) == original


def test_dedupe_keeps_the_first_copy_of_each_event_id():
    first = event("u", "1", "like", 1.0, "e1")
    replay = event("u", "1", "like", 1.0, "e1")
    other = event("u", "2", "like", 2.0, "e2")
    assert dedupe([first, replay, other, replay]) == [first, other]


def test_the_last_action_on_an_item_wins():
    latest = latest_actions(
        [
            event("u", "1", "dislike", 5.0),
            event("u", "1", "like", 1.0),
            event("v", "1", "like", 2.0),
        ]
    )
    assert latest[("u", "1")].action is Action.DISLIKE
    assert latest[("v", "1")].action is Action.LIKE


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "u", "item_ids": ["1"], "actions": ["love"]},
        {"user_id": "u", "item_ids": [], "actions": []},
        {"user_id": "u", "item_ids": ["1"]},
        {"user_id": "u", "item_ids": ["1"], "actions": ["like"], "extra": 1},
        {"user_id": 5, "item_ids": ["1"], "actions": ["like"]},
    ],
)
def test_request_shape_errors_are_pydantic_errors(body):
    with pytest.raises(ValidationError):
        InteractionRequest.model_validate(body)


def test_remove_is_an_action_and_a_latest_remove_means_not_rated():
    from recsys.domain.events import rated_latest

    request = InteractionRequest(user_id="u", item_ids=["1"], actions=["remove"])
    assert request.actions == [Action.REMOVE]
    events = [
        event("u", "1", "like", 1.0),
        event("u", "1", "remove", 2.0),  # took the like back
        event("u", "2", "remove", 1.0),
        event("u", "2", "dislike", 2.0),  # rated again after a removal
    ]
    assert latest_actions(events)[("u", "1")].action is Action.REMOVE
    rated = rated_latest(events)
    assert set(rated) == {("u", "2")}
    assert rated[("u", "2")].action is Action.DISLIKE
