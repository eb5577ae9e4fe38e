"""Scale benchmark: ``make bench-scale`` (``python -m benchmarks.scale``).

For each log size (default 100k and 1M events; ``--sizes 10000000`` for 10M),
on the real Redis and RabbitMQ of this machine:

1. generate a MovieLens-shaped synthetic log (benchmarks/scale_data.py) into a
   fresh event-log folder through ``EventLog.append``, so it is written in
   whatever format the log uses, compact it (one part per date, as the
   popularity job's compactions leave a log; the bulk write spreads each
   chunk over hundreds of dates), and load its catalogue into Redis;
2. run each job's Lambda handler in its own process, as the scheduler would:
   - ``popularity (first run)``: one drain batch on the queue and no state
     from an earlier run, so the job folds the whole log in (a rebuild);
   - ``popularity (next run)``: one more batch: the cost of a steady run;
   - ``train``: the default budget (or ``--trials``/``--timeout``);
3. record for each: wall time, peak RSS (the child's own ``VmHWM``),
   the log and artifact bytes on disk, and the Redis memory of what the job
   publishes (``MEMORY USAGE`` over its keys, under a unique prefix).

Everything (keys, queue, folders) is deleted afterwards.  Results are merged
by size into ``--out``/bench-scale.json, and the table (markdown) and the
growth curve (PNG) are regenerated from all sizes measured so far.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.scale_data import LogShape, generate, items_for
from devtools import figures
from recsys.clients import Clients
from recsys.domain.events import Action, Event
from recsys.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (100_000, 1_000_000)
DEFAULT_OUT = ROOT / "docs" / "figures"
# Events per generated part: a compacted log holds few large parts.
PART_EVENTS = 50_000
# What each job publishes or keeps in Redis (ServingCache key kinds); "pop"
# is the popularity job's running aggregates, per-user votes included.
POPULARITY_KEYS = ("popular", "stats", "pop")
TRAIN_KEYS = ("personal", "neighbours", "model")
ALL_JOBS = ("popularity (first run)", "popularity (next run)", "train")
JOBS = {
    "popularity": "functions.popularity.app",
    "train": "functions.train.app",
}


@dataclass
class JobRun:
    size: int
    job: str
    seconds: float
    peak_rss_mb: float
    exit_code: int
    outcome: str
    log_mb: float = 0.0
    artifacts_mb: float = 0.0
    redis_keys: int = 0
    redis_mb: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


def run_job(job: str, env: dict[str, str], *, max_rss_mb: float, timeout_s: float) -> JobRun:
    """One job handler in a child process; its own wall time and peak RSS.

    A watchdog kills the child if its RSS passes ``max_rss_mb`` (the machine is
    shared) or it runs past ``timeout_s``; the run is then recorded as such.
    """
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.scale", "_child", job],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed: list[str] = []
    output: dict[str, str] = {}
    # The child's own high-water mark, polled: rusage's ru_maxrss would not do,
    # as Linux carries the parent's peak RSS over the fork and exec into it.
    peak_mb = 0.0
    readers = [
        threading.Thread(target=lambda: output.__setitem__("out", child.stdout.read()))  # type: ignore[union-attr]
    ]
    readers.append(
        threading.Thread(target=lambda: output.__setitem__("err", child.stderr.read()))  # type: ignore[union-attr]
    )
    for reader in readers:
        reader.start()
    while True:
        pid, status, _ = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        rss = _rss_mb(child.pid)
        peak_mb = max(peak_mb, _rss_mb(child.pid, "VmHWM"))
        if not killed and rss > max_rss_mb:
            killed.append(f"killed: RSS {rss:.0f} MB over the {max_rss_mb:.0f} MB cap")
            child.kill()
        elif not killed and time.monotonic() - started > timeout_s:
            killed.append(f"killed: still running after {timeout_s:.0f}s")
            child.kill()
        time.sleep(0.2)
    seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    result = _last_json(output.get("out", ""))
    # The child's last word on its peak is exact; the polled one is for a killed child.
    peak_mb = float(result.pop("peak_rss_mb", peak_mb))
    if killed:
        outcome = killed[0]
    elif child.returncode != 0:
        tail = output.get("err", "").strip().splitlines()[-1:] or ["no output"]
        outcome = f"failed ({child.returncode}): {tail[0][:200]}"
    else:
        outcome = _outcome(job, result)
    return JobRun(
        size=0,
        job=job,
        seconds=round(seconds, 2),
        peak_rss_mb=round(peak_mb, 1),
        exit_code=child.returncode,
        outcome=outcome,
        detail=result,
    )


def _rss_mb(pid: int | str, field: str = "VmRSS") -> float:
    """A memory figure of /proc/<pid>/status in MB: VmRSS now, VmHWM the peak."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _last_json(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _outcome(job: str, result: dict[str, Any]) -> str:
    if job == "train":
        return str(result.get("reason", "?"))[:160]
    keys = ("drained", "events_in_log", "skipped", "reason")
    return ", ".join(f"{k} {result[k]}" for k in keys if k in result) or "ok"


def _child(job: str) -> int:
    """Run one handler with settings from the environment; print its result as JSON."""
    import importlib

    from tests.lambda_context import LambdaContext

    module = importlib.import_module(JOBS[job])
    # A long Lambda timeout: the popularity job drains until the queue is idle.
    result = module.handler({"source": "bench-scale"}, LambdaContext(timeout_s=900.0))
    result["peak_rss_mb"] = _rss_mb("self", "VmHWM")
    print(json.dumps(result, default=str), flush=True)
    return 0


def folder_mb(path: Path) -> float:
    if not path.exists():
        return 0.0
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 3)


def new_batch(size: int, n: int, rng: random.Random) -> list[Event]:
    """One drain batch of fresh events from the log's users, on its items."""
    shape = LogShape.for_events(size)
    return [
        Event.new(
            f"s{rng.randrange(shape.n_users)}",
            str(rng.randrange(shape.n_items) + 1),
            Action.LIKE if rng.random() < 0.75 else Action.DISLIKE,
            source="bench-scale",
        )
        for _ in range(n)
    ]


def measure_size(
    size: int,
    *,
    seed: int,
    train_env: dict[str, str],
    max_rss_mb: float,
    timeout_s: float,
    say: Callable[[str], None],
    jobs: tuple[str, ...] = ALL_JOBS,
    run_id: str | None = None,
) -> list[JobRun]:
    run_id = run_id or uuid.uuid4().hex[:10]
    root = Path(tempfile.mkdtemp(prefix=f"bench-scale-{run_id}-"))
    env = {
        **os.environ,
        "RECSYS_KEY_PREFIX": f"bench-scale:{run_id}:",
        "RECSYS_QUEUE_NAME": f"bench-scale.{run_id}",
        "RECSYS_EVENT_LOG_URI": str(root / "events"),
        "RECSYS_ARTIFACT_URI": str(root / "artifacts"),
        "RECSYS_DATA_DIR": str(root / "data"),
        "PYTHONPATH": str(ROOT),
        **train_env,
    }
    settings = Settings(
        _env_file=None,
        key_prefix=env["RECSYS_KEY_PREFIX"],
        queue_name=env["RECSYS_QUEUE_NAME"],
        event_log_uri=env["RECSYS_EVENT_LOG_URI"],
        artifact_uri=env["RECSYS_ARTIFACT_URI"],
    )
    clients = Clients(settings)
    runs: list[JobRun] = []
    try:
        started = time.monotonic()
        written = 0
        part: list[Event] = []
        for chunk in generate(size, seed=seed):
            part.extend(chunk)
            if len(part) >= PART_EVENTS:
                clients.event_log.append(part)
                written += len(part)
                part = []
        clients.event_log.append(part)
        written += len(part)
        generated_s = time.monotonic() - started
        bulk_parts = len(clients.event_log.part_keys())
        started = time.monotonic()
        clients.event_log.compact()
        compacted_s = time.monotonic() - started
        clients.cache.add_items(items_for(size, seed=seed).catalogue())
        log_mb = folder_mb(root / "events")
        say(
            f"{size:,} events: generated {written:,} in {generated_s:.0f}s; compacted "
            f"{bulk_parts:,} bulk-written parts into {len(clients.event_log.part_keys()):,} "
            f"in {compacted_s:.0f}s ({log_mb:.1f} MB of log)"
        )
        rng = random.Random(seed)
        for label in jobs:
            job = label.split()[0]
            if job == "popularity":
                clients.broker.publish(new_batch(size, settings.drain_batch_size, rng))
                # Idle through a long job, the connection would miss its heartbeats.
                clients.broker.close()
            say(f"  {label} ...")
            run = run_job(job, env, max_rss_mb=max_rss_mb, timeout_s=timeout_s)
            run.size, run.job = written, label
            run.log_mb = folder_mb(root / "events")
            run.artifacts_mb = folder_mb(root / "artifacts")
            keys = POPULARITY_KEYS if job == "popularity" else TRAIN_KEYS
            usage = clients.cache.memory_usage(*keys)
            run.redis_keys = sum(n for n, _ in usage.values())
            run.redis_mb = round(sum(b for _, b in usage.values()) / 2**20, 3)
            say(
                f"  {label}: {run.seconds:.1f}s, peak RSS {run.peak_rss_mb:.0f} MB, "
                f"Redis {run.redis_mb:.1f} MB in {run.redis_keys} keys; {run.outcome}"
            )
            runs.append(run)
    finally:
        clients.cache.delete_all()
        try:
            clients.broker.close()  # a fresh connection for the delete
            clients.broker.delete_queue()
        finally:
            clients.close()
            shutil.rmtree(root, ignore_errors=True)
    return runs


# --- report -------------------------------------------------------------------------
def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| events | job | wall s | in-job s | peak RSS MB | log MB | artifacts MB "
        "| Redis MB (keys) | outcome |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in sorted(runs, key=lambda r: (r["size"], r["job"])):
        lines.append(
            f"| {r['size']:,} | {r['job']} | {r['seconds']:.1f} | {_in_job(r)} "
            f"| {r['peak_rss_mb']:.0f} | {r['log_mb']:.1f} | {r['artifacts_mb']:.1f} "
            f"| {r['redis_mb']:.3f} ({r['redis_keys']:,}) | {r['outcome']} |"
        )
    return "\n".join(lines)


def _in_job(run: dict[str, Any]) -> str:
    """The job's own measure of its run (no interpreter start or imports), if it reports one."""
    seconds = run.get("detail", {}).get("seconds")
    return f"{float(seconds):.1f}" if isinstance(seconds, int | float) else "-"


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (time_axes, rss_axes) = plt.subplots(1, 2, figsize=(11, 4.2))
    for job in sorted({r["job"] for r in runs}):
        points = sorted((r["size"], r) for r in runs if r["job"] == job and r["exit_code"] == 0)
        if not points:
            continue
        sizes = [size for size, _ in points]
        time_axes.plot(sizes, [r["seconds"] for _, r in points], "o-", label=job)
        rss_axes.plot(sizes, [r["peak_rss_mb"] / 1024 for _, r in points], "o-", label=job)
        if len(points) > 1:
            # The "linear growth" reference from the smallest size: RSS must stay at or under it.
            first_size, first = points[0]
            rss_axes.plot(
                sizes,
                [first["peak_rss_mb"] / 1024 * s / first_size for s in sizes],
                ":",
                color=rss_axes.lines[-1].get_color(),
                alpha=0.5,
            )
    for axes, label in ((time_axes, "wall time, s"), (rss_axes, "peak RSS, GB (dotted: linear)")):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("events in the log")
        axes.set_ylabel(label)
        axes.grid(True, which="both", alpha=0.3)
    time_axes.axhline(60, color="grey", linestyle="--", linewidth=0.8)
    time_axes.axhline(900, color="red", linestyle="--", linewidth=0.8)
    time_axes.text(time_axes.get_xlim()[0], 900, " Lambda 15 min", va="bottom", fontsize=8)
    rss_axes.axhline(10, color="red", linestyle="--", linewidth=0.8)
    rss_axes.text(rss_axes.get_xlim()[0], 10, " Lambda 10 GB", va="bottom", fontsize=8)
    time_axes.legend(fontsize=8)
    figure.suptitle("recsys jobs: growth with the event log (make bench-scale)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_report(out: Path, runs: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-scale.json").write_text(
        json.dumps({"machine": machine, "runs": runs}, indent=2) + "\n"
    )
    text = (
        "# make bench-scale\n\n"
        f"Generated by `python -m benchmarks.scale` on {machine['host_cpus']} CPUs, "
        f"{machine['date']}; load average {machine['load_average']} at the start "
        "(the machine is shared: compare rows of one run, not across runs).  "
        f"Train budget: {_budget(machine)}.\n\n"
        "![growth curve](bench-scale.png)\n\n"
        # What docs/scale.md quotes (devtools/figures.py): the table alone.
        f"<!-- body -->\n{table(runs)}\n"
    )
    (out / "bench-scale.md").write_text(text)
    plot(runs, out / "bench-scale.png")
    return table(runs)


def _budget(machine: dict[str, Any]) -> str:
    overrides = machine.get("train_env") or {}
    if not overrides:
        return "the default (RECSYS_TRAIN_TRIALS, RECSYS_TRAIN_TIMEOUT_S unset)"
    return ", ".join(f"{name}={value}" for name, value in sorted(overrides.items()))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_child"]:
        return _child(argv[1])
    parser = argparse.ArgumentParser(description="Jobs' time, memory and output at growing logs.")
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in DEFAULT_SIZES),
        help="comma-separated event counts (10000000 for the opt-in 10M run)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--fresh", action="store_true", help="drop earlier sizes from the report")
    parser.add_argument("--trials", type=int, help="RECSYS_TRAIN_TRIALS (default: settings)")
    parser.add_argument("--timeout", type=float, help="RECSYS_TRAIN_TIMEOUT_S (default: settings)")
    parser.add_argument("--max-rss-gb", type=float, default=12.0, help="kill a job past this")
    parser.add_argument("--job-timeout", type=float, default=3600.0, help="kill a job past this")
    parser.add_argument(
        "--jobs",
        default=",".join(ALL_JOBS),
        help=f"comma-separated subset of: {', '.join(ALL_JOBS)}",
    )
    args = parser.parse_args(argv)

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    train_env: dict[str, str] = {}
    if args.trials is not None:
        train_env["RECSYS_TRAIN_TRIALS"] = str(args.trials)
    if args.timeout is not None:
        train_env["RECSYS_TRAIN_TIMEOUT_S"] = str(args.timeout)
    machine = {
        "host_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "train_env": train_env,
    }
    previous: list[dict[str, Any]] = []
    report = args.out / "bench-scale.json"
    if report.exists() and not args.fresh:
        previous = json.loads(report.read_text()).get("runs", [])
    runs: list[dict[str, Any]] = []
    kept = [r for r in previous if not any(_same_size(r["size"], s) for s in sizes)]
    text = table(kept)
    for size in sizes:
        measured = measure_size(
            size,
            seed=args.seed,
            train_env=train_env,
            max_rss_mb=args.max_rss_gb * 1024,
            timeout_s=args.job_timeout,
            say=lambda message: print(message, flush=True),
            jobs=tuple(job.strip() for job in args.jobs.split(",") if job.strip() in ALL_JOBS),
        )
        runs.extend(asdict(run) for run in measured)
        # After every size: a long run stopped later still leaves its finished sizes.
        text = write_report(args.out, kept + runs, machine)
    print()
    print(text)
    print(f"\nwritten: {args.out}/bench-scale.md, .json, .png")
    if args.out.resolve() == figures.FIGURES_DIR.resolve():
        # The pages that quote the table (docs/scale.md) follow the new file.
        for page in figures.QUOTING_PAGES:
            if figures.refresh_quotes(page):
                print(f"refreshed its quote in {page.relative_to(figures.ROOT)}")
    return 0


def _same_size(written: int, asked: int) -> bool:
    # The log holds about the asked number of events (re-rates are drawn at random).
    return abs(written - asked) <= 0.05 * asked


if __name__ == "__main__":
    sys.exit(main())
