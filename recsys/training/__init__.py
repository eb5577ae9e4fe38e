"""Offline training: item2vec tuned by optuna, evaluated against strong baselines.

Everything that needs numpy, scipy, gensim, optuna or matplotlib lives in this
subpackage, and nothing outside it imports from here: the API functions must
start fast and stay small.

Modules, in the order a run uses them:

- ``data``: the event log -> time-ordered like sequences; the leave-last-out splits.
- ``metrics``: HR@k, NDCG@k, Recall@k, catalogue coverage@k over a full ranking.
- ``baselines``: popularity, ItemKNN (cosine), EASE.
- ``item2vec``: gensim Word2Vec over like sequences, scored with its own output layer.
- ``tuning``: the optuna search (seeded, pruned, warm-started, budgeted).
- ``publish``: lists and model metadata to Redis; model and report to storage.
- ``job``: one whole run (read, tune, gate against popularity, publish).
- ``evaluate``: the ``make evaluate`` CLI on MovieLens-100K.
"""
