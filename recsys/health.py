"""Dependency checks for GET /healthcheck: each answers fast, none raises."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def check(name: str, probe: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # any failure of a dependency is a report, not a crash
        return {"name": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result: dict[str, Any] = {
        "name": name,
        "ok": True,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    if isinstance(detail, dict):
        result.update(detail)
    return result


def report(checks: list[dict[str, Any]]) -> tuple[bool, dict[str, Any]]:
    healthy = all(c["ok"] for c in checks)
    return healthy, {
        "status": "ok" if healthy else "degraded",
        "dependencies": {c.pop("name"): c for c in checks},
    }
