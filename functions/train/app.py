"""Scheduled job (EventBridge Scheduler, hourly): tune item2vec on the event log,
gate it against popularity, publish personal lists and neighbours.

A thin adapter: the event carries nothing the job needs, so an EventBridge
Scheduler invocation, a scheduled-rule event and ``{}`` all start the same
run; settings come from the environment (``RECSYS_*``).
"""

from __future__ import annotations

import logging
from typing import Any

from recsys.clients import Clients
from recsys.settings import get_settings
from recsys.training import job

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger(__name__)


def handler(event: dict[str, Any] | None, context: Any = None) -> dict[str, Any]:
    """Accepts an EventBridge Scheduler event (its content is not needed) or nothing."""
    event = event or {}
    log.info("training run started by %s", event.get("source", "a direct invocation"))
    clients = Clients(get_settings())
    try:
        # {"force": true} trains even when the log has not grown since the last run.
        result = job.run(clients, force=bool(event.get("force")))
    finally:
        clients.close()
    return result.as_dict()
