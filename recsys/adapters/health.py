"""Dependency checks for GET /healthcheck: each answers fast, none raises.

A failed check reports plain words ("did not answer in time", "not
reachable"); the technical reason (hosts, exception types) goes to the log only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

AsyncProbe = Callable[[], Awaitable[Any]]


def _plain_error(name: str, exc: BaseException) -> str:
    log.warning("health probe %s failed: %r", name, exc)
    cause = exc.__cause__ or exc  # the serving cache wraps redis-py's error
    if isinstance(cause, TimeoutError) or "timeout" in type(cause).__name__.lower():
        return "did not answer in time"
    return "not reachable or not ready"


def check(name: str, probe: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # any failure of a dependency is a report, not a crash
        return {"name": name, "ok": False, "error": _plain_error(name, exc)}
    return _ok(name, started, detail)


def _ok(name: str, started: float, detail: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": name,
        "ok": True,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    if isinstance(detail, dict):
        result.update(detail)
    return result


def in_thread(probe: Callable[[], Any]) -> AsyncProbe:
    """A blocking probe, run in a thread so it cannot stall the event loop."""

    async def run() -> Any:
        return await asyncio.to_thread(probe)

    return run


async def check_async(name: str, probe: AsyncProbe, timeout_s: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(probe(), timeout_s)
    except Exception as exc:  # any failure of a dependency is a report, not a crash
        return {"name": name, "ok": False, "error": _plain_error(name, exc)}
    return _ok(name, started, detail)


async def check_all(probes: Mapping[str, AsyncProbe], *, timeout_s: float) -> list[dict[str, Any]]:
    """Run every probe at once, each under the deadline."""
    return list(
        await asyncio.gather(
            *(check_async(name, probe, timeout_s) for name, probe in probes.items())
        )
    )


def report(checks: list[dict[str, Any]]) -> tuple[bool, dict[str, Any]]:
    healthy = all(c["ok"] for c in checks)
    return healthy, {
        "status": "ok" if healthy else "degraded",
        "dependencies": {c.pop("name"): c for c in checks},
    }
