"""Run the whole service on this machine: ``make run`` (or ``python -m devtools run``).

- interact on :5000 and recs on :5001 (uvicorn, one process each, like two Lambdas;
  ``WEB_CONCURRENCY=2 make run`` gives each two worker processes, for both cores
  of a 2-core machine)
- the page on :8000
- a scheduler that invokes the popularity handler every 10 s and the train
  handler every 60 s, with EventBridge-shaped events
- on first start: the MovieLens catalogue, and its history bootstrapped as
  events through the real path (RabbitMQ -> popularity job -> event log)

Redis and RabbitMQ must already run; if they do not answer, this says how to
start them instead of printing a traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from devtools import HOW_TO_START, scheduler
from recsys.clients import Clients
from recsys.services import catalogue
from recsys.services.bootstrap import bootstrap
from recsys.settings import Settings

log = logging.getLogger("localrun")
ROOT = Path(__file__).resolve().parent.parent
SITE_DIR = ROOT / "frontend_static"


def preflight(clients: Clients) -> str | None:
    """None if Redis and RabbitMQ answer, else what is wrong."""
    problems = []
    try:
        clients.cache.ping()
    except Exception as exc:  # any failure means "not usable"
        problems.append(f"Redis at {clients.settings.redis_url} does not answer ({exc})")
    try:
        clients.broker.ping()
    except Exception as exc:
        problems.append(f"RabbitMQ does not answer ({exc})")
    return "\n".join(problems) or None


def _pipe_output(name: str, stream: object) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sys.stdout.write(f"[{name:8}] {line}")
        sys.stdout.flush()


def uvicorn_command(
    module: str,
    host: str,
    port: int,
    log_level: str = "info",
    workers: int | None = None,
    access_log: bool = True,
) -> list[str]:
    """The command that serves ``module``'s FastAPI ``app`` like one Lambda function.

    uvloop + httptools, and a protocol that keeps TCP_NODELAY when ``workers``
    > 1 (uvicorn loses it there: +40 ms per request, see devtools/uvicorn_protocol.py).
    ``workers=None`` leaves the count to uvicorn: ``$WEB_CONCURRENCY``, or 1.
    """
    return [
        sys.executable, "-m", "uvicorn", f"{module}:app",
        "--host", host, "--port", str(port), "--log-level", log_level,
        "--loop", "uvloop", "--http", "devtools.uvicorn_protocol:NoDelayHttpToolsProtocol",
        *([] if workers is None else ["--workers", str(workers)]),
        *([] if access_log else ["--no-access-log"]),
    ]  # fmt: skip


def start_api(name: str, module: str, host: str, port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        uvicorn_command(module, host, port),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        # Ctrl-C reaches the whole terminal process group; the runner stops its
        # children itself, in order, so they must not die of it on their own.
        start_new_session=True,
    )
    threading.Thread(target=_pipe_output, args=(name, process.stdout), daemon=True).start()
    return process


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--interact-port", type=int, default=5000)
    parser.add_argument("--recs-port", type=int, default=5001)
    parser.add_argument("--frontend-port", type=int, default=8000, help="0 = do not serve the page")
    parser.add_argument("--popularity-every", type=float, default=10.0, help="seconds; 0 = off")
    parser.add_argument("--train-every", type=float, default=60.0, help="seconds; 0 = off")
    parser.add_argument(
        "--no-bootstrap", action="store_true", help="do not publish the MovieLens history"
    )


def run(args: argparse.Namespace) -> int:
    """`make run`: exits 0 with a short line when stopped with Ctrl-C or SIGTERM."""
    try:
        code = _run(args)
    except KeyboardInterrupt:
        code = 0
    if code == 0:
        print("stopped", flush=True)
    return code


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="[%(name)-8s] %(asctime)s %(message)s")
    settings = Settings()
    clients = Clients(settings)
    problem = preflight(clients)
    if problem:
        print(f"Cannot start: {problem}\n\n{HOW_TO_START}", file=sys.stderr)
        return 1

    size = catalogue.load_movielens(clients.cache, settings.data_dir)
    log.info("catalogue: %d movies under prefix %r", size, settings.key_prefix)

    processes = [
        start_api("interact", "functions.interact.app", args.host, args.interact_port),
        start_api("recs", "functions.recs.app", args.host, args.recs_port),
    ]
    stop = threading.Event()
    if args.frontend_port:
        from devtools.site import serve_in_thread

        serve_in_thread(
            SITE_DIR,
            host=args.host,
            port=args.frontend_port,
            interact_url=f"http://{args.host}:{args.interact_port}",
            recs_url=f"http://{args.host}:{args.recs_port}",
        )
        log.info("page on http://%s:%d/", args.host, args.frontend_port)

    jobs: list[scheduler.ScheduledJob] = []

    def run_jobs() -> None:
        if not args.no_bootstrap:
            log.info("bootstrapping the MovieLens history (once; about a minute)")
            published = bootstrap(broker=clients.broker, cache=clients.cache, settings=settings)
            if published:
                log.info("bootstrapped %d MovieLens events", published)
        if stop.is_set():
            return
        jobs[:] = scheduler.start(
            {"popularity": args.popularity_every, "train": args.train_every},
            stop,
            # Let the first popularity run fill the log before the first training.
            first_delays={"train": min(args.train_every, 30.0)},
        )

    threading.Thread(target=run_jobs, name="jobs", daemon=True).start()

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    log.info(
        "interact on http://%s:%d, recs on http://%s:%d; Ctrl-C stops everything",
        args.host,
        args.interact_port,
        args.host,
        args.recs_port,
    )
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        log.error("an API process exited; stopping")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        for job in jobs:
            job.terminate()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
