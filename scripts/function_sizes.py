#!/usr/bin/env python3
"""Report each built Lambda function's unzipped size and check Lambda's limits.

Run after ``sam build``::

    python scripts/function_sizes.py                 # reads .aws-sam/build
    python scripts/function_sizes.py --build-dir /tmp/build --json

Checks, for every zip function in the built template:

* the unzipped package is at most 250 MB (Lambda's hard limit for a zip
  function with its layers);
* an HTTP function (one with ``FunctionUrlConfig``) is at most 30 MB, the
  project's own budget for cold starts, and contains none of the training
  libraries (numpy, scipy, pandas, gensim, optuna, matplotlib).

Exits 1 when a check fails.  Sizes are apparent sizes (the sum of the files'
byte lengths), which is what Lambda counts, not disk blocks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

MB = 1024 * 1024
LAMBDA_ZIP_LIMIT = 250 * MB  # 262,144,000 bytes, unzipped, function + layers
# The project's budget for an API zip's cold start.  Raised from 20 MB when the
# APIs took on Powertools logging/metrics, aio-pika (concurrent confirmed
# publishing), hiredis and the offline /docs assets (about 10 MB together);
# import time, not zip size, dominates their cold start (make bench measures it).
API_LIMIT = 30 * MB
TRAINING_PACKAGES = ("numpy", "scipy", "pandas", "gensim", "optuna", "matplotlib")


@dataclass
class FunctionSize:
    name: str
    package_type: str
    path: str
    size_bytes: int | None
    limit_bytes: int | None
    http: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain data."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


_CfnLoader.add_multi_constructor("!", _any_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_CfnLoader)  # a SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a template")
    return data


def tree_size(root: Path) -> int:
    """Sum of the sizes of all files under root (symlinks counted as links)."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def measure(build_dir: Path, api_limit: int = API_LIMIT) -> list[FunctionSize]:
    template = load_template(build_dir / "template.yaml")
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    results: list[FunctionSize] = []
    for name, resource in sorted((template.get("Resources") or {}).items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        package_type = props.get("PackageType", globals_fn.get("PackageType", "Zip"))
        http = "FunctionUrlConfig" in props
        if package_type == "Image":
            results.append(
                FunctionSize(name, "Image", str(props.get("ImageUri", "")), None, None, http)
            )
            continue
        code_uri = props.get("CodeUri", globals_fn.get("CodeUri"))
        if not isinstance(code_uri, str):
            results.append(
                FunctionSize(
                    name,
                    "Zip",
                    repr(code_uri),
                    None,
                    LAMBDA_ZIP_LIMIT,
                    http,
                    ["CodeUri is not a local folder: run `sam build` first"],
                )
            )
            continue
        path = (build_dir / code_uri).resolve()
        limit = api_limit if http else LAMBDA_ZIP_LIMIT
        entry = FunctionSize(name, "Zip", str(path), None, limit, http)
        if not path.is_dir():
            entry.problems.append(f"{path} does not exist: run `sam build` first")
        else:
            entry.size_bytes = tree_size(path)
            if props.get("Layers") or globals_fn.get("Layers"):
                entry.problems.append("has layers: their size counts too and is not measured here")
            if entry.size_bytes > limit:
                kind = "HTTP function budget" if http else "Lambda's unzipped limit"
                entry.problems.append(
                    f"{entry.size_bytes / MB:.1f} MB exceeds the {limit / MB:.0f} MB {kind}"
                )
            if http:
                found = [pkg for pkg in TRAINING_PACKAGES if (path / pkg).exists()]
                if found:
                    entry.problems.append(f"HTTP function bundles training libraries: {found}")
        results.append(entry)
    return results


def format_table(results: list[FunctionSize]) -> str:
    lines = [f"{'function':<22} {'type':<6} {'unzipped':>12} {'limit':>9}  status"]
    for r in results:
        size = f"{r.size_bytes / MB:9.1f} MB" if r.size_bytes is not None else "          -"
        limit = f"{r.limit_bytes / MB:6.0f} MB" if r.limit_bytes else "        -"
        status = "ok" if r.ok else "FAIL: " + "; ".join(r.problems)
        if r.package_type == "Image":
            status = "image (10 GB limit; size not measured)"
        lines.append(f"{r.name:<22} {r.package_type:<6} {size:>12} {limit:>9}  {status}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--api-limit-mb", type=float, default=API_LIMIT / MB)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--write-figures", action="store_true", help="also write docs/figures/function-sizes.*"
    )
    args = parser.parse_args(argv)

    results = measure(args.build_dir, api_limit=int(args.api_limit_mb * MB))
    if not results:
        print(f"no functions found in {args.build_dir / 'template.yaml'}", file=sys.stderr)
        return 1
    rows = [asdict(r) | {"ok": r.ok} for r in results]
    table = format_table(results)
    print(json.dumps(rows, indent=2) if args.json else table)
    if args.write_figures:
        from devtools import figures  # dev tooling: only when asked to publish

        figures.publish(
            "function-sizes",
            command="make sizes",
            body=f"Unzipped sizes of the built zips (what Lambda counts).\n\n```\n{table}\n```\n",
            data={"functions": rows},
        )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
