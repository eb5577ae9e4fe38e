"""Generate each Lambda function's requirements.txt (and the Docker image's) from pyproject.toml.

pyproject.toml is the one place dependencies are declared.  ``[tool.recsys.functions]``
says which extras each function's zip installs and which packages every zip
leaves out (boto3 ships with the Lambda runtime).  Run after editing
dependencies::

    python -m devtools requirements          # rewrite the files
    python -m devtools requirements --check  # exit 1 if a file is stale (CI)
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
DOCKER_REQUIREMENTS = ROOT / "deploy" / "requirements-docker.txt"
# The image runs every function and the jobs under uvicorn and the scheduler.
DOCKER_EXTRAS = ("api", "train", "local")

HEADER = (
    "# Generated from pyproject.toml by `python -m devtools requirements`; do not edit.\n# {what}\n"
)


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def _project() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text())


def function_requirements(function: str, project: dict[str, Any] | None = None) -> list[str]:
    """The requirements of one function's zip: core dependencies plus its extras."""
    data = project or _project()
    spec = data["project"]
    layout = data["tool"]["recsys"]["functions"]
    wanted = list(spec["dependencies"])
    for extra in layout[function]:
        wanted += spec["optional-dependencies"][extra]
    excluded = {name.lower() for name in layout.get("exclude", [])}
    return [req for req in dict.fromkeys(wanted) if _name(req) not in excluded]


def functions(project: dict[str, Any] | None = None) -> list[str]:
    layout = (project or _project())["tool"]["recsys"]["functions"]
    return [name for name, value in layout.items() if name != "exclude" and isinstance(value, list)]


def docker_requirements(project: dict[str, Any] | None = None) -> list[str]:
    spec = (project or _project())["project"]
    wanted = list(spec["dependencies"])
    for extra in DOCKER_EXTRAS:
        wanted += spec["optional-dependencies"][extra]
    return list(dict.fromkeys(wanted))


def rendered() -> dict[Path, str]:
    """Every generated file and the text it should hold."""
    project = _project()
    files = {
        ROOT / "functions" / name / "requirements.txt": HEADER.format(
            what=f"Lambda dependencies of functions/{name}; deploy/Makefile adds the code."
        )
        + "\n".join(function_requirements(name, project))
        + "\n"
        for name in functions(project)
    }
    files[DOCKER_REQUIREMENTS] = (
        HEADER.format(what="Everything the local Docker image runs (see Dockerfile).")
        + "\n".join(docker_requirements(project))
        + "\n"
    )
    return files


def stale() -> list[Path]:
    return [
        path for path, text in rendered().items() if not path.exists() or path.read_text() != text
    ]


def write() -> list[Path]:
    changed = stale()
    for path, text in rendered().items():
        if path in changed:
            path.write_text(text)
    return changed


def main(check: bool = False) -> int:
    if check:
        paths = stale()
        for path in paths:
            print(f"stale: {path.relative_to(ROOT)} (run `python -m devtools requirements`)")
        return 1 if paths else 0
    for path in write():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0
