"""`sam build` works here (no Docker, no AWS account), every function fits
Lambda's limits, the API functions stay small and free of training libraries,
each built zip imports its handler on its own, and the trimmed train zip runs a
whole training job by itself.

Slow: one build of the four functions (about 20 s with a warm pip cache, a few
minutes cold: the training function's wheels are ~300 MB).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from recsys.clients import Clients
from recsys.settings import Settings
from recsys.training.synthetic import taste_events
from tests.deploy.conftest import ROOT, TEMPLATE, functions_of, tool_env

# The first test also pays for the build (pip downloads ~330 MB on a cold cache).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

MB = 1024 * 1024


def _load_sizes_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "function_sizes", ROOT / "scripts" / "function_sizes.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


function_sizes = _load_sizes_script()
SCHEDULE_EVENT = ROOT / "tests" / "events" / "eventbridge_schedule.json"


def _python312() -> str | None:
    """An interpreter matching the Lambda runtime, to import the built zips with."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [
        sys.executable if sys.version_info[:2] == (3, 12) else None,
        *(str(p) for p in sorted(pyenv.glob("versions/3.12*/bin/python3.12"))),
        shutil.which("python3.12"),  # may be a pyenv shim that refuses to run
    ]
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


@pytest.fixture(scope="session")
def build_dir(sam_tools: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sam") / "build"
    result = subprocess.run(
        [sam_tools["sam"], "build", "--template-file", str(TEMPLATE), "--build-dir", str(out)],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Build Succeeded" in result.stdout + result.stderr
    return out


def test_every_function_is_built(build_dir: Path, template: dict[str, Any]) -> None:
    for name in functions_of(template):
        assert (build_dir / name / "recsys" / "__init__.py").is_file(), name
        assert (build_dir / name / "functions" / "__init__.py").is_file(), name


def test_sizes_within_limits(build_dir: Path) -> None:
    results = {r.name: r for r in function_sizes.measure(build_dir)}
    report = "\n".join(
        f"{r.name}: {r.size_bytes / MB:.1f} MB {r.problems or 'ok'}" for r in results.values()
    )
    print(report)
    assert all(r.ok for r in results.values()), report
    for name in ("InteractFunction", "RecsFunction"):
        assert results[name].http and results[name].size_bytes <= function_sizes.API_LIMIT, report
    for result in results.values():
        assert result.size_bytes < 250 * MB, report
    assert function_sizes.main(["--build-dir", str(build_dir)]) == 0


def test_api_zips_carry_no_training_libraries(build_dir: Path) -> None:
    for name in ("InteractFunction", "RecsFunction", "PopularityFunction"):
        present = [
            p
            for p in ("numpy", "pandas", "scipy", "gensim", "optuna")
            if (build_dir / name / p).exists()
        ]
        assert not present, f"{name} bundles {present}"
        assert not (build_dir / name / "boto3").exists(), f"{name}: boto3 comes with the runtime"


@pytest.mark.parametrize(
    ("function", "module"),
    [
        ("InteractFunction", "functions.interact.app"),
        ("RecsFunction", "functions.recs.app"),
        ("PopularityFunction", "functions.popularity.app"),
        ("TrainFunction", "functions.train.app"),
    ],
)
def test_built_zip_imports_its_handler_alone(build_dir: Path, function: str, module: str) -> None:
    """Import the handler from the zip's folder only (-I -S: no site-packages), as on Lambda."""
    if module == "functions.train.app" and not (ROOT / "functions/train/app.py").exists():
        pytest.skip("functions/train/app.py is not written yet")
    python = _python312()
    if python is None:
        pytest.skip("no python3.12 to match the Lambda runtime")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import importlib;"
        "m = importlib.import_module(sys.argv[2]); assert callable(m.handler);"
        "heavy = sorted({k.split('.')[0] for k in sys.modules} & "
        "{'numpy', 'pandas', 'scipy', 'gensim', 'optuna', 'matplotlib'}); print(heavy)"
    )
    result = subprocess.run(
        [python, "-I", "-S", "-c", code, str(build_dir / function), module],
        cwd=build_dir,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(build_dir)},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    if function in ("InteractFunction", "RecsFunction"):
        assert result.stdout.strip() == "[]", f"{function} imports {result.stdout}"


def test_built_train_zip_trains_and_publishes_on_its_own(
    build_dir: Path, settings: Settings, clients: Clients
) -> None:
    """The trimmed train zip (deploy/Makefile drops scipy subpackages, PyYAML and
    symbols) still runs a whole job: reads the Parquet log, tunes, fits, publishes."""
    python = _python312()
    if python is None:
        pytest.skip("no python3.12 to match the Lambda runtime")
    events = taste_events(n_users=60, n_groups=3, items_per_group=10, seed=5)
    clients.event_log.append(events)
    clients.cache.add_items({e.item_id: {"title": f"Item {e.item_id}"} for e in events})
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from functions.train import app;"
        "print(json.dumps(app.handler(json.load(open(sys.argv[2])), None), default=str))"
    )
    result = subprocess.run(
        [python, "-I", "-S", "-c", code, str(build_dir / "TrainFunction"), str(SCHEDULE_EVENT)],
        cwd=build_dir,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(build_dir),
            "RECSYS_REDIS_URL": settings.redis_url,
            "RECSYS_RABBITMQ_URL": settings.rabbitmq_url,
            "RECSYS_KEY_PREFIX": settings.key_prefix,
            "RECSYS_QUEUE_NAME": settings.queue_name,
            "RECSYS_EVENT_LOG_URI": settings.event_log_uri,
            "RECSYS_ARTIFACT_URI": settings.artifact_uri,
            "RECSYS_TRAIN_TRIALS": "2",
            "RECSYS_TRAIN_TIMEOUT_S": "60",
        },
    )
    assert result.returncode == 0, result.stderr[-4000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["published"] is True, outcome
    assert clients.cache.model_info()["version"] == outcome["version"]
