"""Scheduled job (EventBridge Scheduler, hourly): tune item2vec on the event log,
gate it against popularity, publish personal lists and neighbours.

A thin adapter: the event carries nothing the job needs, so an EventBridge
Scheduler invocation, a scheduled-rule event and ``{}`` all start the same
run; settings come from the environment (``RECSYS_*``).
"""

from __future__ import annotations

from typing import Any

from functions.observability import MetricUnit, Observability
from recsys.clients import Clients
from recsys.settings import get_settings
from recsys.training import job
from recsys.training.experiment import ITEM2VEC_TUNED, POPULARITY

observability = Observability("recsys-train")


@observability.instrument
def handler(event: dict[str, Any] | None, context: Any = None) -> dict[str, Any]:
    """Accepts an EventBridge Scheduler event (its content is not needed) or nothing."""
    event = event or {}
    observability.logger.info(
        "training run started by %s", event.get("source", "a direct invocation")
    )
    clients = Clients(get_settings())
    try:
        # {"force": true} trains even when the log has not grown since the last run.
        result = job.run(clients, force=bool(event.get("force")))
    finally:
        clients.close()
    outcome = result.as_dict()
    # Scheduled runs discard the return value: the log and the metrics are what remain.
    observability.logger.info("training job finished", extra={"result": outcome})
    observability.count("ModelPublished", 1 if result.published else 0)
    tuned = result.metrics.get(ITEM2VEC_TUNED, {}).get("hr_at_10")
    popular = result.metrics.get(POPULARITY, {}).get("hr_at_10")
    if tuned is not None and popular is not None:
        observability.count("HitRate10", tuned, MetricUnit.NoUnit)
        observability.count("HitRate10OverPopularity", tuned - popular, MetricUnit.NoUnit)
    return outcome
