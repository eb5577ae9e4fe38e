"""End-to-end fixtures: the whole stack on this machine, and a real headless browser.

One stack per test session, isolated by a run id:

- Redis (127.0.0.1:6379) keys under ``e2e:<run>:``, RabbitMQ queue ``e2e.<run>.interactions``;
- LocalStack S3 (started from ``.venv-localstack`` by ``scripts/localstack.sh`` if
  nothing answers on 127.0.0.1:4566, or on ``RECSYS_TEST_S3_ENDPOINT``): a website
  bucket for the page and a bucket for the event log;
- the interact and recs APIs under uvicorn, as subprocesses on free ports, with
  CORS allowing only the page's origin (the LocalStack endpoint);
- the popularity job, run through its Lambda handler in a subprocess.

Everything is removed afterwards: the prefix's keys, the queue, both buckets,
the processes (and LocalStack itself, if this session started it).

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright (override
with ``CHROMIUM_PATH``); without it the browser tests skip, saying why.
Screenshots go to ``test-artifacts/``, and server logs too when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.localrun import uvicorn_command
from devtools.site import SITE_DIR, deploy_site
from recsys.adapters.eventlog import EventLog
from recsys.adapters.storage import open_store, s3_client
from recsys.clients import Clients
from recsys.domain.events import Event
from recsys.services import catalogue
from recsys.settings import Settings
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The flags DESIGN.md records as working on these machines.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT_S = 40.0


# ------------------------------------------------------------------ helpers


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def empty_and_delete_bucket(s3: Any, bucket: str) -> None:
    try:
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        s3.delete_bucket(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        pass


@dataclass
class ApiProcess:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_api(name: str, module: str, env: dict[str, str], log_dir: Path) -> ApiProcess:
    port = free_port()
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            uvicorn_command(module, "127.0.0.1", port, log_level="warning"),
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    api = ApiProcess(name, f"http://127.0.0.1:{port}", process, log_path)

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{api.log_tail()}")
        try:
            return httpx.get(f"{api.url}/healthcheck", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, STARTUP_TIMEOUT_S, f"{name} /healthcheck", interval=0.2)
    except TimeoutError as exc:
        api.stop()
        raise RuntimeError(f"{exc}\n{api.log_tail()}") from exc
    return api


# ------------------------------------------------------------------ the stack


@dataclass
class Stack:
    run_id: str
    settings: Settings
    env: dict[str, str]
    s3: Any
    s3_endpoint: str
    origin: str
    site_bucket: str
    site_url: str
    events_bucket: str
    interact: ApiProcess
    recs: ApiProcess
    clients: Clients
    extra_buckets: list[str] = field(default_factory=list)

    @property
    def interact_url(self) -> str:
        return self.interact.url

    @property
    def recs_url(self) -> str:
        return self.recs.url

    def run_popularity_job(self) -> dict[str, Any]:
        """Invoke functions/popularity/app.py's Lambda handler, as the scheduler would."""
        code = (
            "import json; from functions.popularity.app import handler; "
            "from devtools.scheduler import scheduled_event; "
            "print('REPORT ' + json.dumps(handler(scheduled_event('popularity'), None)))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"popularity job failed:\n{done.stdout}\n{done.stderr}"
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith("REPORT "))
        report: dict[str, Any] = json.loads(line[len("REPORT ") :])
        return report

    def logged_events(self) -> list[Event]:
        objects = open_store(
            self.settings.event_log_uri,
            endpoint_url=self.s3_endpoint,
            region=self.settings.aws_region,
        )
        return EventLog(objects).read()

    def recs_for(self, user_id: str, n: int = 100) -> list[str]:
        response = httpx.get(f"{self.recs_url}/recs/{user_id}", params={"n": n}, timeout=10)
        response.raise_for_status()
        return list(response.json()["item_ids"])

    def deploy_extra_site(self, name: str, interact_url: str, recs_url: str) -> str:
        """Deploy the page to another bucket with other API URLs; returns its URL."""
        bucket = f"recsys-e2e-{name}-{self.run_id}"
        result = deploy_site(self.s3, bucket, interact_url, recs_url, SITE_DIR)
        self.extra_buckets.append(bucket)
        return result.url


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("e2e-FAILED-*.png"):
        stale.unlink()
    return ARTIFACTS


@pytest.fixture(scope="session")
def stack(
    s3_endpoint: str,
    artifacts_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Stack]:
    run_id = uuid.uuid4().hex[:10]
    origin = s3_endpoint.rstrip("/")
    site_bucket = f"recsys-e2e-site-{run_id}"
    events_bucket = f"recsys-e2e-events-{run_id}"
    # Server logs, kept only when a test failed.
    log_dir = artifacts_dir / "e2e-logs" / run_id
    log_dir.mkdir(parents=True)

    values = {
        "RECSYS_KEY_PREFIX": f"e2e:{run_id}:",
        "RECSYS_QUEUE_NAME": f"e2e.{run_id}.interactions",
        "RECSYS_EVENT_LOG_URI": f"s3://{events_bucket}/events",
        "RECSYS_ARTIFACT_URI": str(tmp_path_factory.mktemp("artifacts")),
        "RECSYS_S3_ENDPOINT_URL": s3_endpoint,
        "RECSYS_DATA_DIR": str(ROOT / "data"),
        # Only the page's origin: the LocalStack endpoint it is served from.
        "RECSYS_CORS_ORIGINS": origin,
        # One visitor's like makes a film popular here (the default needs 3 fans).
        "RECSYS_POPULARITY_MIN_USERS": "1",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
    env.update(values)
    env.setdefault("AWS_ACCESS_KEY_ID", "test")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env["PYTHONUNBUFFERED"] = "1"

    settings = Settings(
        _env_file=None,
        key_prefix=values["RECSYS_KEY_PREFIX"],
        queue_name=values["RECSYS_QUEUE_NAME"],
        event_log_uri=values["RECSYS_EVENT_LOG_URI"],
        artifact_uri=values["RECSYS_ARTIFACT_URI"],
        s3_endpoint_url=s3_endpoint,
        data_dir=values["RECSYS_DATA_DIR"],
        cors_origins=[origin],
    )
    s3 = s3_client(s3_endpoint, settings.aws_region)
    s3.create_bucket(Bucket=events_bucket)
    clients = Clients(settings)
    processes: list[ApiProcess] = []
    extra: list[str] = []
    try:
        catalogue.load_movielens(clients.cache, settings.data_dir, offline=True)
        interact = start_api("interact", "functions.interact.app", env, log_dir)
        processes.append(interact)
        recs = start_api("recs", "functions.recs.app", env, log_dir)
        processes.append(recs)
        site = deploy_site(s3, site_bucket, interact.url, recs.url, SITE_DIR)
        the_stack = Stack(
            run_id=run_id,
            settings=settings,
            env=env,
            s3=s3,
            s3_endpoint=s3_endpoint,
            origin=origin,
            site_bucket=site_bucket,
            site_url=site.url,
            events_bucket=events_bucket,
            interact=interact,
            recs=recs,
            clients=clients,
            extra_buckets=extra,
        )
        yield the_stack
    finally:
        for process in processes:
            process.stop()
        clients.cache.delete_all()
        try:
            clients.broker.delete_queue()
        finally:
            clients.close()
        for bucket in [site_bucket, events_bucket, *extra]:
            empty_and_delete_bucket(s3, bucket)
        if request.session.testsfailed == 0:
            shutil.rmtree(log_dir, ignore_errors=True)


# ------------------------------------------------------------------ the browser


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Keep each phase's report on the test item, so fixtures can tell a failure.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM_PATH).exists():
        pytest.skip(
            f"Debian chromium not found at {CHROMIUM_PATH}: run scripts/setup_system.sh "
            "(or set CHROMIUM_PATH)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    sync_api.expect.set_options(timeout=15_000)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageErrors:
    errors: list[str] = field(default_factory=list)


# A returning visitor: an id, and the onboarding already done (or skipped).
RETURNING_VISITOR = """
(() => {
  if (!location.protocol.startsWith("http")) return;  // about:blank has no storage
  let id = localStorage.getItem("recsys.user_id");
  if (!id) { id = "anon-" + crypto.randomUUID(); localStorage.setItem("recsys.user_id", id); }
  if (!sessionStorage.getItem("e2e.onboarded")) {
    localStorage.setItem("recsys.onboarded." + id, "1");
    sessionStorage.setItem("e2e.onboarded", "1");
  }
})();
"""


@pytest.fixture
def new_context(
    browser: Any, request: pytest.FixtureRequest, artifacts_dir: Path
) -> Iterator[Callable[..., Any]]:
    """Factory: a fresh browser context, with empty storage.

    By default the visitor has done the onboarding (most tests are about the
    grid); ``first_visit=True`` gives a brand-new visitor, who sees it.
    """
    contexts: list[Any] = []

    def make(first_visit: bool = False, **options: Any) -> Any:
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        if not first_visit:
            context.add_init_script(RETURNING_VISITOR)
        contexts.append(context)
        return context

    yield make
    failed = getattr(request.node, "rep_call", None)
    for index, context in enumerate(contexts):
        if failed is not None and failed.failed:
            for page_index, page in enumerate(context.pages):
                name = f"e2e-FAILED-{request.node.name}-{index}-{page_index}.png"
                # The page may have crashed; the test report has the error.
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(artifacts_dir / name), full_page=True)
        context.close()


@pytest.fixture
def page(new_context: Callable[..., Any]) -> Iterator[Any]:
    """A page in a fresh context; fails the test on any uncaught JavaScript error."""
    context = new_context()
    page = context.new_page()
    errors = PageErrors()
    page.on("pageerror", lambda exc: errors.errors.append(str(exc)))
    yield page
    assert not errors.errors, f"JavaScript errors on the page: {errors.errors}"
