"""Multi-worker uvicorn keeps TCP_NODELAY with our protocol: no 40 ms Nagle stalls."""

from __future__ import annotations

import statistics
import subprocess
import time

import httpx
import pytest

from devtools.localrun import uvicorn_command
from tests.conftest import ROOT
from tests.support import free_port

pytestmark = pytest.mark.integration

BODY = {"user_id": "u", "item_ids": ["50"], "actions": ["like"]}


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
            deadline = time.monotonic() + 30
            while True:
                try:
                    http.get("/healthcheck")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
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
