"""Run the taste check (recsys.training.taste) through the real functions.

Dev tooling, like ``make evaluate`` itself: it drives the interact and recs
FastAPI apps in process (Starlette's TestClient) and calls the popularity and
train Lambda handlers, all on the real Redis and RabbitMQ under a key prefix
and queue of its own, with the event log and artifacts in a temporary folder.
Everything it created is deleted afterwards.

1. The catalogue is loaded and the MovieLens history written to the log (as
   ``recsys.training.job --seed-movielens`` does); the popularity job and the
   train job run once (the train job warm-started from the parameters the
   evaluation just tuned, with a small trial budget).
2. Each persona likes its first film, then the other four, one request per
   click; /recs is measured after the first like and after the fifth.
3. The popularity job drains the clicks, the train job retrains, and /recs is
   measured again.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recsys.adapters import movielens
from recsys.training.taste import (
    N_LIKES,
    TasteReport,
    like,
    make_personas,
    measure,
)

# Trials of each train run here: the parameters come warm from the evaluation's tuning.
TASTE_TRAIN_TRIALS = 2


class FunctionApi:
    """The two HTTP functions, in process."""

    def __init__(self, interact: Any, recs: Any) -> None:
        self.interact = interact
        self.recs_client = recs

    def like(self, user_id: str, item_id: str) -> None:
        response = self.interact.post(
            "/interact", json={"user_id": user_id, "item_ids": [item_id], "actions": ["like"]}
        )
        if response.status_code != 200:
            raise RuntimeError(f"POST /interact answered {response.status_code}: {response.text}")

    def recs(self, user_id: str, n: int) -> dict[str, Any]:
        response = self.recs_client.get(f"/recs/{user_id}", params={"n": n})
        if response.status_code != 200:
            raise RuntimeError(f"GET /recs answered {response.status_code}: {response.text}")
        body: dict[str, Any] = response.json()
        return body


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_taste_check(
    data_dir: str | Path,
    best_params: Mapping[str, Any],
    *,
    say: Callable[[str], None] = print,
) -> TasteReport:
    # The functions and the test client are imported here, not at module
    # level: the training package stays free of web-framework imports.
    from fastapi.testclient import TestClient

    from functions.interact.app import create_app as create_interact_app
    from functions.popularity.app import handler as popularity_handler
    from functions.recs.app import create_app as create_recs_app
    from functions.train.app import handler as train_handler
    from recsys.clients import Clients
    from recsys.settings import get_settings
    from recsys.training.job import seed_log_with_movielens
    from recsys.training.publish import save_best_params

    # One INFO line per request would bury the tables.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    started = time.monotonic()
    run_id = uuid.uuid4().hex[:10]
    with tempfile.TemporaryDirectory(prefix="taste-") as tmp:
        env = {
            "RECSYS_KEY_PREFIX": f"taste:{run_id}:",
            "RECSYS_QUEUE_NAME": f"taste.{run_id}.interactions",
            "RECSYS_EVENT_LOG_URI": str(Path(tmp) / "events"),
            "RECSYS_ARTIFACT_URI": str(Path(tmp) / "artifacts"),
            "RECSYS_DATA_DIR": str(data_dir),
            "RECSYS_TRAIN_TRIALS": str(TASTE_TRAIN_TRIALS),
        }
        with _environment(env):
            get_settings.cache_clear()
            settings = get_settings()
            clients = Clients(settings)
            try:
                seed_log_with_movielens(clients)
                save_best_params(clients.artifacts, best_params, {"source": "make evaluate"})
                say("taste check: popularity job and train job on the MovieLens history")
                popularity_handler({})
                first = train_handler({})
                say(f"  {first['reason']}")
                catalogue = movielens.read_items(data_dir)
                personas = make_personas(movielens.read_ratings(data_dir), catalogue)
                api = FunctionApi(
                    TestClient(create_interact_app(settings)),
                    TestClient(create_recs_app(settings)),
                )
                like(api, personas, 0, 1)
                after_one = measure("after 1 like", api, personas, catalogue)
                like(api, personas, 1, N_LIKES)
                after_five = measure(f"after {N_LIKES} likes", api, personas, catalogue)
                say("taste check: popularity job drains the clicks, train job retrains")
                popularity_handler({})
                second = train_handler({})
                say(f"  {second['reason']}")
                retrained = measure("after retrain", api, personas, catalogue)
            finally:
                clients.cache.delete_all()
                try:
                    clients.broker.delete_queue()
                finally:
                    clients.close()
                    get_settings.cache_clear()
    return TasteReport(
        personas, [after_one, after_five, retrained], seconds=time.monotonic() - started
    )
