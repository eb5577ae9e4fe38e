"""make bench-scale on a tiny log: each job measured in its own process, everything cleaned up."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import redis

from benchmarks import scale
from recsys.settings import Settings


def test_a_tiny_run_measures_each_job_and_leaves_nothing_behind(
    tmp_path: Path, run_id: str
) -> None:
    said: list[str] = []
    runs = scale.measure_size(
        2_000,
        seed=1,
        train_env={"RECSYS_TRAIN_TRIALS": "1", "RECSYS_TRAIN_TIMEOUT_S": "20"},
        max_rss_mb=4096,
        timeout_s=240,
        say=said.append,
        jobs=("popularity (first run)", "train"),
        run_id=run_id,
    )
    assert [r.job for r in runs] == ["popularity (first run)", "train"]
    popularity, train = runs
    for run in runs:
        assert run.exit_code == 0, run.outcome
        assert 1_900 <= run.size <= 2_100
        assert run.seconds > 0 and 30 < run.peak_rss_mb < 4096
        assert run.log_mb > 0
    # The job's own report comes back: the queued batch was drained into the log.
    assert popularity.detail["drained"] == Settings(_env_file=None).drain_batch_size
    # The popular list, stats, and the running aggregates: a votes hash per user (20 here).
    assert popularity.redis_keys > 20 and popularity.redis_mb > 0
    assert "item2vec_tuned" in train.detail["metrics"]

    assert any("generated" in line and "compacted" in line for line in said)

    # Nothing is left: no key under the run's prefix, no folder.
    settings = Settings(_env_file=None)
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    assert not list(client.scan_iter(match=f"bench-scale:{run_id}:*", count=1000))
    assert not list(Path(tempfile.gettempdir()).glob(f"bench-scale-{run_id}-*"))

    out = tmp_path / "report"
    text = scale.write_report(
        out, [scale.asdict(r) for r in runs], {"host_cpus": 2, "date": "d", "load_average": "0"}
    )
    assert "| popularity (first run) |" in text and (out / "bench-scale.png").stat().st_size > 0
    assert json.loads((out / "bench-scale.json").read_text())["runs"][0]["job"] == runs[0].job
