"""No event lost, none counted twice: 20,000 events through /interact while the
broker connection is cut again and again (fault proxy) and the popularity job
is killed again and again.  Clients retry every failed request with the same
Idempotency-Key, as the page does.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from functions.interact.app import create_app
from recsys.domain.events import Action, latest_actions
from recsys.services import popularity
from tests.conftest import ROOT
from tests.faults import fault_proxy, serving
from tests.support import settings_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 20_000
PER_REQUEST = 25
CLIENTS = 8
JOB = "from functions.popularity.app import handler; handler(None)"


def send_with_retries(http: httpx.Client, body: dict, key: str) -> tuple[list[str], int]:
    attempts = 0
    while True:
        attempts += 1
        try:
            response = http.post("/interact", json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError:
            continue
        if response.status_code == 200:
            return response.json()["event_ids"], attempts
        assert response.status_code == 503, response.text
        time.sleep(0.05)


def test_20000_events_with_broker_cuts_and_killed_jobs(settings, clients, catalogue):
    rng = random.Random(7)
    requests = [
        {
            "user_id": f"soak-{n % 500}",
            "item_ids": [rng.choice(catalogue) for _ in range(PER_REQUEST)],
            "actions": [rng.choice(["like", "dislike"]) for _ in range(PER_REQUEST)],
        }
        for n in range(EVENTS // PER_REQUEST)
    ]
    done = threading.Event()
    cuts = kills = 0

    with fault_proxy("127.0.0.1", 5672) as proxy:
        app = create_app(
            settings.model_copy(
                update={"rabbitmq_url": proxy.url("amqp", userinfo="guest:guest@", path="/%2F")}
            )
        )

        def cut_the_broker() -> None:
            nonlocal cuts
            while not done.wait(0.7):
                proxy.set_mode("down")
                cuts += 1
                time.sleep(0.2)
                proxy.set_mode("pass")

        def kill_the_job() -> None:
            nonlocal kills
            env = settings_env(settings)
            while not done.is_set():
                job = subprocess.Popen([sys.executable, "-c", JOB], cwd=ROOT, env=env)
                time.sleep(rng.uniform(0.5, 2.0))
                if job.poll() is None:
                    job.send_signal(signal.SIGKILL)
                    kills += 1
                job.wait()

        with serving(app) as url, httpx.Client(base_url=url, timeout=10) as http:
            chaos = [
                threading.Thread(target=cut_the_broker, daemon=True),
                threading.Thread(target=kill_the_job, daemon=True),
            ]
            for thread in chaos:
                thread.start()
            try:
                with ThreadPoolExecutor(CLIENTS) as pool:
                    answers = list(
                        pool.map(
                            lambda body: send_with_retries(http, body, uuid.uuid4().hex), requests
                        )
                    )
            finally:
                done.set()
                for thread in chaos:
                    thread.join(timeout=30)
        app.state.clients.close()

    acknowledged = [event_id for ids, _ in answers for event_id in ids]
    retried = sum(1 for _, attempts in answers if attempts > 1)
    assert len(acknowledged) == len(set(acknowledged)) == EVENTS
    assert cuts >= 3 and kills >= 2, (cuts, kills)
    assert retried > 0, "the cuts never hit a request: the test proved nothing"

    report = popularity.run(
        broker=clients.broker, event_log=clients.event_log, cache=clients.cache, settings=settings
    )
    logged = clients.event_log.read()
    assert sorted(e.event_id for e in logged) == sorted(acknowledged)  # none lost, no ghosts
    assert report.events_in_log == EVENTS
    stats = clients.cache.stats()
    assert int(stats["events_in_log"]) == EVENTS
    # likes/dislikes count each user's latest vote per film (distinct users).
    latest = latest_actions(logged).values()
    assert int(stats["likes"]) == sum(1 for e in latest if e.action is Action.LIKE)
    assert int(stats["dislikes"]) == sum(1 for e in latest if e.action is Action.DISLIKE)
    print(f"soak: {cuts} broker cuts, {kills} jobs killed, {retried} requests retried")
