"""Benchmark of the two API functions: ``make bench``.

On the real Redis and RabbitMQ of this machine, with ``wrk`` as the load
generator (C, so it leaves the CPU to the server under test):

- POST /interact: single events at 16 and 64 connections, 100-event batches,
  and a paced run near 500 req/s for the tail latency (50 connections, each
  pausing a random 0-190 ms between requests: independent arrivals), with one
  and two uvicorn workers, and where the answers' time went (their
  Server-Timing: catalogue check, broker confirm, seen-set write);
- GET /recs at 16 and 64 connections and paced like /interact, with one and
  two uvicorn workers, and how many answers were degraded (Redis missed its
  deadline);
- each next to a bare FastAPI endpoint (benchmarks/bare.py) on the same server
  stack, in the same run, reported as a ratio: this machine is shared and
  noisy, so only ratios compare across runs;
- after each /interact run, the queue holds at least one message per event
  answered 200 (every one was confirmed before its 200); it is then purged;
- cold import time of each function module and the Mangum in-process latency.

Uses its own key prefix and queue and deletes them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks import queue_versions
from devtools.localrun import uvicorn_command
from recsys.adapters.broker import QUEUE_ARGUMENTS, Broker
from recsys.clients import Clients
from recsys.services import catalogue
from recsys.settings import Settings
from tests.lambda_context import LambdaContext
from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"

# wrk script: POST bodies with varying users and items (and batches of them).
POST_SCRIPT = """
local counter = 0
local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
local items = {}
for i = 1, 1682 do items[i] = tostring(i) end
local pace_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    counter = counter + 1
    local ids, actions = {}, {}
    for j = 1, batch do
        ids[j] = '"' .. items[((counter * 7 + j * 13) % 1682) + 1] .. '"'
        actions[j] = (j % 3 == 0) and '"dislike"' or '"like"'
    end
    local body = '{"user_id":"bench-' .. (counter % 5000) .. '","item_ids":[' ..
        table.concat(ids, ",") .. '],"actions":[' .. table.concat(actions, ",") .. ']}'
    return wrk.format(nil, "/interact", nil, body)
end
if pace_ms > 0 then
    -- A random pause, 0 to twice the mean: connections drift apart like
    -- independent users instead of sending in lockstep bursts.
    delay = function() return math.random(0, 2 * pace_ms) end
end

-- Where each answer's time went, from its Server-Timing header: every step's
-- duration is kept, and the summary printed at the end (the bare endpoint
-- sends none, so prints nothing).
local threads = {}
local steps = {"validate", "publish", "seen"}
function setup(thread)
    table.insert(threads, thread)
end
function init(args)
    for _, name in ipairs(steps) do _G["step_" .. name] = {} end
end
response = function(status, headers, body)
    local timing = headers["Server-Timing"] or headers["server-timing"]
    if timing then
        for name, ms in string.gmatch(timing, "(%w+);dur=([%d.]+)") do
            local kept = _G["step_" .. name]
            if kept then kept[#kept + 1] = tonumber(ms) end
        end
    end
end
done = function(summary, latency, requests)
    for _, name in ipairs(steps) do
        local all = {}
        for _, thread in ipairs(threads) do
            for _, ms in ipairs(thread:get("step_" .. name)) do all[#all + 1] = ms end
        end
        if #all > 0 then
            table.sort(all)
            local sum = 0
            for _, ms in ipairs(all) do sum = sum + ms end
            io.write(string.format("step %s: mean %.2f p99 %.2f max %.2f\\n", name,
                sum / #all, all[math.floor(#all * 0.99) + 1], all[#all]))
        end
    end
end
"""

# Counts degraded answers (Redis missed its deadline, e.g. on a saturated
# machine): they are cheaper than real ones, so the figure says how many.
GET_SCRIPT = """
local threads = {}
function setup(thread)
    table.insert(threads, thread)
end
function init(args)
    degraded = 0
end
local counter = 0
local pace_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
request = function()
    counter = counter + 1
    return wrk.format("GET", "/recs/user-" .. (counter % 100) .. "?n=12")
end
if pace_ms > 0 then
    -- A random pause, 0 to twice the mean: connections drift apart like
    -- independent users instead of sending in lockstep bursts.
    delay = function() return math.random(0, 2 * pace_ms) end
end
response = function(status, headers, body)
    if string.find(body, '"degraded":true', 1, true) then degraded = degraded + 1 end
end
done = function(summary, latency, requests)
    local total = 0
    for _, thread in ipairs(threads) do total = total + thread:get("degraded") end
    io.write(string.format("degraded answers: %d\\n", total))
end
"""


def cold_import(module: str, repeats: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        for _ in range(repeats)
    ]
    return round(statistics.median(runs) * 1000, 1)


def rss_mb(pid: int) -> float:
    total = 0
    for child in [pid, *children(pid)]:
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a server and its worker processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthcheck").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


@contextmanager
def server(module: str, env: dict[str, str], workers: int = 1) -> Iterator[tuple[str, int]]:
    port = free_port()
    process = subprocess.Popen(
        uvicorn_command(
            module, "127.0.0.1", port, log_level="warning", workers=workers, access_log=False
        ),
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return round(float(number) * _UNITS[unit], 2)


def wrk(
    url: str,
    script: str,
    *,
    connections: int,
    duration_s: int,
    env: dict[str, str] | None = None,
    threads: int = 1,
    pid: int | None = None,
) -> dict[str, Any]:
    cpu_before = cpu_seconds(pid) if pid else 0.0
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        script_path = handle.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration_s}s",
                "--latency",
                "--timeout",
                "5s",
                "-s",
                script_path,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **(env or {})},
        ).stdout
    finally:
        os.unlink(script_path)
    latency = dict(re.findall(r"^\s*(50|75|90|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.M))
    if "99" not in latency:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    cpu_used = cpu_seconds(pid) - cpu_before if pid else 0.0
    degraded = re.search(r"degraded answers: (\d+)", out)
    steps = server_timing_steps(out)
    return {
        # Server CPU per answered request: steadier than req/s on a busy machine.
        "server_cpu_ms_per_request": round(cpu_used * 1000 / requests, 3) if pid else None,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": requests,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "none",
        "p50_ms": _ms(latency["50"]),
        "p90_ms": _ms(latency["90"]),
        "p99_ms": _ms(latency["99"]),
        "connections": connections,
        **({"degraded": int(degraded.group(1))} if degraded else {}),
        **({"server_timing_ms": steps} if steps else {}),
    }


def server_timing_steps(wrk_output: str) -> dict[str, dict[str, float]]:
    """The POST script's summary of the answers' Server-Timing: step -> mean, p99, max (ms)."""
    return {
        name: {"mean": float(mean), "p99": float(p99), "max": float(top)}
        for name, mean, p99, top in re.findall(
            r"^step (\w+): mean ([\d.]+) p99 ([\d.]+) max ([\d.]+)$", wrk_output, re.M
        )
    }


def broker_alone(
    url: str, queue: str, *, connections: int, delay_ms: float, duration_s: float
) -> dict[str, Any]:
    """The floor under the paced /interact tail: RabbitMQ alone, paced like wrk.

    ``connections`` senders on one aio-pika channel with publisher confirms,
    each publishing one persistent, mandatory message, waiting for its
    confirm, then pausing 0 to 2 x ``delay_ms`` at random (as the wrk
    script's ``delay``): the broker's own confirm latency (its disk sync
    included) in the same run, next to the endpoint's p99.
    """
    latencies = sorted(
        asyncio.run(
            queue_versions.confirm_latencies(
                url, QUEUE_ARGUMENTS, senders=connections, pause_ms=delay_ms,
                seconds=duration_s, queue=queue, keep_queue=True,
            )
        )
    )  # fmt: skip
    return {
        "messages_per_s": round(len(latencies) / duration_s),
        "p50_ms": round(latencies[len(latencies) // 2], 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 2),
        "connections": connections,
    }


def disk_sync(
    folder: str,
    *,
    per_s: float = 20,
    duration_s: float = 8,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """How long this machine's disk takes to make 4 KB durable (write + fsync).

    A persistent message is confirmed only after RabbitMQ synced it, so a
    disk stall (tens or hundreds of ms now and then on a shared VM) shows in
    every confirm waiting meanwhile.  Runs until ``duration_s`` or ``stop``.
    """
    latencies: list[float] = []
    with tempfile.NamedTemporaryFile(dir=folder) as handle:
        deadline = time.monotonic() + duration_s
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            handle.write(b"\0" * 4096)
            handle.flush()
            started = time.perf_counter()
            os.fsync(handle.fileno())
            latencies.append((time.perf_counter() - started) * 1000)
            if stop is not None:
                stop.wait(1 / per_s)
            else:
                time.sleep(1 / per_s)
    latencies.sort()
    return {
        "syncs": len(latencies),
        "p50_ms": round(latencies[len(latencies) // 2], 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 2),
        "max_ms": round(latencies[-1], 2),
    }


@contextmanager
def disk_watch(folder: str, per_s: float = 20) -> Iterator[dict[str, Any]]:
    """The disk's sync latency, sampled in a thread while the block runs.

    Light (20 small syncs a second), so it can run beside a measured run and
    say whether a bad tail there met a disk stall.
    """
    stats: dict[str, Any] = {}
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: stats.update(disk_sync(folder, per_s=per_s, duration_s=3600, stop=stop)),
        daemon=True,
    )
    thread.start()
    try:
        yield stats
    finally:
        stop.set()
        thread.join()


def versus(real: dict[str, Any], bare: dict[str, Any], batch: int = 1) -> dict[str, Any]:
    row = {
        "real": real,
        "bare": bare,
        "ratio_rps": round(real["rps"] / bare["rps"], 3) if bare["rps"] else None,
    }
    if real["server_cpu_ms_per_request"] and bare["server_cpu_ms_per_request"]:
        row["ratio_cpu_per_request"] = round(
            real["server_cpu_ms_per_request"] / bare["server_cpu_ms_per_request"], 2
        )
    if batch > 1:
        # Only answered-200 requests count: a 503 carried no confirmed event.
        ok_share = (real["requests"] - real["non_2xx"]) / max(real["requests"], 1)
        row["confirmed_events_per_s"] = round(real["rps"] * ok_share * batch)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--duration", type=int, default=8, help="seconds per wrk run")
    # About 500 req/s: 50 connections, each pausing 95 ms on average (0 to 190 ms,
    # at random) between an answer and its next request.
    parser.add_argument("--pace-connections", type=int, default=50)
    parser.add_argument("--pace-delay-ms", type=int, default=95)
    parser.add_argument("--import-repeats", type=int, default=3)
    parser.add_argument("--mangum-requests", type=int, default=300)
    parser.add_argument(
        "--write-figures",
        action="store_true",
        help="also write docs/figures/bench.{md,json} and the README's quote of it",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run scripts/setup_system.sh (make system)")

    run_id = uuid.uuid4().hex[:8]
    settings = Settings(
        key_prefix=f"bench:{run_id}:", queue_name=f"bench.{run_id}", exploration_rate=0.1
    )
    clients = Clients(settings)
    env = dict(
        os.environ, RECSYS_KEY_PREFIX=settings.key_prefix, RECSYS_QUEUE_NAME=settings.queue_name
    )
    d = args.duration
    pace_env = {"BENCH_DELAY_MS": str(args.pace_delay_ms)}
    results: dict[str, Any] = {"wrk_seconds_per_run": d, "cpus": os.cpu_count()}
    try:
        results["catalogue_items"] = catalogue.load_movielens(clients.cache, settings.data_dir)
        ids = clients.cache.all_item_ids()
        clients.cache.set_popular(ids[:200])
        clients.cache.set_personal({f"user-{u}": ids[u : u + 100] for u in range(100)})
        clients.cache.set_neighbours({i: ids[:20] for i in ids[:50]})
        clients.cache.record_interactions(
            [(f"user-{u}", ids[u], "like") for u in range(100)], keep_likes=50
        )
        results["cold_import_ms"] = {
            m: cold_import(m, args.import_repeats)
            for m in ("functions.interact.app", "functions.recs.app")
        }

        interact: dict[str, Any] = {}
        # Each run's messages are counted and purged after it, so every run
        # starts on an empty queue, as in service, where the popularity job
        # drains it (otherwise the paced run met 100,000+ earlier messages).
        ok_events = queued = 0
        disk_during_paced: dict[str, Any] = {}
        # One worker is one Lambda instance's share; two use both cores of a
        # 2-core box, as `uvicorn --workers 2` (WEB_CONCURRENCY=2) would there.
        for workers in (1, 2):
            name = f"workers{workers}"
            with server("benchmarks.bare", env, workers) as (bare_url, bare_pid):
                bare = {
                    c: wrk(bare_url, POST_SCRIPT, connections=c, duration_s=d, pid=bare_pid)
                    for c in (16, 64)
                }
                bare_batch = wrk(
                    bare_url, POST_SCRIPT, connections=16, duration_s=d,
                    env={"BENCH_BATCH": "100"}, pid=bare_pid,
                )  # fmt: skip
                bare_paced = wrk(
                    bare_url, POST_SCRIPT, connections=args.pace_connections, duration_s=d,
                    env=pace_env, pid=bare_pid,
                )  # fmt: skip
            with server("functions.interact.app", env, workers) as (url, pid):
                for c in (16, 64):
                    real = wrk(url, POST_SCRIPT, connections=c, duration_s=d, pid=pid)
                    ok_events += real["requests"] - real["non_2xx"]
                    queued += clients.broker.purge()
                    interact[f"{name}_single_event_c{c}"] = versus(real, bare[c])
                batch = wrk(
                    url, POST_SCRIPT, connections=16, duration_s=d, env={"BENCH_BATCH": "100"},
                    pid=pid,
                )  # fmt: skip
                ok_events += 100 * (batch["requests"] - batch["non_2xx"])
                queued += clients.broker.purge()
                interact[f"{name}_batch_100_c16"] = versus(batch, bare_batch, batch=100)
                with disk_watch(tempfile.gettempdir()) as disk:
                    paced = wrk(
                        url, POST_SCRIPT, connections=args.pace_connections, duration_s=d,
                        env=pace_env, pid=pid,
                    )  # fmt: skip
                disk_during_paced[name] = disk
                ok_events += paced["requests"] - paced["non_2xx"]
                queued += clients.broker.purge()
                interact[f"{name}_paced"] = versus(paced, bare_paced)
                results[f"rss_mb_interact_{name}"] = rss_mb(pid)
        results["disk_during_paced_interact"] = disk_during_paced
        # Its own queue: the check below counts only the endpoint's messages.
        floor_queue = f"{settings.queue_name}.broker-alone"
        try:
            with disk_watch(tempfile.gettempdir()) as disk_during_floor:
                results["broker_alone_paced"] = broker_alone(
                    settings.rabbitmq_url, floor_queue, connections=args.pace_connections,
                    delay_ms=args.pace_delay_ms, duration_s=d,
                )  # fmt: skip
            results["broker_alone_paced"]["disk_max_ms"] = disk_during_floor["max_ms"]
        finally:
            Broker(settings.rabbitmq_url, floor_queue).delete_queue()
        # wrk counts only completed responses; requests cut at the end of a run
        # may be confirmed and queued without being counted, so queued >= ok.
        interact["confirmed_check"] = {
            "events_answered_200": ok_events,
            "persistent_messages_queued": queued,
            "ok": queued >= ok_events,
        }
        results["interact"] = interact

        recs: dict[str, Any] = {}
        for workers in (1, 2):
            with server("benchmarks.bare", env, workers) as (bare_url, bare_pid):
                bare = {
                    c: wrk(bare_url, GET_SCRIPT, connections=c, duration_s=d, pid=bare_pid)
                    for c in (16, 64)
                }
                bare_paced = wrk(
                    bare_url, GET_SCRIPT, connections=args.pace_connections, duration_s=d,
                    env=pace_env, pid=bare_pid,
                )  # fmt: skip
            with server("functions.recs.app", env, workers) as (url, pid):
                for c in (16, 64):
                    real = wrk(url, GET_SCRIPT, connections=c, duration_s=d, pid=pid)
                    recs[f"workers{workers}_c{c}"] = versus(real, bare[c])
                # The tail at a steady rate near 500 req/s, not at saturation.
                paced = wrk(
                    url, GET_SCRIPT, connections=args.pace_connections, duration_s=d,
                    env=pace_env, pid=pid,
                )  # fmt: skip
                recs[f"workers{workers}_paced"] = versus(paced, bare_paced)
                results[f"rss_mb_recs_workers{workers}"] = rss_mb(pid)
        results["recs"] = recs

        os.environ.update(env)
        from functions.recs.app import handler as recs_handler

        logging.getLogger("mangum").setLevel(logging.WARNING)  # one line per request otherwise
        event = json.loads((EVENTS / "function_url_get_recs.json").read_text())
        samples = []
        for _ in range(args.mangum_requests):
            started = time.perf_counter()
            recs_handler(event, LambdaContext())
            samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        results["mangum_recs_in_process_ms"] = {
            "p50": round(samples[len(samples) // 2], 2),
            "p99": round(samples[int(len(samples) * 0.99)], 2),
        }
    finally:
        clients.cache.delete_all()
        clients.broker.delete_queue()
        clients.close()
    print(json.dumps(results, indent=2))
    table = format_table(results)
    print(table)
    if args.write_figures:
        from devtools import figures

        figures.publish(
            "bench",
            command="make bench",
            body=f"{table}\n",
            data={"results": results},
        )


def _comparisons(results: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every (name, {real, bare, ratio_rps}) entry of the results, in order."""
    found: list[tuple[str, dict[str, Any]]] = []
    for key, value in results.items():
        if isinstance(value, dict):
            name = f"{path} {key}".strip()
            if "ratio_rps" in value:
                found.append((name, value))
            else:
                found.extend(_comparisons(value, name))
    return found


def format_table(results: dict[str, Any]) -> str:
    """Each run next to the bare endpoint of the same run, as a ratio."""
    lines = [
        "| run | req/s | bare req/s | ratio | p99 ms | bare p99 ms | server CPU ms/req "
        "| confirmed events/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    steps: list[str] = []
    for name, row in _comparisons(results):
        real, bare = row["real"], row["bare"]
        events = row.get("confirmed_events_per_s")
        lines.append(
            f"| {name} | {real['rps']:,.0f} | {bare['rps']:,.0f} | {row['ratio_rps']:.2f} "
            f"| {real['p99_ms']:.1f} | {bare['p99_ms']:.1f} "
            f"| {real.get('server_cpu_ms_per_request', '-')} "
            f"| {f'{events:,}' if events is not None else '-'} |"
        )
        timing = real.get("server_timing_ms")
        if timing:
            cells = " | ".join(
                f"{timing[step]['mean']:.1f} / {timing[step]['p99']:.1f}" if step in timing else "-"
                for step in ("validate", "publish", "seen")
            )
            steps.append(f"| {name} | {cells} |")
    if steps:
        lines += [
            "",
            "Where the /interact answers' time went, from their `Server-Timing` "
            "(ms, mean / p99): the catalogue check (Redis), the broker's confirm, "
            "the seen-set write (Redis):",
            "",
            "| run | validate | publish | seen |",
            "|---|---:|---:|---:|",
            *steps,
        ]
    for workers, disk in sorted(results.get("disk_during_paced_interact", {}).items()):
        lines += [
            "",
            f"The disk during the paced /interact run, {workers} (4 KB write + fsync, "
            f"{disk['syncs']:,} times beside it): p50 {disk['p50_ms']:.1f} ms, "
            f"p99 {disk['p99_ms']:.1f} ms, slowest {disk['max_ms']:.1f} ms",
        ]
    floor = results.get("broker_alone_paced")
    if floor:
        lines += [
            "",
            f"RabbitMQ alone, paced like the paced runs ({floor['connections']} senders, "
            "persistent, mandatory, each waiting for its confirm): "
            f"{floor['messages_per_s']:,} msg/s, p50 {floor['p50_ms']:.1f} ms, "
            f"p99 {floor['p99_ms']:.1f} ms; slowest disk sync meanwhile "
            f"{floor.get('disk_max_ms', float('nan')):.1f} ms",
        ]
    scalars = {k: v for k, v in results.items() if not isinstance(v, dict)}
    if scalars:
        lines += ["", ", ".join(f"{k}: {v}" for k, v in scalars.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
