"""Ranking metrics on cases small enough to work out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys.training.data import Catalogue, Split
from recsys.training.metrics import (
    coverage,
    evaluate,
    hit_rate,
    mask_excluded,
    ndcg,
    recall,
    target_ranks,
    top_k,
)


def test_hit_rate_counts_ranks_inside_the_cut_off() -> None:
    # 0-based ranks: 0 and 9 are inside the top 10, 10 and 15 are not.
    assert hit_rate([0, 9, 10, 15], 10) == 0.5
    assert hit_rate([], 10) == 0.0


def test_ndcg_discounts_by_log2_of_the_position() -> None:
    # Ranks 0, 1, 3 (positions 1, 2, 4) and a miss: gains 1, 1/log2(3), 1/log2(5), 0.
    expected = (1.0 + 1.0 / math.log2(3) + 1.0 / math.log2(5) + 0.0) / 4
    assert ndcg([0, 1, 3, 10], 10) == pytest.approx(expected)
    assert ndcg([0], 10) == 1.0


def test_recall_with_one_held_out_item_is_the_hit_rate_at_its_cut_off() -> None:
    assert recall([0, 12, 19, 20, 40], 20) == 0.6


def test_coverage_is_the_share_of_the_catalogue_recommended_to_anyone() -> None:
    assert coverage([[0, 1], [1, 2], [2, 0]], 10) == 0.3
    assert coverage([], 10) == 0.0


def test_target_rank_breaks_ties_by_catalogue_order() -> None:
    scores = np.array(
        [
            [0.1, 0.9, 0.5, 0.3],  # target 2: only item 1 is higher -> rank 1
            [0.5, 0.5, 0.5, 0.5],  # target 3, all tied: items 0, 1, 2 come first -> rank 3
            [0.2, 0.7, 0.7, 0.0],  # target 1, tied with item 2 which comes after -> rank 0
        ]
    )
    assert target_ranks(scores, np.array([2, 3, 1])).tolist() == [1, 3, 0]
    assert top_k(scores, 2).tolist() == [[1, 2], [0, 1], [1, 2]]


def test_excluded_items_drop_to_the_bottom() -> None:
    catalogue = Catalogue(["1", "2", "3"])
    scores = mask_excluded(np.array([[3.0, 2.0, 1.0]]), ["u"], {"u": {"1", "unknown"}}, catalogue)
    assert scores[0, 0] == -np.inf
    assert top_k(scores, 1).tolist() == [[1]]


def test_evaluate_ranks_the_full_catalogue_without_the_rated_items() -> None:
    catalogue = Catalogue([str(i) for i in range(1, 13)])
    # Both users rated item "1"; the fixed scores prefer low ids.
    split = Split(
        train={"a": ["1"], "b": ["1"]},
        targets={"a": "2", "b": "12"},
        exclude={"a": {"1"}, "b": {"1"}},
    )

    def score(users, histories):
        return np.tile(-np.arange(12, dtype=float), (len(users), 1))

    metrics = evaluate(score, split, catalogue)
    # Without "1", "2" is ranked first (rank 0) and "12" last (rank 10): one hit of two.
    assert metrics.hr_at_10 == 0.5
    assert metrics.ndcg_at_10 == pytest.approx(0.5 * 1.0)
    assert metrics.recall_at_20 == 1.0
    # Both users get items 2..11 in their top 10: 10 of 12 catalogue items.
    assert metrics.coverage_at_10 == pytest.approx(10 / 12)
    assert metrics.n_users == 2


def test_top_k_equals_a_stable_full_sort_with_ties_and_excluded_items() -> None:
    rng = np.random.default_rng(3)
    # Few distinct values: many ties, also at the k-th place; -inf for excluded items.
    scores = rng.integers(0, 6, size=(200, 400)).astype(np.float64)
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    scores[0] = -np.inf  # a user with nothing left to rank
    for k in (1, 10, 50, 99, 100, 400):
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        assert np.array_equal(top_k(scores, k), expected), k
    continuous = rng.random((50, 1000))
    expected = np.argsort(-continuous, axis=1, kind="stable")[:, :100]
    assert np.array_equal(top_k(continuous, 100), expected)
