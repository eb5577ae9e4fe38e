"""item2vec: gensim Word2Vec over each user's time-ordered likes.

A user's likes are a "sentence" and items are "words".  The model is scored
the way it was trained to predict: the input vectors of the user's last
``context_size`` likes are summed and multiplied by the output (negative
sampling) vectors of every item, exactly what ``Word2Vec.predict_output_word``
does for one context, done here for many users in one matrix product.  The
sum may weigh recent likes more (``context_decay`` < 1), a tuned parameter.  On
MovieLens-100K this beats ranking by cosine similarity to the mean of the
liked items' vectors by a wide margin, because the output layer carries the
co-occurrence (and popularity) signal the input vectors normalise away.  A
small share of that cosine (``similarity_weight``) is blended in all the
same: it keeps HR@10 and makes the list follow the genre of the likes
(docs/training.md, "Taste").

Items the model has no vector for (never liked in training, or below
``min_count``) are ranked after every item it knows, by popularity; users with
no known likes get the popularity ranking.  Full-catalogue ranking never drops
an item.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

from recsys.training.data import Catalogue

# Word2Vec's own learning-rate schedule: linear decay from ALPHA to MIN_ALPHA.
ALPHA = 0.025
MIN_ALPHA = 0.0001


@dataclass(frozen=True)
class Item2VecParams:
    """Everything that defines a fitted model, apart from the data and the seed."""

    sg: int = 0
    window: int = 5
    vector_size: int = 100
    negative: int = 5
    ns_exponent: float = 0.75
    epochs: int = 5
    sample: float = 1e-3
    min_count: int = 5
    # How many of the user's most recent likes form the prediction context, and
    # the weight of each like relative to the next more recent one (1.0: a
    # plain sum, as in predict_output_word).
    context_size: int = 5
    context_decay: float = 1.0
    # Weight of embedding similarity next to the next-item prediction (see
    # ``vocab_scores``); not tuned: chosen with the taste check and HR/NDCG
    # (docs/training.md).  0 scores by predict_output_word alone.
    similarity_weight: float = 0.25

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Item2VecParams:
        """Build from stored values; unknown keys (an older format) are ignored."""
        names = {f.name: f.type for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name in names:
                kwargs[name] = float(value) if name in _FLOAT_PARAMS else int(value)
        return cls(**kwargs)


_FLOAT_PARAMS = ("ns_exponent", "sample", "context_decay", "similarity_weight")

# gensim's defaults (4.x), scored by predict_output_word alone over as many
# recent likes as the window it trained on.
GENSIM_DEFAULTS = Item2VecParams(similarity_weight=0.0)

# on_checkpoint(epochs_done, model) is called after each training segment, and
# on_epoch(epochs_done, epoch_seconds) after every epoch; raising from either
# (e.g. optuna.TrialPruned) stops the fit.
CheckpointFn = Callable[[int, "Item2Vec"], None]
EpochFn = Callable[[int, float], None]


class _EpochCallback(CallbackAny2Vec):
    # gensim calls these in the thread that called train(); on_epoch_end runs
    # after the epoch's worker threads have finished, so raising there is safe.
    def __init__(self, on_epoch: EpochFn, epochs_before: int) -> None:
        self.on_epoch = on_epoch
        self.epochs_done = epochs_before
        self.epoch_started = time.monotonic()

    def on_epoch_begin(self, model: Word2Vec) -> None:
        self.epoch_started = time.monotonic()

    def on_epoch_end(self, model: Word2Vec) -> None:
        self.epochs_done += 1
        self.on_epoch(self.epochs_done, time.monotonic() - self.epoch_started)


class Item2Vec:
    name = "item2vec"

    def __init__(
        self,
        catalogue: Catalogue,
        params: Item2VecParams,
        *,
        seed: int = 42,
        fallback_counts: np.ndarray | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.params = params
        self.seed = seed
        # Popularity orders what the model cannot rank: unknown items, users with no known likes.
        counts = np.zeros(len(catalogue)) if fallback_counts is None else fallback_counts
        self.fallback = _unit_interval(np.asarray(counts, dtype=np.float64))
        self.model: Word2Vec | None = None
        self.vocab_columns = np.empty(0, dtype=int)

    # --- fitting ---------------------------------------------------------------
    def fit(
        self,
        sequences: Mapping[str, Sequence[str]],
        *,
        checkpoints: int = 1,
        on_checkpoint: CheckpointFn | None = None,
        on_epoch: EpochFn | None = None,
    ) -> Item2Vec:
        """Train in ``checkpoints`` segments with one continuous learning-rate decay.

        Splitting the epochs lets a tuner look at an unfinished model and stop
        a hopeless one early; the result does not depend on where it looks.
        """
        p = self.params
        # Deterministic: one worker thread, a fixed seed, sentences in user order.
        corpus = [list(sequences[u]) for u in sorted(sequences) if len(sequences[u]) >= 2]
        model = Word2Vec(
            vector_size=p.vector_size,
            window=p.window,
            sg=p.sg,
            hs=0,
            negative=p.negative,
            ns_exponent=p.ns_exponent,
            sample=p.sample,
            min_count=p.min_count,
            alpha=ALPHA,
            min_alpha=MIN_ALPHA,
            seed=self.seed,
            workers=1,
        )
        model.build_vocab(corpus)
        if not model.wv.index_to_key:
            raise ValueError("no item is liked often enough to learn a vector (check min_count)")
        self.model = model
        self.vocab_columns = np.array(
            [self.catalogue.index.get(item_id, -1) for item_id in model.wv.index_to_key]
        )
        bounds = _segment_bounds(p.epochs, checkpoints)
        for start, end in itertools.pairwise(bounds):
            model.train(
                corpus,
                total_examples=model.corpus_count,
                epochs=end - start,
                start_alpha=_alpha_at(start, p.epochs),
                end_alpha=_alpha_at(end, p.epochs),
                callbacks=[_EpochCallback(on_epoch, start)] if on_epoch else [],
            )
            if on_checkpoint is not None:
                on_checkpoint(end, self)
        return self

    # --- scoring ---------------------------------------------------------------
    def _require_model(self) -> Word2Vec:
        if self.model is None:
            raise RuntimeError("fit the model first")
        return self.model

    def context_vector(self, history: Sequence[str]) -> np.ndarray | None:
        """Weighted sum of the input vectors of the last ``context_size`` known likes.

        The most recent like weighs 1, the one before ``context_decay``, then
        its square, and so on: recent taste counts most, older likes still help.
        """
        wv = self._require_model().wv
        recent = [wv.key_to_index[i] for i in history if i in wv.key_to_index]
        recent = recent[-self.params.context_size :]
        if not recent:
            return None
        weights = self.params.context_decay ** np.arange(len(recent) - 1, -1, -1, dtype=float)
        return np.asarray(weights @ wv.vectors[recent])

    def vocab_scores(self, contexts: np.ndarray) -> np.ndarray:
        """Next-item logits, blended with embedding similarity.

        The logits are predict_output_word's (softmax is monotonic, so ranking
        needs no exp): what tends to be liked next, popularity included.  The
        similarity is the cosine between the context and each item's input
        vector: what resembles the recent likes.  Each is standardised per
        user and they are summed, similarity weighted ``similarity_weight``.
        """
        model = self._require_model()
        logits = np.asarray(contexts @ model.syn1neg.T)
        weight = self.params.similarity_weight
        if weight == 0:
            return logits
        cosine = _unit_rows(contexts) @ _unit_rows(model.wv.vectors).T
        return np.asarray(_standardise(logits) + weight * _standardise(cosine))

    def score(self, users: Sequence[str], histories: Sequence[Sequence[str]]) -> np.ndarray:
        scores = np.tile(self.fallback, (len(histories), 1))
        rows: list[int] = []
        contexts: list[np.ndarray] = []
        for row, history in enumerate(histories):
            vector = self.context_vector(history)
            if vector is not None:
                rows.append(row)
                contexts.append(vector)
        if rows:
            self._fill(scores, rows, self.vocab_scores(np.vstack(contexts)))
        return scores

    def _fill(self, scores: np.ndarray, rows: list[int], vocab_scores: np.ndarray) -> None:
        """Known items get the model's score; unknown ones sit below all of them."""
        known = self.vocab_columns >= 0
        columns = self.vocab_columns[known]
        model_scores = vocab_scores[:, known]
        # fallback is in [0, 1): unknown items rank below the lowest model score, by popularity.
        floor = model_scores.min(axis=1, keepdims=True) - 1.0
        scores[rows] = floor + scores[rows]
        scores[np.ix_(rows, columns)] = model_scores


def _segment_bounds(epochs: int, checkpoints: int) -> list[int]:
    checkpoints = max(1, min(checkpoints, epochs))
    return sorted({round(epochs * i / checkpoints) for i in range(checkpoints + 1)})


def _alpha_at(epoch: int, epochs: int) -> float:
    return ALPHA - (ALPHA - MIN_ALPHA) * epoch / epochs


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms > 0, norms, 1.0))


def _standardise(scores: np.ndarray) -> np.ndarray:
    """Per row: zero mean, unit deviation (rows with no spread stay flat)."""
    spread = scores.std(axis=1, keepdims=True)
    centred = scores - scores.mean(axis=1, keepdims=True)
    return np.asarray(centred / np.where(spread > 0, spread, 1.0))


def _unit_interval(counts: np.ndarray) -> np.ndarray:
    """Scale to [0, 1) keeping the order, so it can break ties below any real score."""
    if counts.size == 0 or counts.max() <= counts.min():
        return np.zeros_like(counts)
    return 0.999 * (counts - counts.min()) / (counts.max() - counts.min())


def quiet_gensim() -> None:
    """gensim logs every epoch at INFO; a tuning run would drown the useful lines."""
    logging.getLogger("gensim").setLevel(logging.WARNING)
