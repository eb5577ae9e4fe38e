"""The local scheduler invokes a job handler in its own process with an EventBridge event."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from devtools.scheduler import scheduled_event
from recsys.domain.events import Event
from tests.conftest import ROOT
from tests.integration.helpers import load_event
from tests.support import settings_env

pytestmark = pytest.mark.integration


def test_scheduled_event_has_the_eventbridge_shape():
    event = scheduled_event("popularity")
    reference = load_event("eventbridge_schedule.json")
    assert set(event) == set(reference)
    assert event["detail-type"] == reference["detail-type"] == "Scheduled Event"
    assert event["source"] == reference["source"] == "aws.scheduler"
    assert event["detail"] == reference["detail"] == {"job": "popularity", "attempt": "1"}


def test_invoke_runs_the_popularity_handler_once(settings, clients):
    clients.broker.publish([Event.new("s", "50", "like"), Event.new("t", "50", "like")])
    env = settings_env(settings)
    result = subprocess.run(
        [sys.executable, "-m", "devtools", "scheduler", "--invoke", "popularity"],
        cwd=ROOT,
        env=env,
        input=json.dumps(load_event("eventbridge_schedule.json")),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == "ok"
    assert report["drained"] == 2
    assert clients.cache.popular() == ["50"]
