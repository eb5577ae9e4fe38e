import pytest

from recsys.domain.errors import InvalidRequest
from recsys.domain.events import InteractionRequest
from recsys.domain.validation import check_id, check_known, check_shape, require_id


def request(**overrides):
    body = {"user_id": "u1", "item_ids": ["50", "181"], "actions": ["like", "dislike"]}
    body.update(overrides)
    return InteractionRequest.model_validate(body)


def messages(problems):
    return [p.msg for p in problems]


def test_a_valid_request_has_no_problems():
    assert check_shape(request(), max_batch=100, max_id_length=64) == []


def test_unequal_lengths_are_reported():
    problems = check_shape(request(actions=["like"]), max_batch=100, max_id_length=64)
    assert len(problems) == 1
    assert "same length" in problems[0].msg
    assert problems[0].as_dict()["loc"] == ["body", "actions"]


def test_oversized_batch_is_reported():
    many = [str(i) for i in range(101)]
    problems = check_shape(
        request(item_ids=many, actions=["like"] * 101), max_batch=100, max_id_length=64
    )
    assert messages(problems) == ["at most 100 events per request, got 101"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "must not be empty"),
        ("x" * 65, "longer than 64 characters"),
        ("a b", "may hold only"),
        ("-leading", "may hold only"),
        ("ünïcode", "may hold only"),
        ("key*glob", "may hold only"),
    ],
)
def test_malformed_ids_are_rejected_with_a_reason(value, reason):
    problem = check_id(value, 64)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize("value", ["50", "u-123", "anon:4f3a", "a.b@c", "A_Z"])
def test_well_formed_ids_pass(value):
    assert check_id(value, 64) is None


def test_every_bad_item_is_reported_with_its_index():
    problems = check_shape(
        request(item_ids=["ok", "bad id", "x" * 99], actions=["like"] * 3),
        max_batch=100,
        max_id_length=64,
    )
    assert [p.loc for p in problems] == [("item_ids", 1), ("item_ids", 2)]


def test_unknown_items_are_named():
    problems = check_known(["1", "999999", "2"], [True, False, True])
    assert messages(problems) == ["unknown item '999999': not in the catalogue"]
    assert problems[0].loc == ("item_ids", 1)


def test_require_id_raises_one_422_problem_at_its_place() -> None:
    require_id("user-1", 64, loc=("path", "user_id"))  # fine: nothing raised
    with pytest.raises(InvalidRequest) as raised:
        require_id("bad id", 64, loc=("path", "user_id"))
    assert raised.value.problems == [
        {
            "loc": ["path", "user_id"],
            "msg": "user_id may hold only letters, digits and _ . : @ - "
            "and must start with a letter or digit",
            "type": "value_error",
        }
    ]
