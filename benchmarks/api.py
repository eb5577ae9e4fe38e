"""Benchmark of the two API functions: ``make bench``.

Measures, on the real Redis and RabbitMQ of this machine:

- cold import time of each function module (a Lambda cold start pays it);
- warm latency of GET /recs/{user} and POST /interact over HTTP (uvicorn,
  keep-alive client): p50 / p95 / p99 and requests per second;
- the same requests through the Mangum handler in-process, as a warm Lambda
  invocation sees them (no network);
- resident memory of each uvicorn process after the run.

Uses its own key prefix and queue and deletes them afterwards.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from devtools.localrun import uvicorn_command
from recsys import catalogue
from recsys.clients import Clients
from recsys.settings import Settings
from tests.lambda_context import LambdaContext
from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return {
        "p50_ms": round(pick(0.50), 2),
        "p95_ms": round(pick(0.95), 2),
        "p99_ms": round(pick(0.99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def cold_import(module: str, repeats: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        for _ in range(repeats)
    ]
    return round(statistics.median(runs) * 1000, 1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthcheck").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


def timed(n: int, call: Any) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=1000)
    parser.add_argument("--import-repeats", type=int, default=5)
    args = parser.parse_args()

    run_id = uuid.uuid4().hex[:8]
    settings = Settings(
        key_prefix=f"bench:{run_id}:", queue_name=f"bench.{run_id}", exploration_rate=0.1
    )
    clients = Clients(settings)
    env = dict(
        os.environ, RECSYS_KEY_PREFIX=settings.key_prefix, RECSYS_QUEUE_NAME=settings.queue_name
    )
    results: dict[str, Any] = {"requests": args.requests}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        items = catalogue.load_movielens(clients.store, settings.data_dir)
        ids = clients.store.all_item_ids()
        clients.store.set_popular(ids[:200])
        clients.store.set_personal({f"user-{u}": ids[u : u + 100] for u in range(100)})
        clients.store.set_neighbours({i: ids[:20] for i in ids[:50]})
        clients.store.record_interactions(
            [(f"user-{u}", ids[u], "like") for u in range(100)], keep_likes=50
        )
        results["catalogue_items"] = items

        results["cold_import_ms"] = {
            m: cold_import(m, args.import_repeats)
            for m in ("functions.interact.app", "functions.recs.app")
        }

        urls = {}
        for name in ("interact", "recs"):
            port = free_port()
            processes[name] = subprocess.Popen(
                uvicorn_command(f"functions.{name}.app", "127.0.0.1", port, log_level="warning"),
                cwd=ROOT,
                env=env,
            )
            urls[name] = f"http://127.0.0.1:{port}"
            wait_healthy(urls[name])

        with httpx.Client() as http:
            recs = timed(
                args.requests,
                lambda i: http.get(f"{urls['recs']}/recs/user-{i % 100}").raise_for_status(),
            )
            interact = timed(
                args.requests,
                lambda i: http.post(
                    f"{urls['interact']}/interact",
                    json={
                        "user_id": f"bench-{i % 50}",
                        "item_ids": [ids[i % len(ids)]],
                        "actions": ["like"],
                    },
                ).raise_for_status(),
            )
        results["http_recs"] = {**percentiles(recs), "rps": round(len(recs) / sum(recs), 1)}
        results["http_interact"] = {
            **percentiles(interact),
            "rps": round(len(interact) / sum(interact), 1),
        }
        results["rss_mb"] = {name: rss_mb(p.pid) for name, p in processes.items()}

        os.environ.update(env)
        from functions.recs.app import handler as recs_handler

        logging.getLogger("mangum").setLevel(logging.WARNING)  # one line per request otherwise

        event = json.loads((EVENTS / "function_url_get_recs.json").read_text())
        mangum = timed(args.requests, lambda i: recs_handler(event, LambdaContext()))
        results["mangum_recs_in_process"] = percentiles(mangum)
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(timeout=10)
        clients.store.delete_all()
        clients.broker.delete_queue()
        clients.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
