"""LocalStack S3 for tests: use the one answering on the endpoint, or start one.

``scripts/localstack.sh`` starts LocalStack from ``.venv-localstack`` (no
Docker) and waits until it is ready; a LocalStack started here is stopped
again when the context exits, one that was already running is left alone.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "localstack.sh"
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
ENDPOINT = os.environ.get("RECSYS_TEST_S3_ENDPOINT", DEFAULT_ENDPOINT)


class LocalStackUnavailable(RuntimeError):
    pass


def healthy(endpoint: str = ENDPOINT) -> bool:
    try:
        response = httpx.get(f"{endpoint}/_localstack/health", timeout=2)
        services = response.json().get("services", {}) if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return False
    return services.get("s3") in ("available", "running")


@contextmanager
def localstack_s3(endpoint: str = ENDPOINT) -> Iterator[str]:
    """Yield the endpoint of a running LocalStack S3."""
    if healthy(endpoint):
        yield endpoint
        return
    if endpoint != DEFAULT_ENDPOINT:
        raise LocalStackUnavailable(f"LocalStack does not answer on {endpoint}")
    started = subprocess.run(
        ["bash", str(SCRIPT), "start"], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    if started.returncode != 0 or not healthy(endpoint):
        raise LocalStackUnavailable(
            "LocalStack S3 is not running and could not be started "
            f"(scripts/setup_localstack.sh installs it):\n{started.stdout}\n{started.stderr}"
        )
    try:
        yield endpoint
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], cwd=ROOT, timeout=60, check=False)
