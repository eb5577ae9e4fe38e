"""Scheduled job (EventBridge, every minute): drain the queue into the event log,
then recompute the popular list."""

from __future__ import annotations

from typing import Any

from functions.observability import Observability
from recsys.clients import Clients
from recsys.services import popularity
from recsys.settings import get_settings

observability = Observability("recsys-popularity")

# Seconds kept free at the end of the Lambda timeout for writing the popular list.
SAFETY_MARGIN_S = 15.0
DEFAULT_DRAIN_S = 45.0


@observability.instrument
def handler(event: dict[str, Any] | None, context: Any = None) -> dict[str, object]:
    """Accepts an EventBridge Scheduler event (its content is not needed) or nothing."""
    drain_s = DEFAULT_DRAIN_S
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        drain_s = max(1.0, context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_S)
    clients = Clients(get_settings())
    try:
        report = popularity.run(
            broker=clients.broker,
            event_log=clients.event_log,
            cache=clients.cache,
            settings=clients.settings,
            max_drain_seconds=drain_s,
        )
    finally:
        clients.close()
    result = {"status": "ok", **report.as_dict()}
    # Scheduled runs discard the return value: the log and the metrics are what remain.
    observability.logger.info("popularity job finished", extra={"result": result})
    observability.count("EventsDrained", report.drained)
    observability.count("Compactions", 1 if report.compacted_parts else 0)
    return result
