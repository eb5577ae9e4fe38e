"""make bench's table: every run beside the bare endpoint of the same run."""

from __future__ import annotations

from benchmarks.api import format_table, server_timing_steps


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
    assert table[2] == "| interact single_event_c16 | 1,500 | 3,000 | 0.50 | 12.5 | 4.0 | 0.5 | - |"
    assert len(table) == 5 and table[-1] == "cpus: 2"


def test_a_batch_row_shows_its_confirmed_events_per_second() -> None:
    results = {
        "interact": {
            "workers2_batch_100_c16": {
                "real": _run(120.0, 150.0),
                "bare": _run(1500.0, 20.0),
                "ratio_rps": 0.08,
                "confirmed_events_per_s": 12000,
            },
        },
    }
    row = format_table(results).splitlines()[2]
    assert row == (
        "| interact workers2_batch_100_c16 | 120 | 1,500 | 0.08 | 150.0 | 20.0 | 0.5 | 12,000 |"
    )


def test_server_timing_summaries_are_parsed_and_tabled_per_run() -> None:
    wrk_output = (
        "Requests/sec:   1793.72\n"
        "step validate: mean 2.23 p99 6.10 max 11.20\n"
        "step publish: mean 2.63 p99 14.20 max 22.70\n"
        "step seen: mean 1.59 p99 3.80 max 13.30\n"
    )
    steps = server_timing_steps(wrk_output)
    assert steps["publish"] == {"mean": 2.63, "p99": 14.2, "max": 22.7}
    assert sorted(steps) == ["publish", "seen", "validate"]
    assert server_timing_steps("Requests/sec: 5000\n") == {}

    results = {
        "interact": {
            "workers1_paced": {
                "real": {**_run(500.0, 7.3), "server_timing_ms": steps},
                "bare": _run(520.0, 2.0),
                "ratio_rps": 0.96,
            },
        },
    }
    table = format_table(results).splitlines()
    assert table[-1] == "| interact workers1_paced | 2.2 / 6.1 | 2.6 / 14.2 | 1.6 / 3.8 |"
    assert table[-3] == "| run | validate | publish | seen |"


def test_the_disk_and_the_broker_alone_are_lines_under_the_table() -> None:
    results = {
        "disk_during_paced_interact": {
            "workers1": {"syncs": 160, "p50_ms": 0.45, "p99_ms": 3.49, "max_ms": 101.4},
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
        "The disk during the paced /interact run, workers1 (4 KB write + fsync, "
        "160 times beside it): "
        "p50 0.5 ms, p99 3.5 ms, slowest 101.4 ms"
    )
    assert table[-3] == (
        "RabbitMQ alone, paced like the paced runs (50 senders, persistent, mandatory, "
        "each waiting for its confirm): 480 msg/s, p50 3.2 ms, p99 9.9 ms; "
        "slowest disk sync meanwhile 4.0 ms"
    )
    assert table[-1] == "cpus: 2"
