"""Ranking metrics for leave-one-out evaluation over the full catalogue.

Each evaluated user has exactly one held-out item, so:

- HR@k is the share of users whose held-out item is in their top k;
- NDCG@k is the mean of 1 / log2(rank + 2) (0-based rank) when it is, else 0
  (the ideal DCG of a single relevant item is 1);
- Recall@k is hits / relevant items = HR@k, reported under its usual name;
- coverage@k is the share of the catalogue that appears in at least one
  user's top k.

Ties are broken by catalogue order, the same way ``np.argsort(kind="stable")``
of the negated scores would: a model gains nothing by giving many items the
same score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from recsys.training.data import Catalogue, Split

# scores(users, histories) -> array (len(users), len(catalogue)); higher is better.
ScoreFn = Callable[[Sequence[str], Sequence[Sequence[str]]], np.ndarray]


@dataclass(frozen=True)
class Metrics:
    hr_at_10: float
    ndcg_at_10: float
    recall_at_20: float
    coverage_at_10: float
    n_users: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def hit_rate(ranks: Sequence[int] | np.ndarray, k: int) -> float:
    ranks = np.asarray(ranks)
    return float(np.mean(ranks < k)) if ranks.size else 0.0


def ndcg(ranks: Sequence[int] | np.ndarray, k: int) -> float:
    ranks = np.asarray(ranks, dtype=float)
    if not ranks.size:
        return 0.0
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(np.mean(gains))


def recall(ranks: Sequence[int] | np.ndarray, k: int) -> float:
    # One relevant item per user: recall@k = hits / 1, averaged over users.
    return hit_rate(ranks, k)


def coverage(top_lists: Sequence[Sequence[int]] | np.ndarray, n_items: int) -> float:
    recommended = {int(j) for top in top_lists for j in top}
    return len(recommended) / n_items if n_items else 0.0


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each row's target column, ties broken by column order."""
    rows = np.arange(scores.shape[0])
    target_scores = scores[rows, targets][:, None]
    higher = (scores > target_scores).sum(axis=1)
    columns = np.arange(scores.shape[1])[None, :]
    tied_before = ((scores == target_scores) & (columns < targets[:, None])).sum(axis=1)
    return np.asarray(higher + tied_before)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best columns of each row, best first, ties by column order."""
    k = min(k, scores.shape[1])
    if k == 0 or 4 * k >= scores.shape[1] or np.isnan(scores).any():
        # Stable sort of negated scores: equal scores keep catalogue order.
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    # The same answer without sorting whole rows (personal lists rank the
    # full catalogue for every user): the k-th best score of each row, every
    # column above it, then the first columns equal to it until there are k;
    # only those k are sorted.
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    above = scores > kth
    tied = scores == kth
    room = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))
    columns = np.nonzero(chosen)[1].reshape(scores.shape[0], k)  # ascending in each row
    order = np.argsort(-np.take_along_axis(scores, columns, axis=1), axis=1, kind="stable")
    return np.take_along_axis(columns, order, axis=1)


def mask_excluded(
    scores: np.ndarray, users: Sequence[str], exclude: dict[str, set[str]], catalogue: Catalogue
) -> np.ndarray:
    """Set the score of every item a user must not be shown to -inf (in place)."""
    for row, user_id in enumerate(users):
        columns = catalogue.indices(exclude.get(user_id, ()))
        if columns:
            scores[row, columns] = -np.inf
    return scores


def evaluate(
    score: ScoreFn,
    split: Split,
    catalogue: Catalogue,
    users: Sequence[str] | None = None,
    batch_size: int = 1024,
) -> Metrics:
    """Rank the full catalogue for each evaluated user, rated items excluded."""
    users = [u for u in (split.users if users is None else users) if split.targets[u] in catalogue]
    ranks: list[np.ndarray] = []
    tops: list[np.ndarray] = []
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        scores = np.array(score(batch, [split.train.get(u, []) for u in batch]), dtype=np.float64)
        mask_excluded(scores, batch, split.exclude, catalogue)
        targets = np.array([catalogue.index[split.targets[u]] for u in batch])
        ranks.append(target_ranks(scores, targets))
        tops.append(top_k(scores, 10))
    all_ranks = np.concatenate(ranks) if ranks else np.array([], dtype=int)
    all_tops = np.concatenate(tops) if tops else np.empty((0, 10), dtype=int)
    return Metrics(
        hr_at_10=hit_rate(all_ranks, 10),
        ndcg_at_10=ndcg(all_ranks, 10),
        recall_at_20=recall(all_ranks, 20),
        coverage_at_10=coverage(all_tops, len(catalogue)),
        n_users=len(users),
    )
