"""What a training run leaves behind: lists in Redis, model and report in storage.

Artifact storage layout (under ``settings.artifact_uri``):

| key                                        | what                                         |
|--------------------------------------------|----------------------------------------------|
| item2vec/best_params.json                  | the tuner's best parameters: the next warm start |
| item2vec/latest.json                       | the version currently published              |
| item2vec/models/{version}/model.pkl        | the gensim Word2Vec model (``Word2Vec.load``) |
| item2vec/models/{version}/report.json      | protocol, test metrics of every model, trials |
| item2vec/models/{version}/optimisation_history.png | optuna's optimisation-history plot   |
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna

from recsys.adapters.serving_cache import ServingCache
from recsys.adapters.storage import ObjectStore
from recsys.training.data import Interactions
from recsys.training.item2vec import Item2Vec
from recsys.training.metrics import mask_excluded, top_k
from recsys.training.similarity import item_neighbours

log = logging.getLogger(__name__)

ARTIFACT_ROOT = "item2vec/"
BEST_PARAMS_KEY = ARTIFACT_ROOT + "best_params.json"
LATEST_KEY = ARTIFACT_ROOT + "latest.json"


def model_prefix(version: str) -> str:
    return f"{ARTIFACT_ROOT}models/{version}/"


# --- lists --------------------------------------------------------------------------
def personal_lists(
    model: Item2Vec, interactions: Interactions, top_n: int, batch_size: int = 1024
) -> dict[str, list[str]]:
    """Each user's top-N, never an item they liked or disliked.

    Users the model knows nothing about get an empty list, which deletes any
    stale one: /recs then falls through to the popular list.
    """
    users = interactions.users
    lists: dict[str, list[str]] = {}
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        histories = [interactions.sequences.get(u, []) for u in batch]
        has_context = [model.context_vector(h) is not None for h in histories]
        scores = mask_excluded(
            model.score(batch, histories), batch, interactions.rated, model.catalogue
        )
        best = top_k(scores, top_n)
        for row, user_id in enumerate(batch):
            if not has_context[row]:
                lists[user_id] = []
                continue
            lists[user_id] = [
                model.catalogue.ids[j] for j in best[row] if np.isfinite(scores[row, j])
            ]
    return lists


def neighbour_lists(
    model: Item2Vec, top_m: int, genres: Mapping[str, Sequence[str]] | None = None
) -> dict[str, list[str]]:
    """Films that resemble each film (recsys.training.similarity), for "because" and similar."""
    return item_neighbours(model, top_m, genres=genres)


def publish_lists(
    cache: ServingCache,
    personal: Mapping[str, Sequence[str]],
    neighbours: Mapping[str, Sequence[str]],
    info: Mapping[str, Any],
) -> None:
    """Lists first, model metadata last: /model never names a model whose lists are missing."""
    cache.set_personal(personal)
    cache.set_neighbours(neighbours)
    cache.set_model_info(info)


# --- artifacts ----------------------------------------------------------------------
def load_best_params(artifacts: ObjectStore) -> dict[str, Any] | None:
    try:
        stored = json.loads(artifacts.get(BEST_PARAMS_KEY))
    except KeyError:
        return None
    except ValueError:
        log.warning("ignoring an unreadable %s", BEST_PARAMS_KEY)
        return None
    params = stored.get("params") if isinstance(stored, dict) else None
    return params if isinstance(params, dict) else None


def save_best_params(
    artifacts: ObjectStore, params: Mapping[str, Any], info: Mapping[str, Any]
) -> None:
    body = {"params": dict(params), **info}
    artifacts.put(BEST_PARAMS_KEY, _json(body), content_type="application/json")


def save_model(
    artifacts: ObjectStore,
    version: str,
    model: Item2Vec,
    report: Mapping[str, Any],
    study: optuna.Study,
) -> list[str]:
    """Model, report and plot under the version's prefix, then the ``latest`` pointer."""
    prefix = model_prefix(version)
    buffer = io.BytesIO()
    model._require_model().save(buffer)
    artifacts.put(prefix + "model.pkl", buffer.getvalue())
    artifacts.put(prefix + "report.json", _json(report), content_type="application/json")
    keys = [prefix + "model.pkl", prefix + "report.json"]
    plot = optimisation_history_png(study)
    if plot is not None:
        artifacts.put(prefix + "optimisation_history.png", plot, content_type="image/png")
        keys.append(prefix + "optimisation_history.png")
    artifacts.put(LATEST_KEY, _json({"version": version, "keys": keys}), "application/json")
    return keys


def optimisation_history_png(study: optuna.Study) -> bytes | None:
    """optuna's optimisation-history plot; None when no trial finished or no matplotlib."""
    if not study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        return None
    try:
        import matplotlib
    except ImportError:  # the Lambda bundle leaves matplotlib out to fit the size limit
        log.info("matplotlib is not installed: no optimisation-history plot")
        return None
    matplotlib.use("Agg")  # no display on Lambda or CI
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from optuna.visualization.matplotlib import plot_optimization_history

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = plot_optimization_history(study)
    axes.set_ylabel("validation NDCG@10")
    figure = axes.figure
    if not isinstance(figure, Figure):  # a sub-figure: not what plot_optimization_history makes
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode()
