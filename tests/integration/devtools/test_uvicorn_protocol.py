"""Local uvicorn servers: the worker count, and TCP_NODELAY kept with several workers."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from devtools.localrun import uvicorn_command
from tests.conftest import ROOT
from tests.support import free_port

pytestmark = pytest.mark.integration

BODY = {"user_id": "u", "item_ids": ["50"], "actions": ["like"]}


def wait_until_answering(http: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            http.get("/healthcheck")
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_two_workers_answer_sequential_keep_alive_requests_without_nagle_delay():
    port = free_port()
    server = subprocess.Popen(
        uvicorn_command(
            "benchmarks.bare", "127.0.0.1", port, log_level="warning", workers=2, access_log=False
        ),
        cwd=ROOT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            wait_until_answering(http)
            samples = []
            for _ in range(40):
                started = time.perf_counter()
                assert http.post("/interact", json=BODY).status_code == 200
                samples.append(time.perf_counter() - started)
        # Nagle + delayed ACK would put every answer at ~40 ms or more.
        assert statistics.median(samples) < 0.030, [round(s * 1000, 1) for s in samples]
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.mark.parametrize(("web_concurrency", "processes"), [(None, 0), ("2", 2)])
def test_make_run_leaves_the_worker_count_to_web_concurrency(web_concurrency, processes):
    """`make run` passes no --workers: uvicorn reads $WEB_CONCURRENCY, else serves alone."""
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    if web_concurrency:
        env["WEB_CONCURRENCY"] = web_concurrency
    port = free_port()
    command = uvicorn_command("benchmarks.bare", "127.0.0.1", port, log_level="warning")
    assert "--workers" not in command
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            wait_until_answering(http)
        # One worker is served by uvicorn's own process; N > 1 are its children
        # (beside them, multiprocessing's resource tracker).
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        workers = [c for c in children if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
        assert len(workers) == processes
    finally:
        server.terminate()
        server.wait(timeout=15)
