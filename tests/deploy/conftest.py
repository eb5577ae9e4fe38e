"""Fixtures for the deployment checks: template.yaml, docker-compose.yml, sam build.

The SAM CLI and cfn-lint live in their own virtualenv (.venv-tools, made by
scripts/setup_sam.sh): they pin versions of boto3, pydantic and jsonschema that
must not leak into the application's environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts import function_sizes

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
TOOLS_BIN = Path(os.environ.get("RECSYS_TOOLS_VENV", ROOT / ".venv-tools")) / "bin"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    # One CloudFormation-aware YAML reader for the size report and the tests.
    return function_sizes.load_template(path)


def functions_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of every AWS::Serverless::Function."""
    return {
        name: resource.get("Properties") or {}
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SAM_CLI_TELEMETRY": "0",
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
            "PATH": f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def find_tool(name: str) -> str | None:
    candidate = TOOLS_BIN / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session")
def sam_tools() -> Iterator[dict[str, str]]:
    """Paths of `sam` and `cfn-lint`; installs them with scripts/setup_sam.sh if missing."""
    if not (find_tool("sam") and find_tool("cfn-lint")):
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "setup_sam.sh")], check=True, cwd=ROOT, timeout=600
        )
    sam, cfn_lint = find_tool("sam"), find_tool("cfn-lint")
    assert sam and cfn_lint, "scripts/setup_sam.sh did not provide sam and cfn-lint"
    yield {"sam": sam, "cfn-lint": cfn_lint}
