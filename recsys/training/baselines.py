"""Baselines every run is measured against: popularity, ItemKNN (cosine), EASE.

All three see the same training sequences as item2vec and score the same
catalogue; order within a sequence does not matter to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse

from recsys.training.data import Catalogue


def like_matrix(sequences: Mapping[str, Sequence[str]], catalogue: Catalogue) -> sparse.csr_matrix:
    """Binary users x items matrix of training likes (rows in sorted user order)."""
    rows: list[int] = []
    cols: list[int] = []
    for row, user_id in enumerate(sorted(sequences)):
        columns = set(catalogue.indices(sequences[user_id]))
        rows.extend([row] * len(columns))
        cols.extend(columns)
    data = np.ones(len(rows), dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(sequences), len(catalogue)))


def history_matrix(histories: Sequence[Sequence[str]], catalogue: Catalogue) -> np.ndarray:
    """Dense binary rows for the users being scored."""
    matrix = np.zeros((len(histories), len(catalogue)), dtype=np.float64)
    for row, history in enumerate(histories):
        matrix[row, catalogue.indices(history)] = 1.0
    return matrix


class Popularity:
    """Items ranked by how many users like them; the same list for everyone."""

    name = "popularity"

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.counts = np.zeros(len(catalogue))

    def fit(self, sequences: Mapping[str, Sequence[str]]) -> Popularity:
        self.counts = np.asarray(like_matrix(sequences, self.catalogue).sum(axis=0)).ravel()
        return self

    def score(self, users: Sequence[str], histories: Sequence[Sequence[str]]) -> np.ndarray:
        return np.tile(self.counts, (len(histories), 1))


class ItemKNN:
    """Item-based collaborative filtering with cosine similarity on binary likes.

    score(u, j) = sum over liked items i of cos(i, j), the item's own
    similarity excluded.
    """

    name = "itemknn"

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.similarity = np.zeros((len(catalogue), len(catalogue)))

    def fit(self, sequences: Mapping[str, Sequence[str]]) -> ItemKNN:
        x = like_matrix(sequences, self.catalogue)
        co = (x.T @ x).toarray()
        norms = np.sqrt(np.diag(co))
        norms[norms == 0] = 1.0
        self.similarity = co / norms[:, None] / norms[None, :]
        np.fill_diagonal(self.similarity, 0.0)
        return self

    def score(self, users: Sequence[str], histories: Sequence[Sequence[str]]) -> np.ndarray:
        return history_matrix(histories, self.catalogue) @ self.similarity


class EASE:
    """Embarrassingly Shallow Autoencoder (Steck, 2019): a closed-form item-item model.

    B = I - P / diag(P) with P = (X^T X + lambda I)^-1, and score = X_u B.
    """

    name = "ease"

    def __init__(self, catalogue: Catalogue, l2: float = 500.0) -> None:
        self.catalogue = catalogue
        self.l2 = l2
        self.weights = np.zeros((len(catalogue), len(catalogue)))

    def fit(self, sequences: Mapping[str, Sequence[str]]) -> EASE:
        x = like_matrix(sequences, self.catalogue)
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        precision = np.linalg.inv(gram)
        self.weights = -precision / np.diag(precision)[None, :]
        np.fill_diagonal(self.weights, 0.0)
        return self

    def score(self, users: Sequence[str], histories: Sequence[Sequence[str]]) -> np.ndarray:
        return history_matrix(histories, self.catalogue) @ self.weights
