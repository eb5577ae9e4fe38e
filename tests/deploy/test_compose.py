"""docker-compose.yml: `docker-compose -f docker-compose.yml config -q` passes
with the example .env, fails without credentials, and wires health checks and
start-up order.  No Docker engine is needed: `config` only parses and
interpolates."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from recsys.settings import Settings
from tests.deploy.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

pytestmark = pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose is not installed"
)


def _project(tmp_path: Path, env_file: bool = True) -> Path:
    """A copy of the compose project, with .env.example as its .env (the repo has no .env)."""
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    if env_file:
        shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    return tmp_path


def _compose(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A clean environment: only .env may provide the credentials.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(project)}
    return subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_config_is_valid_with_example_env(tmp_path: Path) -> None:
    result = _compose(_project(tmp_path), "config", "-q")
    assert result.returncode == 0, result.stderr


def test_credentials_are_required_not_defaulted(tmp_path: Path) -> None:
    result = _compose(_project(tmp_path, env_file=False), "config", "-q")
    assert result.returncode != 0
    assert "in .env" in result.stderr


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    result = _compose(_project(tmp_path), "config")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = yaml.safe_load(result.stdout)
    return data


def _ports(service: dict[str, Any]) -> set[int]:
    published = set()
    for port in service.get("ports", []):
        published.add(int(port["published"] if isinstance(port, dict) else port.split(":")[-2]))
    return published


def test_services_and_ports(config: dict[str, Any]) -> None:
    services = config["services"]
    expected = {
        "redis": {6379},
        "rabbitmq": {5672, 15672},
        "localstack": {4566},
        "interact": {5000},
        "recs": {5001},
        "frontend": {8000},
        "redisinsight": {5540},
    }
    for name, ports in expected.items():
        assert _ports(services[name]) == ports, name
    assert {"s3-init", "bootstrap", "scheduler"} <= set(services)


def test_health_checks_and_start_order(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in ("redis", "rabbitmq", "localstack", "interact", "recs", "frontend"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ("interact", "recs", "scheduler", "bootstrap"):
        depends = services[name]["depends_on"]
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["rabbitmq"]["condition"] == "service_healthy", name
    scheduler = services["scheduler"]["depends_on"]
    assert scheduler["s3-init"]["condition"] == "service_completed_successfully"
    assert scheduler["bootstrap"]["condition"] == "service_completed_successfully"
    assert services["s3-init"]["depends_on"]["localstack"]["condition"] == "service_healthy"
    assert services["frontend"]["depends_on"]["interact"]["condition"] == "service_healthy"


def test_one_image_runs_every_python_service(config: dict[str, Any]) -> None:
    services = config["services"]
    python_services = ["s3-init", "bootstrap", "interact", "recs", "scheduler", "frontend"]
    images = {services[name]["image"] for name in python_services}
    assert images == {"recsys-app:local"}
    assert "functions.interact.app:app" in services["interact"]["command"]
    assert "functions.recs.app:app" in services["recs"]["command"]
    assert services["scheduler"]["command"][:4] == ["python", "-m", "devtools", "scheduler"]


def test_env_example_lists_every_setting() -> None:
    names = {
        line.lstrip("# ").split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and line.lstrip("# ").startswith("RECSYS_")
    }
    expected = {f"RECSYS_{field.upper()}" for field in Settings.model_fields}
    important = {
        "RECSYS_REDIS_URL",
        "RECSYS_RABBITMQ_URL",
        "RECSYS_QUEUE_NAME",
        "RECSYS_KEY_PREFIX",
        "RECSYS_EVENT_LOG_URI",
        "RECSYS_ARTIFACT_URI",
        "RECSYS_S3_ENDPOINT_URL",
        "RECSYS_ADMIN_TOKEN",
        "RECSYS_CORS_ORIGINS",
        "RECSYS_EXPLORATION_RATE",
        "RECSYS_TRAIN_TRIALS",
        "RECSYS_TRAIN_TIMEOUT_S",
        "RECSYS_DATA_DIR",
    }
    assert important <= names, important - names
    # Every setting is documented (set, or commented out with its default) ...
    assert expected <= names, f"add to .env.example: {sorted(expected - names)}"
    # ... and every variable in the example is a real setting (or read by devtools.site).
    assert names - expected <= {"RECSYS_INTERACT_URL", "RECSYS_RECS_URL"}, names - expected


def test_docker_context_excludes_secrets_and_venvs() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[[line.strip() for line in ignore].index("*")] == "*"  # allow-list
    assert ".env" in ignore
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY . " not in dockerfile
    assert "USER app" in dockerfile
