"""Neighbour lists that resemble the film: cosine of item vectors, checked by genre.

A film's neighbours feed "because you liked X" (the real-time part of /recs)
and "More like this" (GET /items/{id}/similar).  Both promise resemblance, so:

- similarity is the cosine of the items' input (embedding) vectors, which
  item2vec pulls together for films liked by the same people in the same
  stretch of their history; not the next-item prediction
  (``predict_output_word`` with a one-item context), whose output layer
  carries popularity and release-time co-occurrence (1997 films, blockbusters);
- a neighbour must clear ``min_cosine``;
- and it must be close in genre (``close_in_genre``): share a specific genre
  with the film (anything but Drama and Comedy, which a third of the
  catalogue carries), or, for a film that is only a drama and/or a comedy,
  be one of those too with no specific genre of its own.  Films without any
  genre are judged by the cosine alone.

Among the films that pass, the order is the cosine plus ``genre_weight``
times the Jaccard overlap of the two films' genre sets: of two films the
vectors find about as close, the one of the same kind comes first (item2vec
cosines of a film's 20 nearest films sit within a few hundredths).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from recsys.training.item2vec import Item2Vec

GENERIC_GENRES = frozenset({"Drama", "Comedy"})
# Below this cosine two films are not called similar, whatever their genres.
MIN_COSINE = 0.2
# Candidates looked at per film before the genre check, as a multiple of top_m.
POOL_FACTOR = 6
GENRE_WEIGHT = 0.3


def specific_genres(genres: Iterable[str]) -> set[str]:
    return set(genres) - GENERIC_GENRES


def close_in_genre(film: Sequence[str], other: Sequence[str]) -> bool:
    """Whether ``other`` is of the same kind as ``film`` (see the module docstring)."""
    if not film or not other:
        return True
    mine, theirs = specific_genres(film), specific_genres(other)
    if mine:
        return bool(mine & theirs)
    return not theirs and bool(set(film) & set(other))


def genre_overlap(film: Sequence[str], other: Sequence[str]) -> float:
    """Jaccard overlap of two genre sets (0 when either is empty)."""
    mine, theirs = set(film), set(other)
    union = mine | theirs
    return len(mine & theirs) / len(union) if mine and theirs else 0.0


def item_neighbours(
    model: Item2Vec,
    top_m: int,
    *,
    genres: Mapping[str, Sequence[str]] | None = None,
    min_cosine: float = MIN_COSINE,
    genre_weight: float = GENRE_WEIGHT,
) -> dict[str, list[str]]:
    """For each item with a vector, up to top_m similar items, most similar first.

    The list may be shorter than top_m (even empty): only films that pass
    both checks are listed.
    """
    wv = model._require_model().wv
    known = model.vocab_columns >= 0
    keys = [k for k, ok in zip(wv.index_to_key, known, strict=True) if ok]
    if not keys:
        return {}
    # Normalised here: gensim's cached norms may predate the last training segment.
    raw = wv.vectors[known]
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    vectors = raw / np.where(norms > 0, norms, 1.0)
    genres = genres or {}
    pool = min(len(keys) - 1, top_m * POOL_FACTOR)
    result: dict[str, list[str]] = {}
    for start in range(0, len(keys), 512):
        block = vectors[start : start + 512] @ vectors.T
        for offset in range(block.shape[0]):
            block[offset, start + offset] = -np.inf
        if pool <= 0:
            best = np.empty((block.shape[0], 0), dtype=int)
        else:
            part = np.argpartition(-block, pool - 1, axis=1)[:, :pool]
            order = np.argsort(-np.take_along_axis(block, part, axis=1), axis=1, kind="stable")
            best = np.take_along_axis(part, order, axis=1)
        for offset, row in enumerate(best):
            item = keys[start + offset]
            film = genres.get(item, ())
            passed: list[tuple[float, str]] = []
            for j in row:
                cosine = float(block[offset, j])
                if cosine < min_cosine:
                    break
                other = genres.get(keys[j], ())
                if close_in_genre(film, other):
                    passed.append((cosine + genre_weight * genre_overlap(film, other), keys[j]))
            passed.sort(key=lambda pair: -pair[0])  # stable: equal scores keep the cosine order
            result[item] = [other_id for _, other_id in passed[:top_m]]
    return result
