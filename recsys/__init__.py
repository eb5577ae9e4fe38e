"""Shared core of the movie recommender, in layers.

* ``domain``: events and ids, validation, ranking rules, title text, errors.
  Plain Python, no I/O.
* ``adapters``: Redis (the serving cache), RabbitMQ, object storage, the event
  log, the MovieLens files, health probes.
* ``services``: the use cases the functions call (collect, recommend, search,
  popularity, catalogue, bootstrap); they take adapters as arguments.
* ``training``: item2vec, tuning, evaluation and the training job.

Each layer imports only those listed before it (tests/unit/test_boundaries.py).
Nothing here imports FastAPI, Mangum or anything Lambda-specific: functions/* are
thin adapters around it.  numpy, gensim and optuna are imported only under
``recsys.training``, which the API functions never import (their cold start
pays for every import).
"""

__version__ = "0.1.0"
