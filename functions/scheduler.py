"""A local stand-in for EventBridge Scheduler: calls the job handlers on a timer.

Each job runs in its own thread, and a job never overlaps itself: the next run
starts ``every`` seconds after the previous one *finished*, like a rate()
schedule with one reserved concurrency.  Handlers get an EventBridge
"Scheduled Event" payload, so they run exactly as they do on Lambda.

    python -m functions.scheduler --popularity-every 10 --train-every 60
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

log = logging.getLogger("scheduler")

JOBS = {
    "popularity": "functions.popularity.app",
    "train": "functions.train.app",
}


def scheduled_event(rule: str) -> dict[str, Any]:
    """The payload EventBridge sends to a Lambda target of a schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:000000000000:rule/{rule}"],
        "detail": {},
    }


def load_handler(job: str) -> Callable[[dict[str, Any], Any], Any] | None:
    try:
        module = importlib.import_module(JOBS[job])
    except ImportError as exc:
        log.warning("job %s is not available (%s); not scheduling it", job, exc)
        return None
    handler: Callable[[dict[str, Any], Any], Any] = module.handler
    return handler


def run_every(
    job: str,
    handler: Callable[[dict[str, Any], Any], Any],
    every_s: float,
    stop: threading.Event,
    first_delay_s: float = 0.0,
) -> None:
    if stop.wait(first_delay_s):
        return
    while not stop.is_set():
        try:
            result = handler(scheduled_event(f"recsys-{job}"), None)
            log.info("%s: %s", job, result)
        except Exception:  # a failed run is logged and retried on the next tick
            log.exception("%s failed; next try in %.0f s", job, every_s)
        if stop.wait(every_s):
            return


def start(
    intervals: dict[str, float], stop: threading.Event, first_delays: dict[str, float] | None = None
) -> list[threading.Thread]:
    threads = []
    for job, every_s in intervals.items():
        if every_s <= 0:
            continue
        handler = load_handler(job)
        if handler is None:
            continue
        delay = (first_delays or {}).get(job, 0.0)
        thread = threading.Thread(
            target=run_every, args=(job, handler, every_s, stop, delay), name=job, daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--popularity-every", type=float, default=10.0, help="seconds; 0 = off")
    parser.add_argument("--train-every", type=float, default=60.0, help="seconds; 0 = off")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    stop = threading.Event()
    threads = start({"popularity": args.popularity_every, "train": args.train_every}, stop)
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=1.0)
    except KeyboardInterrupt:
        stop.set()


if __name__ == "__main__":
    main()
