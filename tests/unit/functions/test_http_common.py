"""Pure parts of the HTTP hardening: strict JSON and capped 422 bodies."""

from __future__ import annotations

import json

import pytest

from functions.http_common import (
    capped_problems,
    dependency_message,
    server_timing,
    strict_json_loads,
    timing_allow_origin,
)
from recsys.settings import Settings


@pytest.mark.parametrize(
    "raw",
    [
        '{"user_id": NaN}',
        '{"user_id": Infinity}',
        '{"user_id": -Infinity}',
        '{"user_id": 1e400}',
        '{"user_id": -1e400}',
        '{"n": [1, 2, NaN]}',
        '{"n": ' + "9" * 5000 + "}",
        b'{"user_id": "\xff"}',
    ],
)
def test_strict_json_refuses_non_finite_and_overflowing_numbers(raw):
    with pytest.raises(json.JSONDecodeError):
        strict_json_loads(raw)


def test_strict_json_reads_ordinary_json():
    assert strict_json_loads(b'{"a": [1, 2.5, -3e10, "x", null, true]}') == {
        "a": [1, 2.5, -3e10, "x", None, True]
    }


def test_a_422_lists_at_most_the_cap_and_says_how_many_more():
    problems = [
        {"loc": ("body", "item_ids", i), "msg": "bad", "type": "value_error", "input": "x" * 500}
        for i in range(150)
    ]
    content = capped_problems(problems, 20)
    assert len(content["detail"]) == 20
    assert content["more_problems"] == 130
    assert len(content["detail"][0]["input"]) <= 101
    json.dumps(content, allow_nan=False)  # always serialisable


def test_a_422_input_that_is_not_json_safe_is_turned_into_text():
    content = capped_problems(
        [{"loc": ("body",), "msg": "bad", "type": "t", "input": float("nan"), "ctx": {"e": b"x"}}],
        5,
    )
    assert content["detail"][0]["input"] == "nan"
    assert "more_problems" not in content
    json.dumps(content, allow_nan=False)


@pytest.mark.parametrize("dependency", ["redis", "rabbitmq", "storage"])
def test_503_words_name_the_dependency_without_internals(dependency):
    text = dependency_message(dependency)
    assert "unavailable" in text
    assert "127.0.0.1" not in text and "Error" not in text


def test_server_timing_gives_each_step_in_milliseconds_in_order():
    assert server_timing(validate=0.00091, publish=0.0123, seen=0.0004) == (
        "validate;dur=0.9, publish;dur=12.3, seen;dur=0.4"
    )


def test_timing_details_are_shared_with_the_origins_cors_allows():
    settings = Settings(_env_file=None, cors_origins="https://a.example,https://b.example")
    assert timing_allow_origin(settings) == "https://a.example, https://b.example"
