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


def test_the_disk_and_the_broker_alone_are_lines_under_the_table() -> None:
    results = {
        "disk_during_paced_interact": {
            "syncs": 160,
            "p50_ms": 0.45,
            "p99_ms": 3.49,
            "max_ms": 101.4,
        },
        "broker_alone_paced": {
            "messages_per_s": 480,
            "p50_ms": 3.21,
            "p99_ms": 9.87,
            "connections": 50,
            "disk_max_ms": 4.04,
        },
        "cpus": 2,
    }
    table = format_table(results).splitlines()
    assert table[-5] == (
        "The disk during the paced /interact run (4 KB write + fsync, 160 times beside it): "
        "p50 0.5 ms, p99 3.5 ms, slowest 101.4 ms"
    )
    assert table[-3] == (
        "RabbitMQ alone, paced like the paced runs (50 senders, persistent, mandatory, "
        "each waiting for its confirm): 480 msg/s, p50 3.2 ms, p99 9.9 ms; "
        "slowest disk sync meanwhile 4.0 ms"
    )
    assert table[-1] == "cpus: 2"
