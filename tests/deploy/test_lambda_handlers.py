"""Invoke every handler named in template.yaml the way Lambda does.

For each function: a fresh interpreter (a cold start) whose environment is the
function's own ``Environment`` from template.yaml (Globals included), with the
parameters and bucket names resolved to this machine's real services; the
code root on the import path (Lambda's /var/task) and no ``.env`` in the
working directory; the handler string resolved with importlib; and the
handler called with a sample event from tests/events/ and a Lambda context.
Libraries the function's requirements.txt does not install are made
unimportable, as they are in its zip.

Runs against the real Redis and RabbitMQ (a unique key prefix and queue name,
both deleted afterwards) and LocalStack S3 for the event log and artefacts
(a unique bucket, deleted afterwards).  Without LocalStack the storage falls
back to a temporary folder, and the test says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recsys.clients import Clients
from recsys.settings import Settings
from tests.conftest import ADMIN_TOKEN, DATA_DIR, EVENTS_DIR
from tests.deploy.conftest import ROOT, functions_of, load_template

pytestmark = pytest.mark.integration

FRONTEND_ORIGIN = "http://localhost:8000"
LOCAL_BUCKET = "local-artifact-bucket"
S3_ENDPOINT = os.environ.get("RECSYS_TEST_S3_ENDPOINT_URL", "http://127.0.0.1:4566")
TEMPLATE = load_template()
FUNCTIONS = functions_of(TEMPLATE)
OPTIONAL_LIBRARIES = (
    "numpy",
    "scipy",
    "pandas",
    "gensim",
    "optuna",
    "matplotlib",
    "fastapi",
    "pyarrow",
    "aio_pika",
)

# What the Lambda runtime does, in a few lines: resolve the handler string,
# build a context, call handler(event, context) once per event (a warm
# container serves them in turn), print the results as JSON.
DRIVER = r"""
import importlib, json, logging, sys, time, uuid

# The runtime installs its own root handler before it imports the handler
# module (root level WARNING with the text log format), which is what made
# logging.basicConfig() a silent no-op: INFO lines must still get through.
_runtime_handler = logging.StreamHandler(sys.stderr)
_runtime_handler.setFormatter(logging.Formatter("RUNTIME [%(levelname)s] %(message)s"))
logging.getLogger().addHandler(_runtime_handler)
logging.getLogger().setLevel(logging.WARNING)

blocked = {name for name in sys.argv[3].split(",") if name}

# Importing a library this function's zip does not carry fails as if it were
# absent (a None in sys.modules is not enough: pyarrow probes it for pandas).
class NotInTheZip:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInTheZip())

class LambdaContext:
    def __init__(self, name, memory_mb, timeout_s):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2026/11/30/[$LATEST]0123456789abcdef"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

spec = json.loads(sys.argv[1])
module_name, _, attr = spec["handler"].rpartition(".")
started = time.monotonic()
handler = getattr(importlib.import_module(module_name), attr)
init_s = time.monotonic() - started
results = []
for path in sys.argv[2].split(","):
    with open(path) as handle:
        event = json.load(handle)
    context = LambdaContext(spec["name"], spec["memory_mb"], spec["timeout_s"])
    results.append(handler(event, context))
print("LAMBDA_RESULTS " + json.dumps({"init_s": init_s, "results": results}, default=str))
"""


def _requirements(folder: str) -> set[str]:
    names = set()
    for line in (ROOT / "functions" / folder / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip())
    return {n.lower().replace("-", "_") for n in names}


def _resolve(value: Any, values: dict[str, str]) -> str:
    """A template value (literal, !Ref, !Sub, !If, !GetAtt) resolved for this machine."""
    if isinstance(value, str | int | float):
        return str(value)
    if "Ref" in value:
        return values[value["Ref"]]
    if "Sub" in value:
        text: str = value["Sub"]
        for name, resolved in values.items():
            text = text.replace("${" + name + "}", resolved)
        assert "${" not in text, f"unresolved {text!r}"
        return text
    if "If" in value:
        condition, when_true, when_false = value["If"]
        return _resolve(when_true if values[condition] == "true" else when_false, values)
    if "GetAtt" in value:
        return values[value["GetAtt"]]
    raise AssertionError(f"cannot resolve {value!r}")


@pytest.fixture
def storage(tmp_path: Path, run_id: str) -> Iterator[dict[str, str]]:
    """A LocalStack bucket standing in for ArtifactBucket (a folder without LocalStack)."""
    try:
        urllib.request.urlopen(f"{S3_ENDPOINT}/_localstack/health", timeout=2).read()
    except OSError:
        print(f"LocalStack not reachable at {S3_ENDPOINT}: event log in a temporary folder")
        root = tmp_path / "bucket"
        yield {
            "kind": "folder",
            "bucket": LOCAL_BUCKET,
            "root": str(root),
            "events_uri": str(root / "events"),
            "artifacts_uri": str(root / "artifacts"),
        }
        return
    from recsys.adapters.storage import s3_client

    bucket = f"recsys-lambda-test-{run_id}"
    client = s3_client(S3_ENDPOINT, "us-east-1")
    client.create_bucket(Bucket=bucket)
    try:
        yield {
            "kind": "s3",
            "bucket": bucket,
            "endpoint": S3_ENDPOINT,
            "events_uri": f"s3://{bucket}/events",
            "artifacts_uri": f"s3://{bucket}/artifacts",
        }
    finally:
        paginator = client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket):
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objects:
                client.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        client.delete_bucket(Bucket=bucket)


@pytest.fixture
def invoke(settings: Settings, storage: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """invoke(logical_id, *event_paths) -> list of handler results."""
    values = {
        "RedisUrl": settings.redis_url,
        "RabbitMqUrl": settings.rabbitmq_url,
        "QueueName": settings.queue_name,
        "KeyPrefix": settings.key_prefix,
        "AdminToken": ADMIN_TOKEN,
        "ExplorationRate": "0.0",
        "FrontendOrigin": FRONTEND_ORIGIN,
        "HasFrontendOrigin": "true",
        "TrainTrials": "4",
        "TrainSearchTimeout": "60",
        "AWS::Region": "us-east-1",
        "FrontendBucket.WebsiteURL": FRONTEND_ORIGIN,
    }
    values["ArtifactBucket"] = storage["bucket"]
    extra_env: dict[str, str] = {}
    if storage["kind"] == "s3":
        extra_env = {
            "RECSYS_S3_ENDPOINT_URL": storage["endpoint"],
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
    cwd = tmp_path / "var-task-cwd"  # no .env here: Lambda has none
    cwd.mkdir()

    def _invoke(name: str, *events: Path) -> list[Any]:
        props = FUNCTIONS[name]
        env_spec = {
            **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
            **props.get("Environment", {}).get("Variables", {}),
        }
        env = {key: _resolve(value, values) for key, value in env_spec.items()}
        if storage["kind"] == "folder":  # s3://bucket/x -> <tmp>/bucket/x
            env = {k: v.replace(f"s3://{LOCAL_BUCKET}", storage["root"]) for k, v in env.items()}
        if "RECSYS_DATA_DIR" in env:  # Lambda's /tmp: empty at a cold start
            env["RECSYS_DATA_DIR"] = str(tmp_path / "lambda-tmp" / "recsys-data")
        if "MPLCONFIGDIR" in env:
            env["MPLCONFIGDIR"] = str(tmp_path / "lambda-tmp" / "matplotlib")
        env.update(extra_env)
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(cwd),
                "PYTHONPATH": str(ROOT),  # the zip's root, like /var/task
                "LAMBDA_TASK_ROOT": str(ROOT),
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 512)),
            }
        )
        folder = props["Handler"].split(".")[1]
        installed = _requirements(folder)
        blocked = [lib for lib in OPTIONAL_LIBRARIES if lib not in installed]
        spec = {
            "name": name,
            "handler": props["Handler"],
            "memory_mb": props.get("MemorySize", 512),
            "timeout_s": props.get("Timeout", 10),
        }
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                DRIVER,
                json.dumps(spec),
                ",".join(str(e) for e in events),
                ",".join(blocked),
            ],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=float(spec["timeout_s"]) + 60,
        )
        assert result.returncode == 0, f"{name} failed:\n{result.stderr[-6000:]}"
        line = next(
            (ln for ln in result.stdout.splitlines() if ln.startswith("LAMBDA_RESULTS ")), None
        )
        assert line, f"{name}: no result\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        payload = json.loads(line.removeprefix("LAMBDA_RESULTS "))
        results: list[Any] = payload["results"]
        outputs[name] = result.stdout
        return results

    outputs: dict[str, str] = {}
    _invoke.outputs = outputs  # type: ignore[attr-defined]

    yield _invoke


def _body(response: dict[str, Any]) -> Any:
    assert response["isBase64Encoded"] is False
    return json.loads(response["body"])


def _header(response: dict[str, Any], name: str) -> str | None:
    headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
    value = headers.get(name)
    return str(value) if value is not None else None


def _event(name: str) -> Path:
    path = EVENTS_DIR / name
    assert path.is_file(), f"missing sample event {path}"
    return path


def _scheduler_event(tmp_path: Path, name: str) -> Path:
    """The exact payload template.yaml's ScheduleV2 sends, placeholders filled in."""
    schedule = next(e for e in FUNCTIONS[name]["Events"].values() if e["Type"] == "ScheduleV2")
    raw: str = schedule["Properties"]["Input"]["Sub"]
    filled = (
        raw.replace("${AWS::AccountId}", "123456789012")
        .replace("${AWS::Region}", "us-east-1")
        .replace("<aws.scheduler.execution-id>", uuid.uuid4().hex[:16])
        .replace("<aws.scheduler.scheduled-time>", "2026-11-30T10:00:00Z")
        .replace(
            "<aws.scheduler.schedule-arn>",
            f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{name}",
        )
        .replace("<aws.scheduler.attempt-number>", "1")
    )
    path = tmp_path / f"scheduler_{name}.json"
    path.write_text(json.dumps(json.loads(filled)))
    return path


def test_every_template_handler_is_covered() -> None:
    covered = {"InteractFunction", "RecsFunction", "PopularityFunction", "TrainFunction"}
    assert set(FUNCTIONS) == covered


def test_interact_handler(invoke: Any, clients: Clients, catalogue: list[str]) -> None:
    health, accepted, rejected = invoke(
        "InteractFunction",
        _event("function_url_get_healthcheck.json"),
        _event("function_url_post_interact.json"),
        _event("function_url_post_interact_invalid.json"),
    )
    assert health["statusCode"] == 200, health
    assert accepted["statusCode"] == 200, accepted
    assert _header(accepted, "access-control-allow-origin") == FRONTEND_ORIGIN
    body = _body(accepted)
    assert len(body["event_ids"]) == 2
    assert rejected["statusCode"] == 422, rejected
    # Both events are on this test's queue, confirmed by the broker.
    assert clients.broker.purge() == 2


def test_recs_handler(invoke: Any, clients: Clients, catalogue: list[str]) -> None:
    clients.cache.mark_seen([("lambda-user-1", "50"), ("lambda-user-1", "181")])
    health, recs = invoke(
        "RecsFunction",
        _event("function_url_get_healthcheck.json"),
        _event("function_url_get_recs.json"),
    )
    assert health["statusCode"] == 200, health
    assert recs["statusCode"] == 200, recs
    item_ids = _body(recs)["item_ids"]
    assert len(item_ids) == 12
    assert set(item_ids) <= set(catalogue)
    assert not {"50", "181"} & set(item_ids)  # rated items never come back


def test_popularity_handler(
    invoke: Any, clients: Clients, catalogue: list[str], tmp_path: Path, storage: dict[str, str]
) -> None:
    (accepted,) = invoke("InteractFunction", _event("function_url_post_interact.json"))
    assert accepted["statusCode"] == 200, accepted
    scheduled = [
        _event("eventbridge_schedule.json"),
        _scheduler_event(tmp_path, "PopularityFunction"),
    ]
    first, second = invoke("PopularityFunction", *scheduled)
    assert first["status"] == "ok", first
    assert second["status"] == "ok", second
    assert clients.broker.purge() == 0  # drained into the log, then acked
    # The like reached the popularity aggregates (one fan is too few to make "50" popular).
    assert clients.cache.stats()["likes"] == "1"
    # INFO lines of the handler and of the core reach the log as JSON, with the
    # Lambda context, despite the runtime's root handler; the metrics as EMF.
    records = [
        json.loads(ln)
        for ln in invoke.outputs["PopularityFunction"].splitlines()
        if ln.startswith("{")
    ]
    finished = [r for r in records if r.get("message") == "popularity job finished"]
    assert len(finished) == 2 and finished[0]["level"] == "INFO", records
    assert finished[0]["function_name"] == "PopularityFunction"
    assert finished[0]["result"]["status"] == "ok"
    assert any(
        r.get("name") == "recsys.services.popularity" and r["level"] == "INFO" for r in records
    )
    emf = [r["_aws"]["CloudWatchMetrics"][0] for r in records if "_aws" in r]
    assert emf and emf[0]["Namespace"] == "Recsys"
    assert {"EventsDrained", "Compactions"} <= {m["Name"] for m in emf[0]["Metrics"]}
    if storage["kind"] == "s3":
        from recsys.adapters.storage import s3_client

        client = s3_client(storage["endpoint"], "us-east-1")
        listed = client.list_objects_v2(Bucket=storage["bucket"], Prefix="events/")
        assert listed.get("KeyCount", 0) >= 1, "no event-log part written to S3"


@pytest.mark.slow
def test_train_handler(
    invoke: Any, clients: Clients, catalogue: list[str], tmp_path: Path, storage: dict[str, str]
) -> None:
    """A real training run on the MovieLens history (a few trials), as the schedule runs it."""
    if not (ROOT / "functions" / "train" / "app.py").exists():
        pytest.skip("functions/train/app.py is not written yet")
    from recsys.adapters import movielens
    from recsys.adapters.eventlog import EventLog
    from recsys.adapters.storage import open_store
    from recsys.services.bootstrap import events_from_ratings

    endpoint = storage.get("endpoint")
    log = EventLog(open_store(storage["events_uri"], endpoint_url=endpoint, region="us-east-1"))
    log.append(events_from_ratings(movielens.read_ratings(DATA_DIR)))

    (result,) = invoke("TrainFunction", _scheduler_event(tmp_path, "TrainFunction"))
    assert isinstance(result, dict) and "published" in result, result
    print(f"train: {result['reason']} in {result.get('seconds')} s")
    if result["published"]:
        # The model and its report are in the artifact bucket, the lists in Redis.
        artifacts = open_store(storage["artifacts_uri"], endpoint_url=endpoint, region="us-east-1")
        stored = set(artifacts.list_keys())
        assert set(result["artifact_keys"]) <= stored, (result["artifact_keys"], stored)
        assert clients.cache.model_info().get("version") == result["version"]
    else:
        assert "kept the previous model" in result["reason"], result
