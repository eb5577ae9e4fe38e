"""The local runner, started as a user would start it, driven over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT
from tests.support import free_port, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIKED = ["98", "174", "204"]


def wait_until(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@pytest.fixture
def runner(settings, clients):
    ports = {"interact": free_port(), "recs": free_port()}
    env = settings_env(settings)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools",
            "run",
            "--interact-port",
            str(ports["interact"]),
            "--recs-port",
            str(ports["recs"]),
            "--frontend-port",
            "0",
            "--popularity-every",
            "1",
            "--train-every",
            "0",
            "--no-bootstrap",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        for url in urls.values():
            wait_until(lambda url=url: httpx.get(f"{url}/healthcheck").status_code == 200, 60, url)
        yield urls
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        print(output[-5000:])


def test_three_likes_then_the_job_then_recs(runner):
    response = httpx.post(
        f"{runner['interact']}/interact",
        json={"user_id": "runner-user", "item_ids": LIKED, "actions": ["like"] * 3},
    )
    assert response.status_code == 200, response.text

    def newcomer_sees_them_first():
        items = httpx.get(f"{runner['recs']}/recs/runner-newcomer").json()["item_ids"]
        return sorted(items[:3]) == sorted(LIKED) and items

    wait_until(newcomer_sees_them_first, 30, "the popularity job to publish the likes")
    own = httpx.get(f"{runner['recs']}/recs/runner-user", params={"n": 100}).json()["item_ids"]
    assert len(own) == 100
    assert not set(LIKED) & set(own)


def test_the_runner_explains_how_to_start_missing_services(settings):
    env = dict(os.environ)
    env["RECSYS_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    env["RECSYS_RABBITMQ_URL"] = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    result = subprocess.run(
        [sys.executable, "-m", "devtools", "run", "--frontend-port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "redis-server" in result.stderr and "rabbitmq-server" in result.stderr
    assert "docker compose up" in result.stderr
