"""make bench's table: every run beside the bare endpoint of the same run."""

from __future__ import annotations

from benchmarks.api import format_table


def _run(rps: float, p99: float) -> dict[str, float]:
    return {"rps": rps, "p99_ms": p99, "server_cpu_ms_per_request": 0.5}


def test_each_comparison_is_one_row_with_its_ratio_and_scalars_follow() -> None:
    results = {
        "cpus": 2,
        "interact": {
            "single_event_c16": {
                "real": _run(1500.0, 12.5),
                "bare": _run(3000.0, 4.0),
                "ratio_rps": 0.5,
            },
            "confirmed_check": {"ok": True},
        },
    }
    table = format_table(results).splitlines()
    assert table[2] == "| interact single_event_c16 | 1,500 | 3,000 | 0.50 | 12.5 | 4.0 | 0.5 |"
    assert len(table) == 5 and table[-1] == "cpus: 2"
