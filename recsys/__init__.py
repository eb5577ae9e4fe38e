"""Shared core of the movie recommender.

Nothing in this package imports FastAPI, Mangum or anything Lambda-specific:
functions/* are thin adapters around it.  Modules that need numpy, pandas,
gensim or optuna live under ``recsys.training`` and are never imported by the
API functions (their cold start pays for every import).
"""

__version__ = "0.1.0"
