"""Architecture rules, checked on the source text so they cannot silently erode."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("recsys", "functions", "devtools", "benchmarks")
CACHE_MODULE = ROOT / "recsys" / "adapters" / "serving_cache.py"

# The Redis client, or redis-py itself, anywhere but the ServingCache module.
REDIS_CLIENT_USE = re.compile(
    r"^\s*(import redis|from redis\b)"  # redis-py imported
    r"|\._client\b"  # the serving cache's private client reached from outside
    r"|\bredis\.(Redis|StrictRedis|RedisError|asyncio)\b",
    re.MULTILINE,
)


def _sources() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))


def test_only_the_serving_cache_talks_to_redis() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted({m.group(0).strip() for m in found})
        for path in _sources()
        if path != CACHE_MODULE and (found := list(REDIS_CLIENT_USE.finditer(path.read_text())))
    }
    assert offenders == {}


def test_the_core_imports_no_web_or_lambda_framework() -> None:
    banned = re.compile(
        r"^\s*(from|import) (fastapi|starlette|mangum|aws_lambda_powertools)\b", re.M
    )
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "recsys").rglob("*.py"))
        if banned.search(path.read_text())
    ]
    assert offenders == []


# recsys/ in layers: each may import only the layers below it (settings and the
# composition root, clients.py, sit beside them).
LAYER_MAY_IMPORT = {
    "domain": {"domain"},
    "adapters": {"domain", "adapters", "settings"},
    "services": {"domain", "adapters", "services", "settings"},
    "training": {"domain", "adapters", "services", "training", "settings", "clients"},
}
RECSYS_IMPORT = re.compile(r"^\s*(?:from|import) recsys\.(\w+)", re.M)


def test_each_layer_of_the_core_imports_only_the_layers_below() -> None:
    assert {p.name for p in (ROOT / "recsys").iterdir() if p.is_dir() and p.name[0] != "_"} == set(
        LAYER_MAY_IMPORT
    )
    offenders = {
        f"{path.relative_to(ROOT)} imports recsys.{target}"
        for layer, allowed in LAYER_MAY_IMPORT.items()
        for path in sorted((ROOT / "recsys" / layer).rglob("*.py"))
        for target in RECSYS_IMPORT.findall(path.read_text())
        if target not in allowed
    }
    assert offenders == set()
