"""A local stand-in for EventBridge Scheduler: calls the job handlers on a timer.

Each run of a job is a fresh process that imports the function's module and
calls ``handler(event, None)`` with an EventBridge "Scheduled Event" payload,
so a job runs as it does on Lambda: isolated, with its own memory, never
holding up the other job.  A job never overlaps itself: its next run starts
``every`` seconds after the previous one *finished*, like a rate() schedule
with a reserved concurrency of one.

    python -m devtools scheduler --popularity-every 10 --train-every 60
    python -m devtools scheduler --invoke popularity   # one run, event on stdin
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger("scheduler")
ROOT = Path(__file__).resolve().parent.parent

JOBS = {
    "popularity": "functions.popularity.app",
    "train": "functions.train.app",
}


def scheduled_event(job: str, *, attempt: int = 1) -> dict[str, Any]:
    """The payload EventBridge Scheduler sends the job: template.yaml's ``Input``, filled in.

    The one home of this shape: the local scheduler, the tests and the Docker
    stack use it, and tests/deploy checks the template's ``Input`` against it.
    """
    now = dt.datetime.now(dt.UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "000000000000",
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:scheduler:us-east-1:000000000000:schedule/default/recsys-{job}"],
        "detail": {"job": job, "attempt": str(attempt)},
    }


class ScheduledJob:
    def __init__(self, job: str, every_s: float, stop: threading.Event, first_delay_s: float):
        self.job = job
        self.every_s = every_s
        self.stop = stop
        self.first_delay_s = first_delay_s
        self.process: subprocess.Popen[str] | None = None
        self.thread = threading.Thread(target=self._loop, name=job, daemon=True)

    def _run_once(self) -> int:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools", "scheduler", "--invoke", self.job],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # stopped by terminate(), not by the terminal's Ctrl-C
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(scheduled_event(self.job)))
        self.process.stdin.close()
        for line in self.process.stdout:
            sys.stdout.write(f"[{self.job:8}] {line}")
            sys.stdout.flush()
        return self.process.wait()

    def _loop(self) -> None:
        if self.stop.wait(self.first_delay_s):
            return
        while not self.stop.is_set():
            code = self._run_once()
            if code != 0 and not self.stop.is_set():
                log.error("%s exited with %d; next try in %.0f s", self.job, code, self.every_s)
            if self.stop.wait(self.every_s):
                return

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start(
    intervals: dict[str, float],
    stop: threading.Event,
    first_delays: dict[str, float] | None = None,
) -> list[ScheduledJob]:
    jobs = []
    for job, every_s in intervals.items():
        if every_s <= 0:
            continue
        scheduled = ScheduledJob(job, every_s, stop, (first_delays or {}).get(job, 0.0))
        scheduled.thread.start()
        jobs.append(scheduled)
    return jobs


def invoke(job: str) -> int:
    """Run one job in this process, with the event read from stdin."""
    raw = sys.stdin.read()
    event = json.loads(raw) if raw.strip() else scheduled_event(job)
    handler = importlib.import_module(JOBS[job]).handler
    result = handler(event, None)
    print(json.dumps(result, default=str))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--popularity-every", type=float, default=10.0, help="seconds; 0 = off")
    parser.add_argument("--train-every", type=float, default=60.0, help="seconds; 0 = off")
    parser.add_argument("--invoke", choices=sorted(JOBS), help="run one job once and exit")


def run(args: argparse.Namespace) -> int:
    if args.invoke:
        return invoke(args.invoke)
    stop = threading.Event()
    jobs = start({"popularity": args.popularity_every, "train": args.train_every}, stop)
    try:
        while any(job.thread.is_alive() for job in jobs):
            stop.wait(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for job in jobs:
            job.terminate()
    return 0
